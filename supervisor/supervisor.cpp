// The supervisor's core: the convergence loop (step), deaths and what the
// strategy makes of them, stopping, and finding children by path. Starting a
// child is in supervisor_start.cpp, reloading in supervisor_reload.cpp, and
// the state as a value in supervisor_status.cpp.
#include "supervisor.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <set>

#include "daemon.hpp"
#include "log.hpp"
#include "process.hpp"

namespace seq::sup {

Supervisor::Supervisor(uv::Loop& loop, SupervisorSpec spec, Environment env)
    : loop_(loop), options_(spec), env_(std::move(env)), log_files_(loop.get()), intensity_(spec.max_restarts, spec.max_seconds * 1000),
      sigchld_(uv::make_signal(loop.get())), sweep_(uv::make_timer(loop.get())),
      memory_watch_(uv::make_timer(loop.get())), side_(loop.get()) {
    options_.children.clear();
    if (env_.on_event) hooks_ = std::make_unique<EventHooks>(loop.get(), side_, *env_.on_event);
    if (!env_.stash_acl.empty())
        stash_users_.emplace(env_.stash_acl, env_.path, env_.stash_operator);
    for (auto& child : expand(spec.children)) {
        children_.push_back(make_child(std::move(child)));
        children_.back()->index = children_.size() - 1;
    }
    // What was asked of this subtree before this process of it started.
    for (auto& [path, stop] : env_.asked) {
        auto [c, rest] = route(path);
        // A pool: each of its instances.
        for (auto* m : c ? std::vector<Child*>{} : members(path)) m->goal = stop ? Goal::held : Goal::run;
        if (!c) continue;
        if (!rest.empty()) c->asked_below[std::string(rest)] = stop;
        else c->goal = stop ? Goal::held : Goal::run;
    }
    sigchld_->data = this;
    sweep_->data = this;
    memory_watch_->data = this;
    log_files_.on_change = [this] { ++generation_; };  // the lines dropped, in the next snapshot
    touch_all();
}

Supervisor::~Supervisor() {
    // Whatever still runs (the loop was stopped early) must not outlive us.
    for (auto& [pid, instance] : by_pid_) {
        kill(-pid, SIGKILL);
        waitpid(pid, nullptr, 0);
    }
    // Their instances' probes cancel what they have in flight through
    // side_ and http_checks_, declared after children_: so they go first.
    children_.clear();
}

std::unique_ptr<Child> Supervisor::make_child(ChildSpec spec) {
    auto c = std::make_unique<Child>();
    c->spec = std::move(spec);
    c->path = env_.path.empty() ? c->spec.name : env_.path + "/" + c->spec.name;
    c->owner = this;
    if (!c->spec.autostart) c->goal = Goal::held;
    c->wait = uv::make_timer(loop_.get());
    c->wait->data = c.get();
    c->standby_wait = uv::make_timer(loop_.get());
    c->standby_wait->data = c.get();
    return c;
}

Supervisor::State Supervisor::state_of(const Child& c) {
    if (!c.active) return State::down;
    switch (c.active->phase) {
    case lifecycle::Phase::starting:
    case lifecycle::Phase::unready:
    case lifecycle::Phase::idle: return State::starting;
    case lifecycle::Phase::running:
    case lifecycle::Phase::hung: return State::running;
    case lifecycle::Phase::stopping: return State::stopping;
    }
    return State::down;
}

const char* Supervisor::state_name(State s) {
    switch (s) {
    case State::down: return "down";
    case State::starting: return "starting";
    case State::running: return "running";
    case State::stopping: return "stopping";
    }
    return "?";
}

std::string Supervisor::seconds(std::uint64_t ms) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
}

std::string Supervisor::child_names() const {
    std::string s;
    for (auto& c : children_) s += (s.empty() ? "" : ", ") + c->spec.name;
    return s;
}

std::string Supervisor::children_along(std::string_view path) const {
    std::vector<const ChildSpec*> level;
    for (auto& c : children_)
        if (c->goal != Goal::removed) level.push_back(&c->spec);
    std::string where;
    for (auto slash = path.find('/'); slash != std::string_view::npos; slash = path.find('/')) {
        const ChildSpec* found = nullptr;
        for (auto* k : level)
            if (k->name == path.substr(0, slash)) found = k;
        if (!found || found->type != ChildType::supervisor) break;
        where += (where.empty() ? "" : "/") + found->name;
        level.clear();
        for (auto& k : found->sub.children) level.push_back(&k);
        path = path.substr(slash + 1);
    }
    std::string names;
    for (auto* k : level) names += (names.empty() ? "" : ", ") + k->name;
    return (where.empty() ? "children: " : "children of " + where + ": ") + (names.empty() ? "none" : names);
}

