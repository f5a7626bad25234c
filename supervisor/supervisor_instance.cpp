// An instance's life: every event of a process (its notify fd, its timers,
// a stop or an activation asked for) goes through apply(), which asks
// lifecycle::decide what it means in the instance's phase and carries out
// the action; enter() is the one place a phase changes, and drops what the
// new phase does not use. Deaths are reaped in supervisor.cpp.
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "log.hpp"
#include "notify_socket.hpp"
#include "supervisor.hpp"

namespace seq::sup {

using lifecycle::Action;
using lifecycle::Event;
using lifecycle::Phase;
using lifecycle::Role;

namespace {

template <class H>
H* with_owner(uv::Handle<H>& h, Instance* i) {
    h->data = i;
    return h.get();
}

}  // namespace

std::unique_ptr<Instance> Supervisor::make_instance(Child& c, Role role, const SpawnArgs& args, Spawned spawned,
                                                    Pipes ours) {
    auto i = std::make_unique<Instance>();
    i->child = &c;
    i->role = role;
    i->pid = spawned.pid;
    i->started_ms = loop_.now();
    i->generation = c.spec.generation;
    i->cgroup = args.cgroup;
    if (i->cgroup == unclaimed_cgroup_) unclaimed_cgroup_.clear();  // taken
    i->memory_held = spec_of(*i).memory_max && !i->cgroup.empty() && access((i->cgroup + "/memory.max").c_str(), F_OK) == 0;
    if (i->memory_held) i->oom_kills = Cgroups::oom_kills(i->cgroup);
    for (auto& e : args.env) {
        if (e.starts_with("SEQ_NAME=")) i->seq_name = e.substr(9);
        if (e.starts_with("SEQ_INSTANCE=")) i->seq_instance = e.substr(13);
    }
    i->notify = std::move(ours.notify);
    i->activate = std::move(ours.activate);
    i->exec.emplace(loop_.get(), std::move(spawned.exec_status), args.program.empty() ? args.argv[0] : args.program,
                    args.cwd);
    // A pool's standby speaks for the pool: which instance it will be is not known yet.
    // Its lines are kept by the child it serves at the time (a pool's
    // standby is lent to whichever instance died).
    const auto& who = role == Role::standby || role == Role::migration ? c.pool_path() : c.path;
    auto file = c.spec.log.file.empty() ? nullptr : log_files_.get(c.spec.log.file, c.spec.log.max_size, c.spec.log.keep);
    c.log_file = file;
    auto reader = [&](Fd fd, Stream stream) {
        ChildOutput::Sinks sinks{stream, c.spec.log.to_stderr, file, [in = i.get(), stream](std::uint64_t wall_ms, std::string_view line) {
                                     // A pool's standby, before it is lent, and a migration
                                     // serve no one instance: their lines are not kept in
                                     // memory (the log and the file have them).
                                     if (in->role != Role::standby && in->role != Role::migration)
                                         in->child->owner->heard(*in->child, wall_ms, in->pid, stream, line);
                                 }};
        return std::make_unique<ChildOutput>(loop_.get(), std::move(fd), who, i->pid, std::move(sinks));
    };
    if (ours.output) i->output = reader(std::move(ours.output), Stream::out);
    if (ours.errors) i->errors = reader(std::move(ours.errors), Stream::err);
    if (!spawned.pidfd) pidfds_ = false;
    if (spawned.pidfd) {
        i->pidfd = std::move(spawned.pidfd);
        i->pid_poll = uv::make_poll(loop_.get(), i->pidfd.get());
        uv_poll_start(with_owner(i->pid_poll, i.get()), UV_READABLE, [](uv_poll_t* h, int, int) {
            if (auto* in = uv::owner<Instance>(h)) in->child->owner->reap_instance(*in);
        });
    }
    i->timer = uv::make_timer(loop_.get());
    i->timer->data = i.get();
    i->watchdog = uv::make_timer(loop_.get());
    i->watchdog->data = i.get();
    by_pid_[i->pid] = i.get();
    ++generation_;
    touch(c);
    if (spec_of(*i).memory_max && !i->memory_held) watch_memory();
    return i;
}

void Supervisor::enter(Instance& i, Phase p) {
    i.phase = p;
    ++generation_;
    touch(*i.child);
    // Its notify fd is read only while it starts; an idle standby keeps the
    // fd, on which its ready newline comes once it is activated.
    if (p != Phase::starting && i.notify_poll) uv_poll_stop(i.notify_poll.get());
    if (p != Phase::starting && p != Phase::idle) {
        i.notify_poll.close();
        i.notify.reset();
    }
    // Its activation fd, only while it may still be activated: closed, it
    // tells a standby to go.
    if (i.role != Role::standby || (p != Phase::starting && p != Phase::idle)) i.activate.reset();
    uv_timer_stop(i.timer.get());
    if (p != Phase::running) uv_timer_stop(i.watchdog.get());
    const auto& spec = spec_of(i);
    // Its health probe: while it serves, and while it starts if passing the
    // probe is how it says it is ready.
    const bool probe_wanted = spec.health && (i.role == Role::active || i.role == Role::successor) &&
                        (p == Phase::running || (p == Phase::starting && spec.readiness == Readiness::health));
    if (!probe_wanted) {
        i.probe.reset();
    } else if (!i.probe) {
        HealthProbe::Tools tools{&side_, [this]() -> HttpChecks& { return http_checks(); }};
        i.probe = std::make_unique<HealthProbe>(loop_.get(), *spec.health, spec.cwd, std::move(tools), p == Phase::running,
                                                [this, in = &i](const std::optional<std::string>& failure,
                                                                unsigned in_row, unsigned failures) {
                                                    probed(*in, failure, in_row, failures);
                                                });
    } else if (p == Phase::running) {
        i.probe->serving();
    }
    switch (p) {
    case Phase::starting:
        if (i.notify) {
            if (!i.notify_poll) i.notify_poll = uv::make_poll(loop_.get(), i.notify.get());
            uv_poll_start(with_owner(i.notify_poll, &i), UV_READABLE, [](uv_poll_t* h, int, int) {
                if (auto* in = uv::owner<Instance>(h)) in->child->owner->on_notify(*in);
            });
        }
        uv_timer_start(i.timer.get(), [](uv_timer_t* t) {
            if (auto* in = uv::owner<Instance>(t)) in->child->owner->apply(*in, Event::start_timeout);
        }, spec.start_timeout_ms,
                       0);
        break;
    case Phase::running:
        i.ready_ms = loop_.now();
        arm_watchdog(i);
        // A dynamic child's first start is done: whoever added it hears so.
        // (The exec is over when the spawn returns, a vfork's: one that
        // failed is told at the death that follows.)
        if (i.role == Role::active && i.child->on_started && !(i.exec && i.exec->failure()))
            std::exchange(i.child->on_started, nullptr)(std::nullopt);
        break;
    case Phase::stopping:
        // brutal_kill has no grace; infinity waits for ever.
        if (spec.shutdown_ms && *spec.shutdown_ms > 0)
            uv_timer_start(i.timer.get(), [](uv_timer_t* t) {
            if (auto* in = uv::owner<Instance>(t)) in->child->owner->apply(*in, Event::grace_timeout);
        }, *spec.shutdown_ms,
                           0);
        break;
    case Phase::hung:
        uv_timer_start(i.timer.get(), [](uv_timer_t* t) {
            if (auto* in = uv::owner<Instance>(t)) in->child->owner->apply(*in, Event::grace_timeout);
        },
                       spec.shutdown_ms.value_or(5000), 0);
        break;
    case Phase::idle:
    case Phase::unready: break;
    }
}

void Supervisor::apply(Instance& i, Event e) {
    auto d = lifecycle::decide(i.role, i.phase, e);
    auto& c = *i.child;
    const char* path = c.path.c_str();
    const bool standby = i.role == Role::standby;
    switch (d.action) {
    case Action::none:
    case Action::reap:  // reap() carries out a death itself
        return;
    case Action::serve:
        enter(i, d.next);
        log("%s ready (pid %d) in %llu ms", path, i.pid, static_cast<unsigned long long>(loop_.now() - i.started_ms));
        emit("ready", c.path, i.pid, "", "", static_cast<std::int64_t>(loop_.now() - i.started_ms));
        c.ready_times.add(loop_.now() - i.started_ms);
        return step();
    case Action::stand_by:
        enter(i, d.next);
        // A pool's standby is the pool's, whichever instance it will replace.
        log("%s: standby ready (pid %d)", c.pool_path().c_str(), i.pid);
        return step();  // a handover waits for it
    case Action::kill_unready:
        enter(i, d.next);
        if (standby)
            log("%s: standby (pid %d) not idle after %llu ms; killing it", path, i.pid,
                static_cast<unsigned long long>(spec_of(i).start_timeout_ms));
        else if (i.role == Role::migration)
            log("%s: migration (pid %d) not done after %llu ms; killing it", c.pool_path().c_str(), i.pid,
                static_cast<unsigned long long>(spec_of(i).start_timeout_ms));
        else
            log("%s (pid %d) not ready after %llu ms; killing it", path, i.pid,
                static_cast<unsigned long long>(spec_of(i).start_timeout_ms));
        return signal_group(i, SIGKILL);
    case Action::abort_hung:
        // A hung child is a crashed child: SIGABRT (a core where cores are
        // on), then SIGKILL after its shutdown time; its death is a crash.
        enter(i, d.next);
        log("%s (pid %d) watchdog timeout: no WATCHDOG=1 for %llu ms; sending SIGABRT", path, i.pid,
            static_cast<unsigned long long>(spec_of(i).watchdog_ms));
        signal_group(i, SIGABRT);
        return signal_group(i, SIGCONT);  // a stopped child takes its SIGABRT now, not when someone continues it
    case Action::rearm_watchdog: return arm_watchdog(i);
    case Action::terminate:
        enter(i, d.next);
        return signal_group(i, stop_signal(spec_of(i)));
    case Action::end_unhealthy:
        enter(i, d.next);
        log("%s (pid %d) %s; stopping it", path, i.pid, i.ended_for.c_str());
        emit("unhealthy", c.path, i.pid, "health", i.ended_for);
        return signal_group(i, stop_signal(spec_of(i)));
    case Action::end_over_limit:
        enter(i, d.next);
        log("%s (pid %d) over its limit, %s; stopping it", path, i.pid, i.ended_for.c_str());
        return signal_group(i, stop_signal(spec_of(i)));
    case Action::kill:
        if (i.phase == Phase::hung && i.ended_for.empty())
            log("%s (pid %d) still running after SIGABRT; sending SIGKILL", path, i.pid);
        else
            log("%s (pid %d) still running %llu ms after SIGTERM; sending SIGKILL", path, i.pid,
                static_cast<unsigned long long>(spec_of(i).shutdown_ms.value_or(i.phase == Phase::hung ? 5000 : 0)));
        return signal_group(i, SIGKILL);
    case Action::take_over: return take_over(i);
    case Action::succeed: return succeed(i);
    case Action::refuse_standby:
        c.standby_refused = true;
        log("%s: its standby (pid %d) did not say \"standby\" on $SEQ_NOTIFY_FD: the program does not implement "
            "the standby protocol; stopping it, and starting no standby for %s again",
            path, i.pid, c.spec.name.c_str());
        enter(i, d.next);
        return signal_group(i, stop_signal(spec_of(i)));
    }
}

// An idle standby becomes the active instance, starting: it has its
// sockets now, and says it serves with a newline on the same notify fd.
void Supervisor::take_over(Instance& standby) {
    auto& c = *standby.child;
    c.active = std::move(c.standby);
    auto& i = *c.active;
    i.role = Role::active;
    i.started_ms = loop_.now();
    counted_start(c);
    c.last_cause = std::exchange(c.next_cause, Cause::strategy);
    if (c.goal == Goal::restart) want(c, Goal::run);
    enter(i, Phase::starting);
}

// s6's rule for the active instance: ready at the first newline, whatever
// comes before it, in as many writes as it likes. A standby's first line
// must be "standby". The pipe's end without either says nothing: its death,
// or its start timeout, decides.
void Supervisor::on_notify(Instance& i) {
    char buf[64];
    for (;;) {
        ssize_t n = ::read(i.notify.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;  // more to come
        if (n <= 0) {
            i.notify_poll.close();
            i.notify.reset();
            return;
        }
        std::string_view got(buf, static_cast<std::size_t>(n));
        if (i.role == Role::standby) return apply(i, got.starts_with("standby\n") ? Event::said_standby : Event::said_other);
        if (got.find('\n') != std::string_view::npos) return apply(i, Event::ready);
    }
}

// A notification counts for the child that sent it, or one in its process
// group (a helper it ran, such as systemd-notify), and from nobody else.
void Supervisor::on_sd_notify(pid_t sender, std::string_view message) {
    auto it = by_pid_.find(sender);
    if (it == by_pid_.end()) it = by_pid_.find(live_process_group(sender));
    Instance* from = it != by_pid_.end() && (it->second->role == Role::active || it->second->role == Role::successor)
                         ? it->second
                         : nullptr;
    if (!from) {
        // At most a line a second, whoever floods the socket.
        if (loop_.now() >= ignored_log_ms_ + 1000) {
            ignored_log_ms_ = loop_.now();
            log("ignored a notification from pid %d: not a child of this supervisor", static_cast<int>(sender));
        }
        return;
    }
    const auto& spec = spec_of(*from);
    if (spec.readiness == Readiness::sd_notify && says_ready(message)) apply(*from, Event::ready);
    if (spec.watchdog_ms > 0) {
        if (says(message, "WATCHDOG=trigger")) apply(*from, Event::watchdog_timeout);  // it asks to be treated as hung
        else if (says(message, "WATCHDOG=1")) apply(*from, Event::watchdog_ping);
    }
}

// Counted from when the child is running (ready): its start has its own
// timeout. Each WATCHDOG=1 moves the deadline on.
void Supervisor::arm_watchdog(Instance& i) {
    const auto ms = spec_of(i).watchdog_ms;
    if (ms == 0) return;
    uv_timer_start(i.watchdog.get(), [](uv_timer_t* t) {
        if (auto* in = uv::owner<Instance>(t)) in->child->owner->apply(*in, Event::watchdog_timeout);
    },
                   ms, 0);
}

// What a stop begins with: SIGTERM, or SIGKILL for brutal_kill (which has
// no grace after it, so a SIGTERM ignored would be waited on for ever).
int Supervisor::stop_signal(const ChildSpec& spec) { return spec.shutdown_ms == 0u ? SIGKILL : SIGTERM; }

// The process and every process of its group: what it started goes with it.
void Supervisor::signal_group(const Instance& i, int sig) {
    if (i.pid > 0 && kill(-i.pid, sig) < 0) kill(i.pid, sig);
    // Its end: all it started, in a session of its own or not.
    if (sig == SIGKILL && !i.cgroup.empty()) Cgroups::kill(i.cgroup);
}

}  // namespace seq::sup

namespace seq::sup {

HttpChecks& Supervisor::http_checks() {
    if (!http_checks_) http_checks_ = std::make_unique<HttpChecks>(loop_.get());
    return *http_checks_;
}

void Supervisor::probed(Instance& i, const std::optional<std::string>& failure, unsigned in_row, unsigned failures) {
    if (i.phase == Phase::starting) {
        if (!failure) apply(i, Event::ready);  // readiness = "health": its first pass
        return;
    }
    if (!failure) return;
    log("%s (pid %d) health check failed (%u of %u in a row): %s", i.child->path.c_str(), i.pid, in_row, failures,
        failure->c_str());
    if (in_row < failures || !i.ended_for.empty()) return;
    // Set before the event, for the line its stop logs and its death;
    // taken back if the table lets it be.
    i.ended_for = "health check failed: " + *failure;
    i.ended_by = "health";
    apply(i, Event::unhealthy);
    if (i.phase != Phase::hung) i.ended_for.clear(), i.ended_by = {};
}

}  // namespace seq::sup
