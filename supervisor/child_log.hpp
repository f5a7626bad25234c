// What a child wrote lately, and how it ended lately: kept in memory by its
// supervisor for `seqctl logs` and `seqctl why`, bounded whatever the child
// writes (a flood only pushes the oldest lines out).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ready_times.hpp"

namespace seq::sup {

// Which of a child's outputs a line came by.
enum class Stream : unsigned char { out, err };

struct LogLine {
    std::uint64_t wall_ms = 0;  // since the epoch
    pid_t pid = 0;
    Stream stream = Stream::out;
    std::string text;
};

// The last lines of one child, across its restarts: at most max_lines, and
// at most max_bytes of text, whichever bound is met first.
class RecentLines {
public:
    static constexpr std::size_t max_lines = 1000;
    static constexpr std::size_t max_bytes = 256 << 10;

    void add(std::uint64_t wall_ms, pid_t pid, Stream stream, std::string_view text);
    // The last `n` (fewer if fewer were kept), oldest first.
    std::vector<LogLine> last(std::size_t n) const;
    // The same, of one process only.
    std::vector<LogLine> last_of(pid_t pid, std::size_t n) const;
    const LogLine& newest() const { return lines_.back(); }  // after an add()
    const LogLine& at(std::size_t i) const { return lines_[i]; }  // 0: the oldest kept
    std::size_t size() const { return lines_.size(); }
    std::size_t bytes() const { return bytes_; }

private:
    std::deque<LogLine> lines_;
    std::size_t bytes_ = 0;
};

// One end of a child's process: when, which, why, after how long, and the
// lines it wrote just before.
struct Death {
    std::uint64_t wall_ms = 0;
    pid_t pid = 0;
    std::string why;  // "exit status 1", "killed by SIGKILL, having never become ready", ...
    std::uint64_t uptime_ms = 0;
    std::vector<LogLine> last_lines;
    std::string reason;  // what it is counted under: lifecycle::death_reason
};

// The last `keep` deaths of a child, newest first, and how many there
// have been of each reason, all told.
class Deaths {
public:
    static constexpr std::size_t keep = 10;
    static constexpr std::size_t lines_each = 20;

    void add(Death d);
    const std::deque<Death>& newest_first() const { return deaths_; }
    const Death& newest() const { return deaths_.front(); }  // after an add()
    const std::map<std::string, std::uint64_t, std::less<>>& by_reason() const { return by_reason_; }

private:
    std::deque<Death> deaths_;
    std::map<std::string, std::uint64_t, std::less<>> by_reason_;
};

// What a supervisor keeps of a child below a nested supervisor of its own,
// as that one sends it up: each line, each death.
struct KeptBelow {
    RecentLines recent;
    Deaths deaths;
    ReadyTimes ready_times;
    std::uint64_t last_ms = 0;  // of its latest line or death (the oldest go first past a bound)
};

// "2026-12-06T14:31:19.812Z": RFC 3339, UTC, with milliseconds.
std::string rfc3339(std::uint64_t wall_ms);
// Now, in ms since the epoch.
std::uint64_t wall_now_ms();
// "2026-12-06T14:31:19.812Z out web#2[4242] text": a line as `seqctl logs`
// prints it ("err" for one the child wrote on its stderr).
std::string format_line(const LogLine& l, std::string_view path);

}  // namespace seq::sup