void Supervisor::start() {
    // Whatever a child leaves behind (a background job, a double fork) is
    // adopted by us rather than by init, so that we can stop it and reap it.
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) log("cannot become a subreaper: %s", std::strerror(errno));
    uv::check(uv_signal_start(sigchld_.get(), [](uv_signal_t* h, int) {
        if (auto* s = uv::owner<Supervisor>(h)) s->reap();
    }, SIGCHLD), "uv_signal_start(SIGCHLD)");
    log("supervising %s; %s, at most %u restarts in %llus",
        options_.dynamic() && children_.empty() ? "no children yet (dynamic: each is added at run time)"
                                                : child_names().c_str(),
        std::string(to_string(options_.strategy)).c_str(), options_.max_restarts,
        static_cast<unsigned long long>(options_.max_seconds));
    // The operator may log in to the stash before any child starts.
    try {
        sync_stash_users();
    } catch (const std::exception& e) {
        log("the stash's users: %s", e.what());
    }
    step();
}

// Brings the children one move closer to what is wanted. Stops come first,
// one at a time in reverse start order; then starts, in start order, each
// only when every child before it is ready.
void Supervisor::step() {
    ++generation_;
    // A step asked for from inside converge (a start that failed, giving
    // up) runs once this one is done, not in the middle of its look.
    if (converging_) {
        again_ = true;
        return;
    }
    converging_ = true;
    do {
        again_ = false;
        converge();
        if (!again_ && !rollouts_.empty()) advance_rollouts();
    } while (again_);
    converging_ = false;
    if (first_settled_ && settled()) std::exchange(first_settled_, nullptr)();
    answer_awaited();
}

void Supervisor::await(std::function<bool()> done, Reply reply) {
    awaited_.push_back({std::move(done), std::move(reply)});
    answer_awaited();
}

void Supervisor::answer_awaited() {
    if (awaited_.empty()) return;
    std::vector<Reply> ready;
    std::erase_if(awaited_, [&](Awaited& a) {
        if (!shutting_down_ && !a.done()) return false;
        ready.push_back(std::move(a.reply));
        return true;
    });
    for (auto& r : ready)
        r(shutting_down_ ? std::optional<std::string>("ERR the supervisor is stopping: it was not done") : std::nullopt);
}

