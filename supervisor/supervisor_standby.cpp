// Standby instances: a child with `standby = true` has a second instance
// started behind it, exec'd and initialised but idle, without its sockets.
// When the child dies and the strategy starts it again, that start is an
// activation (the sockets handed over on the standby fd) instead of a fork
// and an exec; a new standby follows once the tree has settled again. The
// protocol is in common/standby.hpp and the README.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log.hpp"
#include "standby.hpp"
#include "supervisor.hpp"

namespace seq::sup {

namespace {
// After a standby died unasked, or took too long: the next one waits this
// long, so a program that cannot stand by costs a start a second, not a loop.
constexpr std::uint64_t standby_retry_ms = 1000;
// After an activation, the next standby waits this long: its fork and exec
// would take a CPU from the instance just activated, while that one answers
// the clients that piled up during the restart.
constexpr std::uint64_t standby_after_activation_ms = 20;
}  // namespace

// No standby for `c` before `ms` from now; then a step, which starts one if
// the child still runs and wants it.
void Supervisor::defer_standby(Child& c, std::uint64_t ms) {
    auto& sb = c.standby;
    if (!sb.timer) {
        sb.timer = uv::make_timer(loop_.get());
        sb.timer->data = &c;
    }
    sb.not_before_ms = loop_.now() + ms;
    uv_timer_start(sb.timer.get(), [](uv_timer_t* t) {
        if (auto* child = uv::owner<Child>(t)) child->owner->step();
    }, ms, 0);
}

void Supervisor::spawn_standby(Child& c) {
    auto& sb = c.standby;
    Pipes ours;
    try {
        std::vector<Fd> keep;  // the child's ends: closed once it has them, or the spawn failed
        auto args = spawn_args(c, keep, ours, true);
        auto spawned = sup::spawn(args);
        sb.pid = spawned.pid;
        sb.exec.emplace(loop_.get(), std::move(spawned.exec_status), args.program.empty() ? args.argv[0] : args.program,
                        args.cwd);
    } catch (const std::exception& e) {
        // Out of fds is a likely cause: give back what this attempt took
        // before anything else runs.
        ours = {};
        sb.activate.reset();
        log("%s: cannot start a standby: %s; trying again in %llu ms", c.path.c_str(), e.what(),
            static_cast<unsigned long long>(standby_retry_ms));
        defer_standby(c, standby_retry_ms);
        return;
    }
    ++generation_;
    sb.ready = false;
    sb.stopping = false;
    sb.notify = std::move(ours.notify);
    if (ours.output) sb.output = std::make_unique<ChildOutput>(loop_.get(), std::move(ours.output), c.path, sb.pid);
    if (!sb.timer) {
        sb.timer = uv::make_timer(loop_.get());
        sb.timer->data = &c;
    }
    sb.notify_poll = uv::make_poll(loop_.get(), sb.notify.get());
    sb.notify_poll->data = &c;
    uv_poll_start(sb.notify_poll.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
        if (auto* child = uv::owner<Child>(h)) child->owner->on_standby_notify(*child);
    });
    uv_timer_start(sb.timer.get(), [](uv_timer_t* t) {
        auto* child = uv::owner<Child>(t);
        if (!child || child->standby.pid == 0 || child->standby.ready) return;
        log("%s: standby (pid %d) not idle after %llu ms; killing it", child->path.c_str(), child->standby.pid,
            static_cast<unsigned long long>(child->spec.start_timeout_ms));
        kill(-child->standby.pid, SIGKILL);
    }, c.spec.start_timeout_ms, 0);
}

