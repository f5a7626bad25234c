#include "process_usage.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

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
    std::unordered_map<pid_t, pid_t> parent;  // every live process's, this pass
    std::unordered_map<pid_t, Fd> still;      // the kept that still read
    std::vector<std::pair<pid_t, Fd>> opened;  // to keep if they are ours
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
        parent.emplace(pid, s->ppid);
        if (was_kept) still.emplace(pid, std::move(fd));
        else opened.emplace_back(pid, std::move(fd));
    }
    kept_ = std::move(still);
    // Ours: a descendant of this process, as the parents read in this pass
    // have it. The walk is bounded: pids read at slightly different moments
    // could, reused, make a loop.
    constexpr int deepest = 1024;
    const pid_t self = getpid();
    auto ours = [&](pid_t pid) {
        for (int step = 0; step < deepest && pid > 1; ++step) {
            auto it = parent.find(pid);
            if (it == parent.end()) return false;
            pid = it->second;
            if (pid == self) return true;
        }
        return false;
    };
    for (auto& [pid, fd] : opened)
        if (kept_.size() < max_kept_ && ours(pid)) kept_.emplace(pid, std::move(fd));
    return out;
}

}  // namespace seq::sup
