// What each process group on the machine uses, read from /proc: the sum of
// its live processes' resident memory and CPU time. Each instance of ours
// leads a group of its own, so this is what a child uses, its descendants
// included.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "fd.hpp"

namespace seq::sup {

// The sum of the resident memory of a group's live processes, and of their
// CPU time (with that of their children they reaped).
struct Usage {
    std::uint64_t rss_bytes = 0;
    std::uint64_t cpu_ms = 0;
};

// Reads every process's /proc/PID/stat once a call. The stat files of the
// supervisor's own descendants are kept open between calls and read again
// from their start: a scrape every second of a tree of 1,000 children then
// costs a read each, not an open, a path walk, a read and a close (half the
// time). A kept file names its process, not its pid: once that process is
// gone it reads nothing, and a new process given the same pid is opened
// afresh. Any other process's file is closed as soon as it is read. At most
// `max_kept` are kept, so that the children's own fds (pidfds, log pipes)
// are not short for them; the files of processes that ended since are let
// go at the next call.
class ProcessUsage {
public:
    explicit ProcessUsage(std::size_t max_kept);
    // Every process group's, by its number.
    std::unordered_map<pid_t, Usage> read();
    std::size_t kept() const { return kept_.size(); }

private:
    std::size_t max_kept_;
    Fd proc_;  // /proc, which each stat file is opened under
    std::unordered_map<pid_t, Fd> kept_;
};

// An eighth of the fds we may open: every child takes a pidfd and its log
// pipes from the rest.
std::size_t kept_stat_files_bound();

}  // namespace seq::sup