// Its first line must be "standby". A program that answers with a bare
// newline (ready to serve) does not know the protocol: it holds no socket, so
// it cannot serve, but it is stopped at once and no standby is tried again.
void Supervisor::on_standby_notify(Child& c) {
    auto& sb = c.standby;
    char buf[16];
    ssize_t n;
    do n = ::read(sb.notify.get(), buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;
    uv_poll_stop(sb.notify_poll.get());  // what follows (its serving newline) is read once it is activated
    std::string_view line(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    if (line.starts_with("standby\n")) {
        sb.ready = true;
        uv_timer_stop(sb.timer.get());
        ++generation_;
        log("%s: standby ready (pid %d)", c.path.c_str(), sb.pid);
        return;
    }
    // The end of the pipe and nothing said: it is ending (its exec failed, or
    // it crashed at start), or closed the fd. Its death, or its start
    // timeout, decides: as an unasked end, so the next try waits.
    if (n <= 0) return;
    sb.broken = true;
    log("%s: its standby (pid %d) did not say \"standby\" on $SEQ_NOTIFY_FD: the program does not implement the "
        "standby protocol; stopping it, and starting no standby for %s again",
        c.path.c_str(), sb.pid, c.spec.name.c_str());
    stop_standby(c, nullptr);
}

void Supervisor::activate_standby(Child& c) {
    auto& sb = c.standby;
    std::vector<std::pair<std::string, int>> sockets;
    for (auto& s : c.spec.sockets) sockets.emplace_back(s.name, env_.sockets.at(s.name));
    standby::activate(sb.activate.get(), sockets);  // throws: then the caller spawns instead
    uv_timer_stop(sb.timer.get());
    c.pid = sb.pid;
    ++c.spawns;
    ++generation_;
    c.output = std::move(sb.output);
    c.exec = std::move(sb.exec);
    c.notify = std::move(sb.notify);
    c.notify_poll = std::move(sb.notify_poll);
    sb.activate.reset();
    sb.pid = 0;
    sb.ready = false;
    c.started_ms = loop_.now();
    c.start_failed = false;
    c.watchdog_fired = false;
    c.must_stop = false;
    c.state = State::starting;
    log("%s: activated its standby (pid %d)", c.path.c_str(), c.pid);
    start_poll(c);
    defer_standby(c, standby_after_activation_ms);
}

void Supervisor::on_standby_death(Child& c, int status) {
    auto& sb = c.standby;
    auto pid = sb.pid;
    auto how = describe_exit(status);
    if (sb.exec)
        if (auto& failed = sb.exec->failure()) how = *failed;
    sb.exec.reset();
    if (sb.output) {
        sb.output->finish();
        sb.output.reset();
    }
    sb.notify_poll.close();
    sb.notify.reset();
    sb.activate.reset();
    if (sb.timer) uv_timer_stop(sb.timer.get());
    sb.pid = 0;
    bool asked = sb.stopping;
    bool was_idle = sb.ready;
    sb.ready = false;
    sb.stopping = false;
    ++generation_;
    if (asked) {
        log("%s: standby (pid %d) stopped: %s", c.path.c_str(), pid, how.c_str());
    } else {
        log("%s: standby (pid %d) %s %s; another in %llu ms", c.path.c_str(), pid, how.c_str(),
            was_idle ? "while idle" : "before it was idle", static_cast<unsigned long long>(standby_retry_ms));
        defer_standby(c, standby_retry_ms);
    }
    step();
}

bool Supervisor::stop_standby(Child& c, const char* why) {
    auto& sb = c.standby;
    if (sb.pid == 0) return false;
    if (!sb.stopping) {
        if (why) log("%s: stopping its standby (pid %d): %s", c.path.c_str(), sb.pid, why);
        sb.stopping = true;
        sb.ready = false;     // not to be activated on its way out
        sb.activate.reset();  // the end of its standby fd: stop
        kill(-sb.pid, SIGTERM);
        if (c.spec.shutdown_ms) {
            uv_timer_start(sb.timer.get(), [](uv_timer_t* t) {
                auto* child = uv::owner<Child>(t);
                if (child && child->standby.pid > 0) kill(-child->standby.pid, SIGKILL);
            }, *c.spec.shutdown_ms, 0);
        }
    }
    return true;
}

}  // namespace seq::sup