void Supervisor::converge() {
    using lifecycle::Phase;
    if (finished_) return;
    // Only the children touched since they were last quiet are looked at:
    // a death, a timer or a request costs its own child's work, never a
    // look at every child of a large tree. Their order is the start order.
    std::erase_if(pending_, [&](Child* c) { return !needs_work(*c); });
    // Children gone from the spec are forgotten once they are down, and their
    // standby too: its death is still to be reaped as ours.
    auto gone = [](const Child* c) {
        return c->goal == Goal::removed && !c->active && !c->standby && !c->successor && c->retiring.empty();
    };
    if (std::erase_if(pending_, gone)) {
        // Told once they are gone, so that what is sent with the answer no longer shows them.
        std::vector<std::pair<Reply, std::optional<std::string>>> told;
        for (auto& c : children_) {
            if (!gone(c.get())) continue;
            if (c->on_gone) told.emplace_back(std::exchange(c->on_gone, nullptr), std::nullopt);
            if (c->on_started) told.emplace_back(std::exchange(c->on_started, nullptr), "ERR " + c->path + " was removed before it ran");
        }
        // A rollout forgets them too, here where they go, not at every step.
        for (auto& r : rollouts_) std::erase_if(r->members, [&](auto& m) { return gone(m.child); });
        std::erase_if(children_, [&](auto& c) { return gone(c.get()); });
        for (std::size_t i = 0; i < children_.size(); ++i) children_[i]->index = i;
        // Their users go too: the stash closes what they left logged in.
        try {
            sync_stash_users();
        } catch (const std::exception& e) {
            log("the stash's users: %s", e.what());
        }
        ++generation_;
        for (auto& [done, why] : told) done(why);
    }
    const std::vector<Child*> work(pending_.begin(), pending_.end());
    // A standby goes with its child: when the child is no longer wanted, or
    // the tree stops. It holds nothing, so nothing waits for it but the end.
    for (auto* c : work)
        if (!c->wants_running() || shutting_down_) {
            stop_standby(*c, shutting_down_ ? nullptr : "its child is not to run");
            if (c->successor) apply(*c->successor, lifecycle::Event::stop);
        }
    // A dynamic supervisor's children are independent (OTP's
    // DynamicSupervisor): each stops side by side with the others, and a
    // stop holds up no start. Otherwise one stops at a time, in reverse
    // start order, and the starts wait for the stops.
    const bool independent = options_.dynamic();
    if (!independent)
        for (auto* c : work)
            if (c->active && c->active->phase == Phase::stopping) return;
    bool stops_left = false;
    for (auto it = work.rbegin(); it != work.rend(); ++it) {
        auto& c = **it;
        if (!c.active || (c.goal != Goal::restart && c.wants_running())) continue;
        stops_left = true;
        if (c.active->phase != Phase::stopping) apply(*c.active, lifecycle::Event::stop);
        if (!independent) return;
    }
    if (shutting_down_ && stops_left) return;
    if (shutting_down_) {
        for (auto* c : work)
            if (c->standby || c->successor || !c->retiring.empty()) return;  // its death steps again
        if (!rollouts_.empty()) return;  // a migration still ending
        // The hooks of the last events (the top's gave_up) still run, for
        // at most one hook's timeout.
        if (hooks_ && !hooks_->idle()) return hooks_->drain([this] { step(); });
        finished_ = true;
        ++generation_;
        reap_the_rest();
        log("all children stopped");
        loop_.stop();
        return;
    }
    // The instances of a pool start side by side: one still starting holds
    // up only the children after the pool.
    std::string_view starting_pool;
    auto wait_for = [&](const Child& c) {
        if (independent) return false;
        if (c.spec.pool.empty()) return true;
        starting_pool = c.spec.pool;
        return false;
    };
    for (auto* c : work) {
        if (!starting_pool.empty() && c->spec.pool != starting_pool) return;
        if (state_of(*c) == State::starting) {
            if (wait_for(*c)) return;
            continue;
        }
        if (c->active || !c->wants_running()) continue;
        if (c->not_before_ms > loop_.now()) {
            wait_until_due(*c);
            // Backing off. Under one_for_one the children are independent,
            // so the later ones need not wait for it; otherwise they
            // depend on it, and wait their turn.
            if (options_.strategy == Strategy::one_for_one) continue;
            return;
        }
        borrow_standby(*c);
        if (c->standby && c->standby->phase == Phase::idle) {
            try {
                activate_standby(*c);
                if (independent) continue;
                return;
            } catch (const std::exception& e) {
                log("%s: cannot activate its standby (pid %d): %s; starting it anew", c->path.c_str(),
                    c->standby->pid, e.what());
                stop_standby(*c, nullptr);
            }
        }
        try {
            spawn(*c);
        } catch (const std::exception& e) {
            start_failed(*c, std::string("cannot start: ") + e.what());
            return;
        }
        if (state_of(*c) != State::running && wait_for(*c)) return;
    }
    if (!starting_pool.empty()) return;
    // Every child that should run runs: now, in the background, the standbys.
    for (auto* c : work)
        if (c->keeps_standby() && !c->standby_refused && !c->standby && c->goal == Goal::run &&
            state_of(*c) == State::running) {
            if (loop_.now() >= c->standby_not_before_ms) spawn_standby(*c);
        }
}

bool Supervisor::needs_work(const Child& c) const {
    using lifecycle::Phase;
    if (c.standby && (!c.wants_running() || shutting_down_)) return true;  // to stop, or its end awaited
    if ((c.successor || !c.retiring.empty()) && (!c.wants_running() || shutting_down_)) return true;
    if (c.active) {
        auto p = c.active->phase;
        if (p != Phase::running && p != Phase::hung) return true;  // starting or stopping: the others wait
        if (c.goal != Goal::run) return true;                        // to stop
    } else if (c.wants_running() || c.goal == Goal::removed) {
        return true;  // to start (or to wait first), or to forget
    }
    // A standby to start behind it, now or once its wait is over.
    return c.keeps_standby() && !c.standby_refused && !c.standby && c.goal == Goal::run && c.active &&
           c.active->phase == Phase::running;
}

void Supervisor::want(Child& c, Goal g) {
    c.goal = g;
    touch(c);
}

void Supervisor::touch_all() {
    for (auto& c : children_) pending_.insert(c.get());
}

