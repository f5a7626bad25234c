#include "process_usage.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <unordered_set>
#include <utility>

#include "process.hpp"

namespace seq::sup {

namespace {

std::optional<ProcStat> stat_of(const Fd& fd) {
    if (!fd) return std::nullopt;
    // From its start each time: /proc makes the line afresh for a read at 0.
    char line[2048];
    ssize_t n;
    do n = ::pread(fd.get(), line, sizeof line, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return std::nullopt;
    return parse_proc_stat({line, static_cast<std::size_t>(n)});
}

}  // namespace

std::size_t kept_stat_files_bound() {
    rlimit l{};
    if (getrlimit(RLIMIT_NOFILE, &l) < 0 || l.rlim_cur == RLIM_INFINITY) return 0;
    return static_cast<std::size_t>(l.rlim_cur / 8);
}

ProcessUsage::ProcessUsage(std::size_t max_kept)
    : max_kept_(max_kept), proc_(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {}

std::unordered_map<pid_t, Usage> ProcessUsage::read() {
    static const long page = sysconf(_SC_PAGESIZE);
    static const long ticks = sysconf(_SC_CLK_TCK);
    std::unordered_map<pid_t, Usage> out;
    // Ours: this process, and the descendants kept or taken so far. /proc
    // lists pids in ascending order, so a parent mostly comes before its
    // children; one that came after is taken at the next reading. No file
    // of a process not known to be ours is held past its read: a machine
    // of more processes than we have fds free must not leave ours unread.
    std::unordered_set<pid_t> ours{getpid()};
    for (auto& [pid, fd] : kept_) ours.insert(pid);
    std::unordered_map<pid_t, Fd> still;  // the kept that still read, and the ours taken
    for (pid_t pid : all_pids()) {
        Fd fd;
        std::optional<ProcStat> s;
        bool was_kept = false;
        if (auto it = kept_.find(pid); it != kept_.end()) {
            fd = std::move(it->second);
            s = stat_of(fd);
            was_kept = s.has_value();
        }
        if (!s) {
            // Not kept, or its process is gone and the pid is another's.
            char name[24];
            auto [end, ec] = std::to_chars(name, name + sizeof name - 6, pid);
            if (ec != std::errc()) continue;
            std::memcpy(end, "/stat", 6);
            fd = Fd(::openat(proc_.get(), name, O_RDONLY | O_CLOEXEC));
            s = stat_of(fd);
        }
        if (!s || s->state == 'Z' || s->state == 'X') continue;
        auto& u = out[s->pgrp];
        u.rss_bytes += static_cast<std::uint64_t>(std::max(s->rss_pages, 0LL)) * static_cast<std::uint64_t>(page);
        u.cpu_ms += s->cpu_ticks * 1000 / static_cast<unsigned long long>(ticks > 0 ? ticks : 100);
        if (was_kept || (still.size() < max_kept_ && ours.count(s->ppid))) {
            ours.insert(pid);
            still.emplace(pid, std::move(fd));
        }
    }
    kept_ = std::move(still);  // those whose pid is gone close here
    return out;
}

}  // namespace seq::sup
