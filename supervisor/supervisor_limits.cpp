// memory_max where no cgroup holds a child's memory: the supervisor looks
// at each such instance's process group once a second (one pass over
// /proc for them all), and ends one over its limit as a failure, with the
// reason, as PM2's max_memory_restart does (every 30 s there).
#include <sys/wait.h>

#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <vector>

#include "log.hpp"
#include "process.hpp"
#include "supervisor.hpp"

namespace seq::sup {

namespace {

constexpr std::uint64_t watch_every_ms = 1000;

// "200 MiB", or "200.5 MiB" where the MiB are not whole.
std::string mib(std::uint64_t bytes) {
    char out[32];
    if (bytes % (1 << 20) == 0) std::snprintf(out, sizeof out, "%" PRIu64 " MiB", bytes >> 20);
    else std::snprintf(out, sizeof out, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    return out;
}

}  // namespace

std::string Supervisor::killed_by_kernel(const Instance& i, int status) {
    // Its own death, by the kernel's SIGKILL, with a kill counted since it
    // started: not a helper of its killed hours ago.
    if (!i.memory_held || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL ||
        Cgroups::oom_kills(i.cgroup) <= i.oom_kills)
        return "";
    return "killed by the kernel: out of memory (memory_max " + mib(*spec_of(i).memory_max) + ")";
}

void Supervisor::watch_memory() {
    if (finished_ || uv_is_active(reinterpret_cast<uv_handle_t*>(memory_watch_.get()))) return;
    uv_timer_start(memory_watch_.get(), [](uv_timer_t* t) {
        if (auto* s = uv::owner<Supervisor>(t)) s->check_memory();
    }, watch_every_ms, watch_every_ms);
}

void Supervisor::check_memory() {
    std::vector<Instance*> watched;
    for (auto& [pid, i] : by_pid_)
        if (spec_of(*i).memory_max && !i->memory_held) watched.push_back(i);
    if (watched.empty()) {
        uv_timer_stop(memory_watch_.get());
        return;
    }
    const auto usage = usage_.read();
    for (auto* i : watched) {
        auto it = usage.find(i->pid);
        const auto limit = *spec_of(*i).memory_max;
        if (it == usage.end() || it->second.rss_bytes <= limit || !i->ended_for.empty()) continue;
        // Set before the event, for the line its stop logs; taken back if
        // the table lets it be (it is on its way out already).
        auto before = i->phase;
        i->ended_for = "memory limit: " + mib(it->second.rss_bytes) + " > " + mib(limit);
        i->ended_by = "memory_limit";
        apply(*i, lifecycle::Event::over_limit);
        if (i->phase == before) i->ended_for.clear(), i->ended_by = {};
    }
}

}  // namespace seq::sup