// Processes we adopted whose group has no running child of ours: left by a
// child that is gone (a double fork, a background job of a killed shell, the
// subtree of a nested supervisor killed with -9). No orphans: they go too.
void Supervisor::sweep_orphans(bool all) {
    auto known = [this](pid_t pid) { return by_pid_.count(pid) > 0 || side_.owns(pid); };
    std::unordered_map<pid_t, unsigned> unsure;
    for (pid_t pid : adopted_children(known)) {
        pid_t group = live_process_group(pid);
        if (group < 0) continue;                // dead already: only its reaping is left
        if (known(group)) continue;             // in a live child's group: it goes with that child
        // Adopted, but left by a process of ours that still runs (a job it
        // put in a session of its own, whose parent shell ended): that
        // one's business. $SEQ_NAME and $SEQ_INSTANCE, inherited from it,
        // say whose, and which of its lives. (From deeper in the tree, its
        // own supervisor is gone, or that one would have adopted it.)
        if (!all) {
            auto env = process_environ(pid);
            if (!env) {
                // Caught in the middle of an execve, most likely: look again
                // soon. A few looks, then it counts as an orphan.
                if (auto tries = unsure_.count(pid) ? unsure_[pid] : 0; tries < 5) {
                    unsure[pid] = tries + 1;
                    continue;
                }
            } else if (auto from = env_value(*env, "SEQ_NAME"), life = env_value(*env, "SEQ_INSTANCE"); from && life) {
                bool owner_runs = false;
                auto theirs = [&](const Instance* i) { return i && *from == i->seq_name && *life == i->seq_instance; };
                for (auto& c : children_) {
                    for (auto* i : {c->active.get(), c->standby.get(), c->successor.get()})
                        if (theirs(i)) owner_runs = true;
                    for (auto& i : c->retiring)
                        if (theirs(i.get())) owner_runs = true;
                }
                if (owner_runs) continue;
            }
        }
        log("killing pid %d (%s), left behind by a child that is gone", pid, process_name(pid).c_str());
        // Its group was made by one of our descendants (each child has its
        // own), and no number of a group is reused while it has members.
        if (group != getpgrp()) kill(-group, SIGKILL);
        kill(pid, SIGKILL);
    }
    unsure_ = std::move(unsure);
    if (!unsure_.empty()) sweep_soon(10);
}

// Nothing of the tree outlives the supervisor, not even as a process still
// dying. Every child is down, so the sweep kills all that is adopted; and
// each death may hand us (the subreaper) what that one left in a group or
// session of its own, which the next sweep kills. Only what dies is waited
// for: a process we may not signal (it changed its user) goes to init.
void Supervisor::reap_the_rest() {
    side_.kill_and_reap_all();
    for (;;) {
        sweep_orphans(true);
        auto left = adopted_children({});
        std::erase_if(left, [](pid_t pid) { return kill(pid, 0) < 0 && errno == EPERM; });
        if (left.empty()) return;
        if (waitpid(-1, nullptr, 0) < 0 && errno != EINTR) return;
    }
}

// SIGCHLD. Each instance of ours is reaped through its pidfd, the moment
// it dies (reap_instance): a wait for any child looks at every one of them,
// which with thousands costs a restart milliseconds. What we adopted as a
// subreaper is reaped here, with the look for orphans, a moment later.
// Where pidfds are missing, everything is reaped here and now.
void Supervisor::reap() {
    if (pidfds_) return sweep_soon();
    reap_all();
}

void Supervisor::sweep_soon(std::uint64_t ms) {
    // Not pushed back by each death: a steady stream of them still gets its sweeps.
    if (finished_ || uv_is_active(reinterpret_cast<uv_handle_t*>(sweep_.get()))) return;
    uv_timer_start(sweep_.get(), [](uv_timer_t* t) {
        if (auto* s = uv::owner<Supervisor>(t)) {
            s->reap_all();
            s->sweep_orphans();
            s->release_unclaimed();
            if (s->cgroups_ && s->cgroups_->retry()) s->sweep_soon(50);  // still dying: their cgroups wait
        }
    }, ms, 0);
}

void Supervisor::reap_all() {
    bool adopted = false;
    for (;;) {
        // Peek first: while the dead child is a zombie its pid (and so its
        // process group's number) cannot be reused, so what is left of its
        // group can be killed without hitting anyone else's.
        siginfo_t info{};
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 || info.si_pid == 0) break;
        pid_t pid = info.si_pid;
        if (auto it = by_pid_.find(pid); it != by_pid_.end()) {
            if (!reap_instance(*it->second)) break;
            continue;
        }
        if (side_.owns(pid)) {
            if (!side_.reap(pid)) break;
            continue;
        }
        if (waitpid(pid, nullptr, WNOHANG) != pid) break;
        adopted = true;
    }
    // An adopted process died: its own children may be ours now.
    if (adopted) sweep_soon();
}

