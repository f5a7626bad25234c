#include "side_jobs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <cstring>

#include "process.hpp"

namespace seq::sup {

std::string SideJobEnd::describe(std::uint64_t timeout_ms) const {
    if (exec_failed) return *exec_failed;
    if (timed_out) {
        auto s = std::to_string(timeout_ms / 1000) + (timeout_ms % 1000 ? "." + std::to_string(timeout_ms % 1000 / 100) : "");
        return "timed out after " + s + "s (killed)";
    }
    return describe_exit(status);
}

pid_t SideJobs::run(const SideJob& job, Done done) {
    SpawnArgs args;
    args.program = job.argv.at(0);
    args.argv = job.argv;
    args.cwd = job.cwd;
    args.env = job.env;
    Fd input;
    if (!job.input.empty()) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        input = Fd(p[0]);
        Fd write_end(p[1]);
        // All of it now, while nobody reads: it fits in the pipe, or the
        // job gets as much as fits (a reader sees a cut JSON, not a hang).
        fcntl(write_end.get(), F_SETFL, O_NONBLOCK);
        std::size_t at = 0;
        while (at < job.input.size()) {
            auto n = ::write(write_end.get(), job.input.data() + at, job.input.size() - at);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            at += static_cast<std::size_t>(n);
        }
        args.input_fd = input.get();
    }
    Spawned s = spawn(args);
    auto r = std::make_unique<Running>();
    r->owner = this;
    r->pid = s.pid;
    r->timeout_ms = job.timeout_ms;
    r->program = args.program;
    r->cwd = job.cwd;
    r->exec_status = std::move(s.exec_status);
    r->pidfd = std::move(s.pidfd);
    r->done = std::move(done);
    if (r->pidfd) {
        r->death = uv::make_poll(loop_, r->pidfd.get());
        r->death->data = r.get();
        uv_poll_start(r->death.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
            if (auto* job = uv::owner<Running>(h)) job->owner->reap(job->pid);
        });
    }
    r->deadline = uv::make_timer(loop_);
    r->deadline->data = r.get();
    uv_timer_start(r->deadline.get(), [](uv_timer_t* t) {
        if (auto* job = uv::owner<Running>(t)) {
            job->timed_out = true;
            kill(-job->pid, SIGKILL);
            kill(job->pid, SIGKILL);
        }
    }, job.timeout_ms, 0);
    const pid_t pid = s.pid;
    jobs_.emplace(pid, std::move(r));
    return pid;
}

void SideJobs::cancel(pid_t pid) {
    auto it = jobs_.find(pid);
    if (it == jobs_.end()) return;
    it->second->done = nullptr;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

bool SideJobs::reap(pid_t pid) {
    auto it = jobs_.find(pid);
    if (it == jobs_.end()) return false;
    // Still a zombie, so its group's number is not anyone else's: what it
    // started and left goes with it.
    kill(-pid, SIGKILL);
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) != pid) return false;
    auto job = std::move(it->second);
    jobs_.erase(it);
    SideJobEnd end;
    end.status = status;
    end.timed_out = job->timed_out;
    // Written before its exit, so in the pipe by now.
    end.exec_failed = read_exec_failure(job->exec_status.get(), job->program, job->cwd);
    if (job->done) job->done(end);
    return true;
}

void SideJobs::kill_and_reap_all() {
    // Not reaped yet, so each pid, and its group's number, is still ours.
    for (auto& [pid, job] : jobs_) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    for (auto& [pid, job] : jobs_)
        while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    jobs_.clear();
}

}  // namespace seq::sup
