#include "leftovers.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "fd.hpp"
#include "log.hpp"
#include "process.hpp"

namespace seq::sup {

namespace {

struct Leftover {
    pid_t pid;
    Fd pidfd;  // readable once it has died; what it names cannot be another process
    std::string name;
};

bool carries(pid_t pid, const std::string& marker, const Cgroups& cgroups) {
    if (cgroups.holds(pid)) return true;
    auto env = process_environ(pid);
    return env && env_value(*env, "SEQ_TREE") == marker;
}

// Our parent, its parent, and so on: a shell started from within the old
// tree may carry its marker, and is not what to stop.
std::set<pid_t> ancestors() {
    std::set<pid_t> up;
    for (pid_t pid = getppid(); pid > 1 && up.insert(pid).second;) {
        auto s = proc_stat(pid);
        if (!s) break;
        pid = s->ppid;
    }
    return up;
}

std::vector<Leftover> find(const std::string& marker, const Cgroups& cgroups) {
    std::vector<Leftover> found;
    const auto spare = ancestors();
    const pid_t self = getpid();
    for (pid_t pid : all_pids()) {
        if (pid == self || spare.count(pid)) continue;
        // A zombie is dead already: only its reaping is left, to its parent.
        if (!carries(pid, marker, cgroups) || live_process_group(pid) < 0) continue;
        // Looked at again once pinned: the pid may have been another's by now.
        Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
        if (!pidfd || !carries(pid, marker, cgroups)) continue;
        found.push_back({pid, std::move(pidfd), process_name(pid)});
    }
    return found;
}

bool send(const Leftover& l, int sig) {
    if (syscall(SYS_pidfd_send_signal, l.pidfd.get(), sig, nullptr, 0) == 0 || errno == ESRCH) return true;
    log("cannot send %s to pid %d (%s), left running by a supervisor that is gone: %s", strsignal(sig), l.pid,
        l.name.c_str(), std::strerror(errno));
    return false;
}

// Waits until each is dead or `deadline` passes; the dead are dropped.
void wait_for(std::vector<Leftover>& left, std::chrono::steady_clock::time_point deadline) {
    while (!left.empty()) {
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return;
        std::vector<pollfd> fds;
        for (auto& l : left) fds.push_back({l.pidfd.get(), POLLIN, 0});
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        if (poll(fds.data(), fds.size(), static_cast<int>(ms)) < 0 && errno != EINTR) return;
        std::size_t i = 0;
        std::erase_if(left, [&](const Leftover&) { return fds[i++].revents != 0; });
    }
}

}  // namespace

std::size_t stop_leftovers(const std::string& marker, std::chrono::milliseconds grace, const Cgroups& cgroups) {
    auto left = find(marker, cgroups);
    const auto count = left.size();
    if (left.empty()) return 0;
    for (auto& l : left) log("stopping pid %d (%s), left running by a supervisor of this run dir that is gone", l.pid, l.name.c_str());
    std::erase_if(left, [](const Leftover& l) { return !send(l, SIGTERM); });
    wait_for(left, std::chrono::steady_clock::now() + grace);
    for (auto& l : left) {
        log("killing pid %d (%s): still running %lld ms after SIGTERM", l.pid, l.name.c_str(),
            static_cast<long long>(grace.count()));
        send(l, SIGKILL);
    }
    wait_for(left, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    for (auto& l : left) log("pid %d (%s) is still there 5 s after SIGKILL", l.pid, l.name.c_str());
    return count;
}

}  // namespace seq::sup