bool Supervisor::reap_instance(Instance& i) {
    const pid_t pid = i.pid;
    // Still a zombie: what it started and left running goes with it.
    kill(-pid, SIGKILL);
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) != pid) return false;
    by_pid_.erase(pid);
    auto& c = *i.child;
    switch (i.role) {
    case lifecycle::Role::active: on_death(c, status); break;
    case lifecycle::Role::standby: on_standby_death(c, status); break;
    case lifecycle::Role::successor: on_successor_death(c, status); break;
    case lifecycle::Role::retiring: on_retiring_death(i, status); break;
    case lifecycle::Role::migration: on_migration_death(i, status); break;
    }
    return true;
}

void Supervisor::on_death(Child& c, int status) {
    // A nested supervisor's last words (the deaths below it, that it gave
    // up) come before its own end.
    if (c.subtree) c.subtree->drain();
    // The loop's clock is as old as this iteration: a backoff counted from
    // it would end early.
    uv_update_time(loop_.get());
    auto now = loop_.now();
    auto ended = retire(std::move(c.active), status);
    touch(c);
    auto ran = seconds(ended.uptime_ms);
    auto how = ended.how;
    auto pid = ended.pid;
    auto death = lifecycle::death_in(ended.phase);
    // A child the restart plan was about to stop has ended as planned: its
    // death is part of that restart, not a new crash to count.
    bool asked = death == lifecycle::Death::asked || c.goal == Goal::restart;
    // Kept for `seqctl why`, with what it wrote last.
    std::string why = how;
    if (asked || shutting_down_) why += " (stopped)";
    else if (!ended.exec_failed && death == lifecycle::Death::failed_start) why += ", having never become ready";
    else if (!ended.exec_failed && death == lifecycle::Death::hung && ended.ended_for.empty())
        why += ", after a watchdog timeout";
    std::string reason(asked || shutting_down_ ? "stopped" : ended.reason);
    emit("exited", c.path, pid, reason, how, static_cast<std::int64_t>(ended.uptime_ms));
    c.deaths.add({wall_now_ms(), pid, std::move(why), ended.uptime_ms, c.recent.last_of(pid, Deaths::lines_each),
                  std::move(reason)});
    if (death_heard_) death_heard_(c.path, c.deaths.newest());
    // Its link goes when this death has been dealt with: a RELOAD it leaves
    // unanswered is told so then, and steps from a settled tree.
    auto link = std::move(c.subtree);
    sweep_soon();  // what it left in groups of their own is ours now
    c.last_exit = how;
    if (first_start_failed(c, how + " after " + ran, asked || shutting_down_)) return;
    const char* name = c.path.c_str();
    const bool hung = !ended.exec_failed && death == lifecycle::Death::hung;
    if (!shutting_down_ &&
        rollout_failed(c, ended.phase, ended.ready_ms, ended.generation,
                       hung && ended.ended_for.empty() ? how + " (watchdog)" : how)) {
        log("%s (pid %d) %s after %s; the rollout's gate failed: its old spec starts in its place", name, pid,
            how.c_str(), ran.c_str());
        return step();
    }
    // A rollout's new instance is starting beside it: that one takes its place.
    if (c.successor && c.wants_running() && !shutting_down_) {
        if (c.goal == Goal::restart) want(c, Goal::run);
        c.active = std::move(c.successor);
        c.active->role = lifecycle::Role::active;
        counted_start(c);
        c.last_cause = Cause::upgrade;
        log("%s (pid %d) %s after %s; its new instance (pid %d), starting, takes its place", name, pid, how.c_str(),
            ran.c_str(), c.active->pid);
        return step();
    }
    if (c.goal == Goal::restart) want(c, Goal::run);
    if (asked || shutting_down_) {
        log("%s (pid %d) stopped: %s after %s", name, pid, how.c_str(), ran.c_str());
        return step();
    }
    if (ended.exec_failed) return start_failed(c, how);
    if (death == lifecycle::Death::failed_start) how += ", having never become ready";
    if (death == lifecycle::Death::hung && ended.ended_for.empty()) how += ", after a watchdog timeout";
    bool normal = is_normal_exit(status) && death == lifecycle::Death::crash;
    if (!c.wants_running() || !wants_restart(c.spec.restart, normal)) {
        // A dynamic supervisor forgets a child that ended for good (OTP):
        // its name and its place are free again.
        if (c.goal == Goal::run) want(c, options_.dynamic() ? Goal::removed : Goal::down);
        log("%s (pid %d) %s after %s; %s child: not restarted", name, pid, how.c_str(), ran.c_str(),
            std::string(to_string(c.spec.restart)).c_str());
        // One stopped by request, or removed, ended by our asking, not by itself.
        if (c.spec.significant && c.goal != Goal::held && c.goal != Goal::removed) significant_ended(c, status);
        return step();
    }
    if (!intensity_.record(now))
        return give_up(c.path + " (pid " + std::to_string(pid) + ") " + how + " after " + ran);
    auto plan = plan_restart(options_.strategy, children_.size(), c.index, !c.spec.pool.empty());
    auto delay = c.backoff.next(c.spec.backoff, ended.uptime_ms);
    // Only what runs can be stopped: a child that is down is only started.
    for (auto i : plan.stop)
        if (auto& s = *children_[i]; s.active && s.goal == Goal::run) want(s, Goal::restart);
    std::string restarting;
    for (auto i : plan.start) {
        auto& r = *children_[i];
        // A temporary sibling is stopped with the others but never restarted
        // (OTP); one removed by a reload is only stopped; one stopped by
        // request stays stopped.
        if (r.goal == Goal::removed || r.goal == Goal::held) continue;
        if (&r != &c && r.spec.restart == RestartType::temporary) {
            want(r, Goal::down);
            continue;
        }
        if (r.goal != Goal::restart) want(r, Goal::run);
        r.not_before_ms = now + delay;
        r.next_cause = Cause::strategy;
        restarting += (restarting.empty() ? "" : ", ") + r.spec.name;
    }
    if (!restarting.empty())
        emit("restart_scheduled", c.path, 0, "", std::string(to_string(options_.strategy)) + ": restarting " + restarting,
             static_cast<std::int64_t>(delay));
    if (delay > 0) restarting += " in " + seconds(delay);
    log("%s (pid %d) %s after %s; %s: restarting %s (restart %zu of %u in %llus)", name, pid, how.c_str(),
        ran.c_str(), std::string(to_string(options_.strategy)).c_str(), restarting.c_str(), intensity_.recent(now),
        options_.max_restarts, static_cast<unsigned long long>(options_.max_seconds));
    step();
}

