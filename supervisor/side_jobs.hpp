// Commands a supervisor runs for itself, beside its children: event hooks
// and health checks by command. Each runs in a process group of its own,
// with a deadline at which the group is killed, and is reaped here: the
// supervisor's reaping hands these pids over (reap), and its look for
// orphans counts their groups as its own (owns). None outlives the
// supervisor: the destructor kills what is left.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fd.hpp"
#include "uv.hpp"

namespace seq::sup {

struct SideJob {
    std::vector<std::string> argv;  // argv[0]: the program, resolved
    std::string cwd;                // empty: the supervisor's
    std::vector<std::string> env;   // "NAME=value", over the supervisor's own
    // Its stdin, then its end of file; empty: /dev/null. At most what a
    // pipe holds (64 KiB): it is written before the job starts.
    std::string input;
    std::uint64_t timeout_ms = 10'000;
};

// How a job ended: its wait status, or that its deadline passed (and it
// was killed), or the exec it could not do.
struct SideJobEnd {
    int status = 0;
    bool timed_out = false;
    std::optional<std::string> exec_failed;
    // "exit 0", "exit 3", "killed by SIGSEGV", "timed out after 10s (killed)",
    // "cannot exec ./x: No such file or directory".
    std::string describe(std::uint64_t timeout_ms) const;
    bool ok() const { return !timed_out && !exec_failed && status == 0; }
};

class SideJobs {
public:
    using Done = std::function<void(const SideJobEnd&)>;
    explicit SideJobs(uv_loop_t* loop) : loop_(loop) {}
    SideJobs(const SideJobs&) = delete;
    SideJobs& operator=(const SideJobs&) = delete;
    ~SideJobs() { kill_and_reap_all(); }

    // Starts `job`; `done` is told how it ended, from the loop. Throws if
    // it cannot be started (a pipe, the fork).
    pid_t run(const SideJob& job, Done done);
    // It is killed, and `done` is not told: its owner is gone.
    void cancel(pid_t pid);
    bool owns(pid_t pid) const { return jobs_.count(pid) > 0; }
    // A job's pid that the supervisor's wait found dead: reaped here, its
    // `done` told. False if it is not dead yet after all.
    bool reap(pid_t pid);
    // Each job killed and waited for (at the end: none is told).
    void kill_and_reap_all();
    std::size_t running() const { return jobs_.size(); }

private:
    struct Running {
        SideJobs* owner = nullptr;
        pid_t pid = 0;
        std::uint64_t timeout_ms = 0;
        std::string program, cwd;
        Fd exec_status, pidfd;
        uv::Poll death;
        uv::Timer deadline;
        Done done;
        bool timed_out = false;
    };
    uv_loop_t* loop_;
    std::unordered_map<pid_t, std::unique_ptr<Running>> jobs_;
};

}  // namespace seq::sup
