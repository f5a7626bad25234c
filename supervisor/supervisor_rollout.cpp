// Rollouts (rollout.hpp): a change of spec applied instance by instance,
// each new one started beside an old one and taking its place once ready,
// behind a gate that rolls it all back. Each step moves every rollout on
// (advance_rollouts); the instances' own events come through the lifecycle
// table (the successor and retiring roles), and a death that fails the
// gate through on_death.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log.hpp"
#include "supervisor.hpp"

namespace seq::sup {

using lifecycle::Event;
using lifecycle::Phase;
using lifecycle::Role;

SupervisorSpec Supervisor::running_spec() const {
    SupervisorSpec s = options_;
    s.children.clear();
    for (auto& c : children_) {
        if (c->goal == Goal::removed) continue;
        if (c->spec.pool.empty()) {
            s.children.push_back(c->spec);
            continue;
        }
        auto it = pools_.find(c->spec.pool);
        bool listed = std::any_of(s.children.begin(), s.children.end(),
                                  [&](auto& k) { return k.name == c->spec.pool; });
        if (it != pools_.end() && !listed) s.children.push_back(it->second.spec);
    }
    return s;
}

Rollout* Supervisor::rollout_of(const Child& c) {
    for (auto& r : rollouts_)
        if (member_of(*r, c)) return r.get();
    return nullptr;
}

Rollout::Member* Supervisor::member_of(Rollout& r, const Child& c) {
    for (auto& m : r.members)
        if (m.child == &c) return &m;
    return nullptr;
}

const ChildSpec& Supervisor::spec_of(const Instance& i) {
    // During a rollout an instance may be of the spec its child is leaving,
    // or of the one it is taking (a migration runs before any member takes it).
    auto& c = *i.child;
    if (i.generation != c.spec.generation)
        if (auto* r = rollout_of(c))
            if (auto* m = member_of(*r, c)) {
                if (m->to.generation == i.generation) return m->to;
                if (m->from.generation == i.generation) return m->from;
            }
    return c.spec;
}

void Supervisor::roll(Child& c, const ChildSpec& want, const ChildSpec* pool_from) {
    const std::string name = want.pool.empty() ? want.name : want.pool;
    auto it = std::find_if(rollouts_.begin(), rollouts_.end(), [&](auto& r) { return r->name == name; });
    if (it == rollouts_.end()) {
        auto r = std::make_unique<Rollout>();
        r->name = name;
        r->path = c.pool_path();
        r->handover = want.update == Update::handover;
        r->surge = want.max_surge;
        r->min_uptime_ms = want.min_uptime_ms;
        r->gate = uv::make_timer(loop_.get());
        r->gate->data = this;
        if (pool_from) r->pool_from = *pool_from;
        if (r->handover)
            say(r->path + ": handing over to generation " + std::to_string(want.generation) +
                ", started as a standby, to run " + seconds(r->min_uptime_ms) + " once ready");
        else
            say(r->path + ": rolling out generation " + std::to_string(want.generation) + ", " +
                std::to_string(r->surge) + " at a time, each new instance to run " + seconds(r->min_uptime_ms) +
                " once ready");
        it = rollouts_.insert(rollouts_.end(), std::move(r));
    }
    (*it)->members.push_back({&c, c.spec, want});
    // A standby was started from the old spec: the new instances come from the new.
    if (!(*it)->handover) stop_standby(c, "its spec changed");
}

void Supervisor::watch_rollouts(std::function<void(const std::string&)> progress, Reply done) {
    auto w = std::make_shared<Watch>();
    w->progress = std::move(progress);
    // What was said since the reload that began them (before this watch).
    for (auto& line : said_) w->progress(line);
    watches_.push_back(w);
    await([this] { return rollouts_.empty() && *reloads_below_ == 0 && !in_transition(); },
          [w, done = std::move(done)](std::optional<std::string> why) {
              if (!why && !w->failures.empty()) {
                  std::string all;
                  for (auto& f : w->failures) all += (all.empty() ? "" : "; ") + f;
                  why = "ERR " + all;
              }
              done(why);
          });
}

void Supervisor::reload_below_answered(const std::string& path, const std::optional<std::string>& why) {
    --*reloads_below_;
    if (why) {
        // A rollback there names its own path (below ours); a refusal does not.
        std::string text = why->starts_with("ERR ") ? why->substr(4) : *why;
        auto said = text.starts_with(path + "/") ? text : path + ": " + text;
        say(said);
        for (auto& weak : watches_)
            if (auto w = weak.lock()) w->failures.push_back(said);
    }
    step();
}

void Supervisor::say(const std::string& line) {
    log("%s", line.c_str());
    said_.push_back(line);
    std::erase_if(watches_, [](auto& w) { return w.expired(); });
    for (auto& weak : watches_)
        if (auto w = weak.lock()) w->progress(line);
}

void Supervisor::advance_rollouts() {
    for (std::size_t i = 0; i < rollouts_.size();) {
        auto& r = *rollouts_[i];  // its members gone (removed, forgotten) were dropped by converge
        if (shutting_down_) {
            // Each instance, old or new, is stopped with the tree; a
            // migration under way is stopped, and waited for.
            if (r.migration) {
                apply(*r.migration, Event::stop);
                ++i;
                continue;
            }
            say(r.path + ": rollout ended: the supervisor is stopping");
            rollouts_.erase(rollouts_.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        bool over = true;
        if (r.failure.empty()) {
            // Nothing left to replace (removed meanwhile): a migration under
            // way is stopped, and the rollout ends once it has.
            if (r.members.empty() && r.migration) apply(*r.migration, Event::stop);
            if (!r.members.empty()) roll_forward(r);
            if (r.migration) over = false;
            for (auto& m : r.members) {
                auto& c = *m.child;
                if (c.successor || !c.retiring.empty() || c.spec.generation != m.to.generation) over = false;
                else if (c.active && c.active->generation != m.to.generation) over = false;
                else if (c.active && c.active->phase != Phase::running && c.wants_running()) over = false;
                else if (c.active && c.active->ready_ms + r.min_uptime_ms > loop_.now()) over = false;
            }
            if (over && r.members.empty()) {
                say(r.path + ": rollout ended: no instance of it is left to replace");
            } else if (over) {
                say(r.path + ": rolled out generation " + std::to_string(r.members.front().to.generation) + " (" +
                    std::to_string(r.members.size()) + (r.members.size() == 1 ? " instance" : " instances") + ")");
            }
        } else {
            roll_back(r);
            if (r.migration) over = false;
            for (auto& m : r.members) {
                auto& c = *m.child;
                bool on_new = c.active && c.active->generation == m.to.generation && !m.stuck;
                bool new_standby = c.standby && c.standby->generation == m.to.generation;
                if (c.successor || !c.retiring.empty() || on_new || new_standby) over = false;
                else if (c.active && c.active->phase != Phase::running && c.wants_running()) over = false;
            }
            if (over) {
                std::size_t old = 0;
                for (auto& m : r.members)
                    if (m.child->active && m.child->active->generation == m.from.generation) ++old;
                auto said = r.path + ": " + r.failure + "; rolled back, " + std::to_string(old) +
                            (old == 1 ? " instance" : " instances") + " on the old spec";
                say(said);
                rolled_back_[r.name] = said;
                if (r.pool_from)
                    if (auto p = pools_.find(r.name); p != pools_.end()) p->second.spec = *r.pool_from;
                for (auto& weak : watches_)
                    if (auto w = weak.lock()) w->failures.push_back(said);
            }
        }
        if (over) {
            rollouts_.erase(rollouts_.begin() + static_cast<std::ptrdiff_t>(i));
            ++generation_;
            continue;
        }
        ++i;
    }
}

void Supervisor::roll_forward(Rollout& r) {
    // Its migration first: nothing is replaced before it has succeeded.
    if (!r.migrated && !r.migration) {
        if (r.members.empty() || r.members.front().to.migrate.empty()) {
            r.migrated = true;
        } else {
            try {
                start_migration(r);
            } catch (const std::exception& e) {
                return fail_rollout(r, "its migration could not be started: " + std::string(e.what()) +
                                           "; nothing was replaced");
            }
        }
    }
    if (!r.migrated) return;
    std::size_t surging = 0;
    for (auto& m : r.members)
        if (m.child->successor) ++surging;
    std::uint64_t next_gate = 0;
    for (auto& m : r.members) {
        auto& c = *m.child;
        if (c.successor) continue;
        if (r.handover && !(c.active && c.active->generation == m.to.generation)) {
            hand_over(m);
            continue;
        }
        if (c.spec.generation == m.to.generation) {
            // Replaced: the gate is open until it has run min_uptime_ms.
            if (c.active && c.active->phase == Phase::running) {
                auto due = c.active->ready_ms + r.min_uptime_ms;
                if (due > loop_.now() && (next_gate == 0 || due < next_gate)) next_gate = due;
            }
            continue;
        }
        // Not running (stopped by request, or down for good): it takes the
        // new spec for its next start, and there is nothing to overlap.
        if (!c.wants_running()) {
            take_at_next_start(m);
            continue;
        }
        if (surging >= r.surge) continue;
        // Its turn comes once it serves: a start or stop under way finishes first.
        if (!c.active || c.active->phase != Phase::running || c.goal != Goal::run) continue;
        c.spec = m.to;
        try {
            spawn_successor(c);
        } catch (const std::exception& e) {
            c.spec = m.from;
            fail_rollout(r, c.path + " (new) could not be started: " + e.what());
            return;
        }
        ++surging;
    }
    if (next_gate) {
        uv_timer_start(r.gate.get(), [](uv_timer_t* t) {
            if (auto* s = uv::owner<Supervisor>(t)) s->step();
        }, next_gate - loop_.now(), 0);
    }
}

void Supervisor::start_migration(Rollout& r) {
    auto& c = *r.members.front().child;  // roll_forward has members
    const auto& to = r.members.front().to;
    SpawnArgs args;
    args.argv = to.migrate;
    args.program = to.migrate.front();
    args.cwd = to.cwd;
    args.nofile = env_.child_nofile;
    confine(args, to);  // as the new instances will run: its user, its limits
    args.env.push_back("SEQ_NAME=" + r.path);
    args.env.push_back("SEQ_GENERATION=" + std::to_string(to.generation));
    if (!env_.stash.empty()) args.env.push_back("SEQ_STASH=" + env_.stash);
    if (!env_.marker.empty()) args.env.push_back("SEQ_TREE=" + env_.marker);
    stash_login(args, r.path, to);  // as the new instances will log in
    std::vector<Fd> keep;
    place(args, keep, to);
    for (auto& [k, v] : to.env) args.env.push_back(k + "=" + v);
    args.env.push_back("SEQ_LOG=bare");
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    Fd ours(p[0]), theirs(p[1]);
    fcntl(ours.get(), F_SETFL, fcntl(ours.get(), F_GETFL) | O_NONBLOCK);
    args.output_fd = theirs.get();
    auto spawned = sup::spawn(args, &slots_);
    theirs.reset();
    keep.clear();
    Pipes pipes;
    pipes.output = std::move(ours);
    r.migration = make_instance(c, Role::migration, args, std::move(spawned), std::move(pipes));
    r.migration->generation = to.generation;  // its timings are the new spec's (spec_of)
    say(r.path + ": migrating to generation " + std::to_string(to.generation) + " (pid " +
        std::to_string(r.migration->pid) + "): " + to.migrate.front());
    enter(*r.migration, Phase::starting);
}

void Supervisor::on_migration_death(Instance& i, int status) {
    auto it = std::find_if(rollouts_.begin(), rollouts_.end(), [&](auto& r) { return r->migration.get() == &i; });
    if (it == rollouts_.end()) return;
    auto& r = **it;
    const auto timeout_ms = spec_of(i).start_timeout_ms;
    auto ended = retire(std::move(r.migration), status);
    bool ok = !ended.exec_failed && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
              ended.phase == Phase::starting;
    if (ok) {
        r.migrated = true;
        say(r.path + ": migration done in " + seconds(ended.uptime_ms));
    } else {
        auto how = ended.phase == Phase::unready
                       ? "did not end within " + seconds(timeout_ms)
                       : "ended (" + ended.how + ")";
        fail_rollout(r, "its migration " + how + "; nothing was replaced");
    }
    step();
}

void Supervisor::roll_back(Rollout& r) {
    if (r.migration) apply(*r.migration, Event::stop);
    for (auto& m : r.members) {
        auto& c = *m.child;
        if (r.handover) {
            // Only a death fails a handover: the old spec starts in its
            // place (converge), and a new standby that never served goes.
            if (c.spec.generation == m.to.generation) c.spec = m.from;
            if (c.standby && c.standby->generation == m.to.generation) stop_standby(c, "its rollout is rolled back");
            if (c.goal == Goal::restart && c.active && c.active->generation == m.from.generation) want(c, Goal::run);
            // Still serving on the new spec: replaced by the old, once its new standby has gone.
            if (c.active && c.active->generation == m.to.generation && c.active->phase == Phase::running &&
                c.goal == Goal::run && !c.standby)
                want(c, Goal::restart);
            continue;
        }
        if (c.successor) {
            // A new one that never served goes; an old one being restored is waited for.
            if (c.successor->generation == m.to.generation) apply(*c.successor, Event::stop);
            continue;
        }
        if (c.spec.generation == m.to.generation) c.spec = m.from;
        // A standby started from the new spec (behind a replaced instance) goes too.
        if (c.standby && c.standby->generation == m.to.generation) stop_standby(c, "its rollout is rolled back");
        if (m.stuck || !c.active || c.active->generation != m.to.generation) continue;
        if (c.active->phase == Phase::running && c.goal == Goal::run) {
            try {
                spawn_successor(c);
                say(c.path + ": starting generation " + std::to_string(m.from.generation) + " again beside pid " +
                    std::to_string(c.active->pid));
            } catch (const std::exception& e) {
                m.stuck = true;
                say(c.path + ": cannot start its old spec again (" + e.what() + "); it stays on the new one");
            }
        } else if (c.active->phase == Phase::starting) {
            apply(*c.active, Event::stop);  // never served: its death starts the old spec
        }
    }
}

void Supervisor::fail_rollout(Rollout& r, const std::string& why) {
    if (!r.failure.empty()) return;
    r.failure = why;
    uv_timer_stop(r.gate.get());
    say(r.path + ": " + why + "; rolling back");
    touch_all();
    step();
}

void Supervisor::spawn_successor(Child& c) {
    bool notify = false;
    c.successor = start_instance(c, Role::successor, notify);
    say(c.path + ": generation " + std::to_string(c.successor->generation) + " starting (pid " +
        std::to_string(c.successor->pid) + ") beside pid " + std::to_string(c.active->pid));
    emit("started", c.path, c.successor->pid, "", "upgrade: generation " + std::to_string(c.successor->generation));
    enter(*c.successor, Phase::starting);
    // Without a way to say it is ready, it is as soon as it runs.
    if (!notify) apply(*c.successor, Event::ready);
}

// Not running (stopped by request, or down for good): nothing to overlap.
void Supervisor::take_at_next_start(Rollout::Member& m) {
    m.child->spec = m.to;
    say(m.child->path + ": not running; it takes generation " + std::to_string(m.to.generation) +
        " at its next start");
}

void Supervisor::hand_over(Rollout::Member& m) {
    auto& c = *m.child;
    if (c.spec.generation != m.to.generation) {
        if (!c.wants_running()) return take_at_next_start(m);
        // Its turn comes once it serves: a start or stop under way finishes first.
        if (!c.active || c.active->phase != Phase::running || c.goal != Goal::run) return;
        // From now on a standby is of the new spec, whoever starts it.
        c.spec = m.to;
        c.standby_refused = false;
    }
    if (c.goal != Goal::run || !c.active) return;  // handing over: the standby is activated once the old one is gone
    if (c.standby && c.standby->generation != m.to.generation) {
        stop_standby(c, "a new version takes over");
        return;
    }
    if (!c.standby) {
        // A fork or an fd refused is logged and tried again a second later:
        // the handover waits for it.
        spawn_standby(c);
        if (!c.standby) return;
        say(c.path + ": generation " + std::to_string(m.to.generation) + " starting as a standby (pid " +
            std::to_string(c.standby->pid) + ") beside pid " + std::to_string(c.active->pid));
        return;
    }
    if (c.standby->phase != Phase::idle || c.active->phase != Phase::running) return;
    say(c.path + ": generation " + std::to_string(m.to.generation) + " idle (pid " + std::to_string(c.standby->pid) +
        "); stopping pid " + std::to_string(c.active->pid) + ", and the standby serves the moment it is gone");
    want(c, Goal::restart);
    c.next_cause = Cause::upgrade;
    step();  // from inside a step: converge looks again, and stops it
}

bool Supervisor::handover_failed(Child& c, std::uint64_t generation, const std::string& how) {
    auto* r = rollout_of(c);
    auto* m = r ? member_of(*r, c) : nullptr;
    if (!m || !r->handover || !r->failure.empty() || generation != m->to.generation) return false;
    c.spec = m->from;
    c.standby_refused = false;  // the new version's refusal, not the old one's
    fail_rollout(*r, c.path + " (new, as a standby) " + how);
    return true;
}

// The successor is ready: it serves in the active one's place, which
// retires (stopped, with its shutdown time to finish what it serves).
void Supervisor::succeed(Instance& successor) {
    auto& c = *successor.child;
    auto old = std::move(c.active);
    c.active = std::move(c.successor);
    auto& i = *c.active;
    i.role = Role::active;
    counted_start(c);
    c.last_cause = Cause::upgrade;
    enter(i, Phase::running);
    emit("ready", c.path, i.pid, "", "", static_cast<std::int64_t>(loop_.now() - i.started_ms));
    c.ready_times.add(loop_.now() - i.started_ms);
    std::string said = c.path + ": generation " + std::to_string(i.generation) + " ready (pid " +
                       std::to_string(i.pid) + ") in " + std::to_string(loop_.now() - i.started_ms) + " ms";
    if (old) {
        said += "; stopping pid " + std::to_string(old->pid) + " (generation " + std::to_string(old->generation) + ")";
        old->role = Role::retiring;
        c.retiring.push_back(std::move(old));
        apply(*c.retiring.back(), Event::stop);
    }
    say(said);
    step();
}

bool Supervisor::rollout_failed(Child& c, Phase phase, std::uint64_t ready_ms, std::uint64_t generation,
                                const std::string& how) {
    auto* r = rollout_of(c);
    auto* m = r ? member_of(*r, c) : nullptr;
    if (!m || !r->failure.empty() || generation != m->to.generation || phase == Phase::stopping) return false;
    std::string why;
    if (ready_ms == 0) why = c.path + " (new) ended (" + how + ") before it was ready";
    else if (loop_.now() - ready_ms < r->min_uptime_ms)
        why = c.path + " (new) ended (" + how + ") " + seconds(loop_.now() - ready_ms) + " after it was ready";
    else return false;
    // Its old spec is started in its place, as the rollback's first step:
    // no strategy, and no restart counted against the intensity.
    c.spec = m->from;
    c.not_before_ms = 0;
    if (c.goal == Goal::restart) want(c, Goal::run);
    // A standby of the new spec would be activated in its place: it goes,
    // and the old spec is started anew.
    if (c.standby && c.standby->generation == m->to.generation) stop_standby(c, "its rollout is rolled back");
    fail_rollout(*r, why);
    return true;
}

void Supervisor::on_successor_death(Child& c, int status) {
    auto ended = retire(std::move(c.successor), status);
    touch(c);
    auto* r = rollout_of(c);
    auto* m = r ? member_of(*r, c) : nullptr;
    std::string how = "ended (" + ended.how + ") before it was ready";
    if (ended.phase == Phase::unready) how = "was not ready within " + seconds(c.spec.start_timeout_ms);
    if (ended.phase == Phase::stopping || !m) {
        log("%s: new instance (pid %d) stopped: %s", c.path.c_str(), ended.pid, ended.how.c_str());
    } else if (r->failure.empty()) {
        c.spec = m->from;
        fail_rollout(*r, c.path + " (new) " + how);
    } else {
        // Its old spec, started again during a rollback, did not start:
        // the new instance that still serves is left as it is.
        m->stuck = true;
        say(c.path + ": generation " + std::to_string(m->from.generation) + " " + how +
            ", started again in a rollback; the new instance stays");
    }
    step();
}

void Supervisor::on_retiring_death(Instance& i, int status) {
    auto& c = *i.child;
    auto it = std::find_if(c.retiring.begin(), c.retiring.end(), [&](auto& p) { return p.get() == &i; });
    auto ended = retire(std::move(*it), status);
    c.retiring.erase(it);
    touch(c);
    say(c.path + ": old instance (pid " + std::to_string(ended.pid) + ") stopped: " + ended.how);
    emit("exited", c.path, ended.pid, "stopped", "old instance: " + ended.how, static_cast<std::int64_t>(ended.uptime_ms));
    step();
}

}  // namespace seq::sup