// More restarts than the intensity allows: the children cannot be kept up.
void Supervisor::give_up(const std::string& what) {
    log("%s; more than %u restarts in %llus: giving up, stopping every child", what.c_str(), options_.max_restarts,
        static_cast<unsigned long long>(options_.max_seconds));
    gave_up_ = true;
    // OTP's escalation: a nested supervisor ends, and its parent's
    // strategy decides what that means.
    if (!env_.path.empty()) emit("escalated", env_.path, getpid(), "", what + ": ending, for the supervisor above to decide");
    emit("gave_up", env_.path.empty() ? "/" : env_.path, getpid(), "", what);
    begin_shutdown();
    for (auto& other : children_)
        if (other->wants_running()) want(*other, Goal::down);
    step();
}

Supervisor::Retired Supervisor::retire(std::unique_ptr<Instance> i, int status) {
    if (i->ended_for.empty())
        if (i->ended_for = killed_by_kernel(*i, status); !i->ended_for.empty()) i->ended_by = "oom";
    Retired r{i->pid,          i->phase,        loop_.now() - i->started_ms, i->ready_ms, i->generation,
              describe_exit(status), false, i->ended_for, {}};
    if (!r.ended_for.empty()) r.how = r.ended_for + ", " + r.how;
    if (i->exec)
        if (auto& failed = i->exec->failure()) {
            r.how = *failed;
            r.exec_failed = true;
        }
    r.reason = lifecycle::death_reason(lifecycle::death_in(r.phase), r.exec_failed, status, i->ended_by);
    if (i->output) i->output->finish();
    if (i->errors) i->errors->finish();
    // What it left in its cgroup goes with it; the cgroup too.
    if (cgroups_ && !i->cgroup.empty()) {
        cgroups_->release(i->cgroup);
        sweep_soon();
    }
    ++generation_;
    return r;  // its handles close with it
}

// OTP's auto_shutdown: a significant child ended by itself (a transient's
// normal exit, any end of a temporary), and this supervisor ends with it,
// in order; at the top, seq-supervisor exits with that child's status.
void Supervisor::significant_ended(const Child& c, int status) {
    if (options_.auto_shutdown == AutoShutdown::never) return;
    if (options_.auto_shutdown == AutoShutdown::all_significant)
        for (auto& other : children_)
            if (other->spec.significant && (other->active || other->wants_running())) return;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    shutdown(c.path + ", a significant child, ended (auto_shutdown = " +
             std::string(to_string(options_.auto_shutdown)) + ")");
}

