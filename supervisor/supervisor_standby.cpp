// Standby instances: a child with `standby = true` has a second instance
// started behind it, exec'd and initialised but idle, without its sockets.
// When the child dies and the strategy starts it again, that start is an
// activation (the sockets handed over on the standby fd) instead of a fork
// and an exec; a new standby follows once the tree has settled again. The
// protocol is in common/standby.hpp and sequence-protocol(7).
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
    c.standby_not_before_ms = loop_.now() + ms;
    uv_timer_start(c.standby_wait.get(), [](uv_timer_t* t) {
        if (auto* child = uv::owner<Child>(t)) {
            child->owner->touch(*child);
            child->owner->step();
        }
    }, ms, 0);
}

void Supervisor::spawn_standby(Child& c) {
    Pipes ours;
    std::optional<Spawned> spawned;
    SpawnArgs args;
    try {
        std::vector<Fd> keep;  // the child's ends: closed once it has them, or the spawn failed
        args = spawn_args(c, keep, ours, true);
        spawned = sup::spawn(args, &slots_);
    } catch (const std::exception& e) {
        // Out of fds is a likely cause: give back what this attempt took
        // before anything else runs.
        ours = {};
        log("%s: cannot start a standby: %s; trying again in %llu ms", c.path.c_str(), e.what(),
            static_cast<unsigned long long>(standby_retry_ms));
        defer_standby(c, standby_retry_ms);
        return;
    }
    c.standby = make_instance(c, lifecycle::Role::standby, args, std::move(*spawned), std::move(ours));
    enter(*c.standby, lifecycle::Phase::starting);
}

void Supervisor::activate_standby(Child& c) {
    auto& sb = *c.standby;
    std::vector<std::pair<std::string, int>> sockets;
    for (auto& s : c.spec.sockets) sockets.emplace_back(s.name, env_.sockets.at(s.name));
    standby::activate(sb.activate.get(), sockets);  // throws: then the caller spawns instead
    apply(sb, lifecycle::Event::activate);
    log("%s: activated its standby (pid %d)", c.path.c_str(), c.active->pid);
    emit("started", c.path, c.active->pid, c.spawns > 1 ? std::string(to_string(c.last_cause)) : "",
         "standby activated");
    defer_standby(c, standby_after_activation_ms);
}

void Supervisor::borrow_standby(Child& c) {
    if (c.spec.pool.empty() || !c.spec.standby || c.standby) return;
    auto all = members(c.spec.pool);
    if (all.empty() || all.front() == &c) return;
    auto& keeper = *all.front();
    if (!keeper.standby || keeper.standby->phase != lifecycle::Phase::idle) return;
    c.standby = std::move(keeper.standby);
    c.standby->child = &c;
    // The keeper's next one, once the activated instance has had its CPU.
    defer_standby(keeper, standby_after_activation_ms);
}

void Supervisor::on_standby_death(Child& c, int status) {
    const bool refused = c.standby_refused;
    auto ended = retire(std::move(c.standby), status);
    touch(c);
    // A handover's new version that did not stand by ends the rollout.
    std::string how = refused ? "does not follow the standby protocol (" + ended.how + ")"
                      : ended.phase == lifecycle::Phase::unready ? "was not idle within " + seconds(c.spec.start_timeout_ms)
                                                                 : "ended (" + ended.how + ") before it took over";
    if ((ended.phase != lifecycle::Phase::stopping || refused) && handover_failed(c, ended.generation, how)) {
        log("%s: standby (pid %d) %s", c.path.c_str(), ended.pid, how.c_str());
        return step();
    }
    if (ended.phase == lifecycle::Phase::stopping) {
        log("%s: standby (pid %d) stopped: %s", c.path.c_str(), ended.pid, ended.how.c_str());
    } else {
        log("%s: standby (pid %d) %s %s; another in %llu ms", c.path.c_str(), ended.pid, ended.how.c_str(),
            ended.phase == lifecycle::Phase::idle ? "while idle" : "before it was idle",
            static_cast<unsigned long long>(standby_retry_ms));
        defer_standby(c, standby_retry_ms);
    }
    step();
}

bool Supervisor::stop_standby(Child& c, const char* why) {
    if (!c.standby) return false;
    if (c.standby->phase != lifecycle::Phase::stopping) {
        if (why) log("%s: stopping its standby (pid %d): %s", c.path.c_str(), c.standby->pid, why);
        apply(*c.standby, lifecycle::Event::stop);
    }
    return true;
}

}  // namespace seq::sup