void Supervisor::begin_shutdown() {
    shutting_down_ = true;
    if (on_stopping_) std::exchange(on_stopping_, nullptr)();
}

void Supervisor::shutdown(const std::string& why) {
    if (shutting_down_) return;
    begin_shutdown();
    log("%s; stopping children in reverse order", why.c_str());
    for (auto& c : children_)
        if (c->wants_running()) want(*c, Goal::down);
    step();
}

std::string_view to_string(Cause c) {
    switch (c) {
    case Cause::strategy: return "strategy";
    case Cause::request: return "request";
    case Cause::reload: return "reload";
    case Cause::upgrade: return "upgrade";
    }
    return "?";
}

// Routes a request for the child at `path`: to `here` for a child of ours,
// or down to the nested supervisor it is below (`below` gets that child
// and the rest of the path). The refusals every request shares come first.
std::optional<std::string> Supervisor::control(std::string_view verb, std::string_view path,
                                               const std::function<std::optional<std::string>(Child&)>& here,
                                               const std::function<std::optional<std::string>(Child&, std::string_view)>& below) {
    if (!has_child(path))
        return "ERR no child at '" + std::string(path.substr(0, 128)) + "' (" + children_along(path) + ")";
    if (shutting_down_) return "ERR the supervisor is stopping: nothing is " + std::string(verb);
    auto [c, rest] = route(path);
    if (c && rest.empty()) return here(*c);
    if (c) return below(*c, rest);
    // A pool: each of its instances. Refused only if refused for all (a
    // signal to a pool with one instance down reaches the others).
    std::optional<std::string> why;
    bool done = false;
    for (auto* m : members(path)) {
        auto r = here(*m);
        done = done || !r;
        if (r && !why) why = r;
    }
    if (done) return std::nullopt;
    return why;
}

std::optional<std::string> Supervisor::restart(std::string_view path) {
    return control(
        "restarted", path,
        [&](Child& c) -> std::optional<std::string> {
            log("%s: restart requested", c.path.c_str());
            want(c, c.active ? Goal::restart : Goal::run);
            c.next_cause = Cause::request;
            c.not_before_ms = 0;  // asked for: at once
            step();
            return std::nullopt;
        },
        [&](Child& c, std::string_view rest) -> std::optional<std::string> {
            if (state_of(c) != State::running || !c.subtree) return "ERR " + c.path + " is not running";
            log("%s: restart requested", (c.path + "/" + std::string(rest)).c_str());
            c.asked_below.erase(std::string(rest));
            return c.subtree->command({"RESTART", rest});
        });
}

std::optional<std::string> Supervisor::stop_child(std::string_view path) {
    return control(
        "stopped", path,
        [&](Child& c) -> std::optional<std::string> {
            if (c.goal != Goal::held) {
                log("%s: stop requested", c.path.c_str());
                emit("stop_requested", c.path, 0);
            }
            want(c, Goal::held);
            step();
            return std::nullopt;
        },
        [&](Child& c, std::string_view rest) -> std::optional<std::string> {
            // Kept here too: a restart of that supervisor keeps it stopped.
            c.asked_below[std::string(rest)] = true;
            if (!c.subtree) return std::nullopt;  // nothing of it runs; its next start has it
            return c.subtree->command({"STOP", rest});
        });
}

std::optional<std::string> Supervisor::start_child(std::string_view path) {
    return control(
        "started", path,
        [&](Child& c) -> std::optional<std::string> {
            if (c.wants_running()) return std::nullopt;  // running, or on its way
            log("%s: start requested", c.path.c_str());
            emit("start_requested", c.path, 0);
            want(c, Goal::run);
            c.next_cause = Cause::request;
            c.not_before_ms = 0;
            step();
            return std::nullopt;
        },
        [&](Child& c, std::string_view rest) -> std::optional<std::string> {
            if (!c.subtree) return "ERR " + c.path + " is not running: start it first";
            c.asked_below[std::string(rest)] = false;
            return c.subtree->command({"START", rest});
        });
}

std::optional<std::string> Supervisor::signal_child(std::string_view path, int sig) {
    return control(
        "signalled", path,
        [&](Child& c) -> std::optional<std::string> {
            if (!c.active) return "ERR " + c.path + " is not running: there is no process to signal";
            log("%s: sending %s to pid %d and its group, as requested", c.path.c_str(), signal_name(sig).c_str(),
                c.active->pid);
            signal_group(*c.active, sig);
            return std::nullopt;
        },
        [&](Child& c, std::string_view rest) -> std::optional<std::string> {
            if (!c.subtree) return "ERR " + c.path + " is not running";
            return c.subtree->command({"SIGNAL", rest, std::to_string(sig)});
        });
}

std::string Supervisor::state_at(std::string_view path) const {
    auto [c, rest] = route(path);
    if (!c && pools_.count(path)) {
        ChildReport pool;
        auto now = loop_.now();
        for (auto* m : members(path)) pool.instances.emplace_back().state = child_state_name(*m, now);
        for (auto& k : children_)
            if (k->goal == Goal::removed && k->active && k->spec.pool == path) pool.instances.emplace_back().state = "stopping";
        sum_up(pool);
        return pool.state;
    }
    if (!c) return "";
    if (rest.empty()) return child_state_name(*c, loop_.now());
    // Below a supervisor that does not run, nothing runs.
    if (!c->active) return has_child(path) ? "stopped" : "";
    auto* below = nested(path);
    return below ? below->state : "";
}

Child* Supervisor::find(std::string_view name) const {
    for (auto& c : children_)
        if (c->goal != Goal::removed && c->spec.name == name) return c.get();
    return nullptr;
}

std::pair<Child*, std::string_view> Supervisor::route(std::string_view path) const {
    auto slash = path.find('/');
    auto* c = find(path.substr(0, slash));
    if (!c || slash == std::string_view::npos) return {c, {}};
    return {c->spec.type == ChildType::supervisor ? c : nullptr, path.substr(slash + 1)};
}

// A child below a nested supervisor, as its latest snapshot has it.
const ChildReport* Supervisor::nested(std::string_view path) const {
    auto [c, rest] = route(path);
    if (!c || rest.empty() || !c->subtree || !c->subtree->snapshot()) return nullptr;
    return find_child(c->subtree->snapshot()->children, rest);
}

bool Supervisor::has_child(std::string_view path) const {
    auto [c, rest] = route(path);
    if (!c) return pools_.count(path) > 0;
    if (rest.empty()) return true;
    // Below a nested supervisor: in its spec, whether or not it runs now;
    // below a dynamic one, in its latest snapshot.
    return find_spec(c->spec.sub, rest) != nullptr || (below_dynamic(c->spec.sub, rest) && nested(path));
}

bool Supervisor::child_settled(const Child& c) {
    auto state = state_of(c);
    if (c.wants_running() ? state != State::running : state != State::down) return false;
    if (c.spec.type != ChildType::supervisor || state != State::running) return true;
    auto* below = c.subtree ? c.subtree->snapshot() : nullptr;
    return below && sup::settled(*below);
}

bool Supervisor::child_busy(const Child& c) {
    auto state = state_of(c);
    if (state == State::starting || state == State::stopping || c.goal == Goal::restart) return true;
    if (c.spec.type != ChildType::supervisor || state != State::running) return false;
    auto* below = c.subtree ? c.subtree->snapshot() : nullptr;
    return below && sup::busy(*below);
}

bool Supervisor::settled() const {
    return !shutting_down_ && std::all_of(children_.begin(), children_.end(), [](auto& c) { return child_settled(*c); });
}

bool Supervisor::in_transition() const {
    return shutting_down_ || !rollouts_.empty() ||
           std::any_of(children_.begin(), children_.end(), [](auto& c) { return child_busy(*c); });
}

std::vector<std::uint64_t> Supervisor::starts(std::string_view path) const {
    std::vector<std::uint64_t> out;
    auto [c, rest] = route(path);
    if (auto it = pools_.find(path); !c && it != pools_.end()) return {it->second.starts};
    if (!c) return out;
    out.push_back(c->spawns);
    auto* below = c->subtree ? c->subtree->snapshot() : nullptr;
    const std::vector<ChildReport>* children = below ? &below->children : nullptr;
    // Down the nested snapshots, one supervisor's children at a time.
    while (!rest.empty() && children) {
        auto slash = rest.find('/');
        auto* child = find_child(*children, rest.substr(0, slash));
        if (!child) break;
        out.push_back(static_cast<std::uint64_t>(child->spawns));
        if (slash == std::string_view::npos) break;
        children = &child->children;
        rest = rest.substr(slash + 1);
    }
    return out;
}

}  // namespace seq::sup
