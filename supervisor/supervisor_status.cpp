// The state of a supervisor's tree as a value: what STATUS answers, and the
// snapshot a nested supervisor sends its parent.
#include <unistd.h>

#include <string_view>
#include <unordered_map>

#include "listen_address.hpp"
#include "socket.hpp"
#include "process.hpp"
#include "supervisor.hpp"

namespace seq::sup {

std::string Supervisor::child_state_name(const Child& c, std::uint64_t now) {
    auto state = state_of(c);
    if (state != State::down) return state_name(state);
    if (!c.wants_running()) return "stopped";
    return c.not_before_ms > now ? "waiting" : "down";
}

TreeReport Supervisor::snapshot() {
    auto now = loop_.now();
    TreeReport r;
    r.strategy = to_string(options_.strategy);
    r.max_restarts = options_.max_restarts;
    r.max_seconds = static_cast<std::int64_t>(options_.max_seconds);
    r.restarts_in_window = static_cast<std::int64_t>(intensity_.recent(now));
    r.pid = getpid();
    r.state = shutting_down_ ? "stopping" : "running";
    r.children.reserve(children_.size());  // one allocation: a large tree is reported many times a second
    std::map<std::string_view, std::size_t> pool_lines;  // where each pool's line is in r.children
    for (auto& c : children_) {
        // An instance of a pool goes below the pool's line, made at its
        // first instance (a reload puts removed ones at the end: still there).
        auto* list = &r.children;
        ChildReport* pool = nullptr;
        if (!c->spec.pool.empty()) {
            auto [at, added] = pool_lines.emplace(c->spec.pool, r.children.size());
            if (added) {
                auto& p = r.children.emplace_back();
                p.name = c->spec.pool;
                p.type = type_name(c->spec);
                p.pool = true;
                p.standby_kept = c->spec.standby;
            }
            pool = &r.children[at->second];
            list = &pool->instances;
        }
        auto& k = list->emplace_back();
        k.name = c->spec.name;
        k.type = type_name(c->spec);
        if (c->active) {
            k.pid = c->active->pid;
            if (!c->active->cgroup.empty()) k.cgroup = c->active->cgroup;
            k.uptime_ms = static_cast<std::int64_t>(now - c->active->started_ms);
        }
        k.state = child_state_name(*c, now);
        k.generation = static_cast<std::int64_t>(c->active ? c->active->generation : c->spec.generation);
        if (auto* r = rollout_of(*c)) {
            auto* m = member_of(*r, *c);
            k.rollout = c->active && c->active->generation == m->to.generation ? "new" : "old";
            if (c->successor) k.surge_pid = c->successor->pid;
            auto& line = pool ? *pool : k;
            std::size_t on_new = 0;
            for (auto& each : r->members)
                if (each.child->active && each.child->active->generation == each.to.generation) ++on_new;
            line.upgrade = r->failure.empty() ? "rolling out generation " + std::to_string(m->to.generation) + ": " +
                                                    std::to_string(on_new) + " of " + std::to_string(r->members.size()) +
                                                    " on it"
                                              : "rolling back: " + r->failure;
        } else if (auto rb = rolled_back_.find(c->spec.pool.empty() ? c->spec.name : c->spec.pool);
                   rb != rolled_back_.end()) {
            (pool ? *pool : k).upgrade = rb->second + " (the tree file is not what runs: reload to try again)";
        }
        for (auto& old : c->retiring) k.draining.push_back(old->pid);
        if (!c->spec.log.file.empty()) {  // a pool's instances share the pool's file
            auto& line = pool ? *pool : k;
            line.log_file = c->spec.log.file;
            line.log_dropped = c->log_file ? static_cast<std::int64_t>(c->log_file->dropped()) : 0;
        }
        // Backing off: how long until it starts again.
        if (k.state == "waiting") k.restart_in_ms = static_cast<std::int64_t>(c->not_before_ms - now);
        // Every start after the first is a restart, whatever caused it.
        k.spawns = static_cast<std::int64_t>(c->spawns);
        k.restarts = c->spawns > 0 ? k.spawns - 1 : 0;
        if (c->spawns > 1) k.last_start = std::string(to_string(c->last_cause));
        if (c->goal == Goal::held && !c->active)
            k.stopped_by = c->spawns == 0 && !c->spec.autostart ? "autostart" : "request";
        if (!c->last_exit.empty()) k.last_exit = c->last_exit;
        if (c->spec.memory_max) k.memory_max = static_cast<std::int64_t>(*c->spec.memory_max);  // each instance's own
        for (auto& so : c->spec.sockets)
            if (auto fd = env_.sockets.find(so.name); fd != env_.sockets.end())
                k.sockets.push_back({so.name, bound_address(fd->second)});
        // Its standby's pid once it is idle and may be activated; a pool's
        // is said on the pool's line.
        auto& keeper = pool ? *pool : k;
        k.standby_kept = c->spec.standby && c->spec.pool.empty();
        if (c->standby && c->standby->phase == lifecycle::Phase::idle) keeper.standby = c->standby->pid;
        if (c->spec.type == ChildType::supervisor) {
            k.strategy = to_string(c->spec.sub.strategy);
            k.max_restarts = c->spec.sub.max_restarts;
            k.max_seconds = static_cast<std::int64_t>(c->spec.sub.max_seconds);
            if (c->spec.sub.dynamic() && c->spec.sub.max_children) k.max_children = c->spec.sub.max_children;
            if (auto* below = c->active && c->subtree ? c->subtree->snapshot() : nullptr) {
                k.restarts_in_window = below->restarts_in_window;
                k.children = below->children;
                age(k.children, static_cast<std::int64_t>(now - c->subtree->received_ms()));
            }
        }
        k.settled = child_settled(*c);
        k.busy = child_busy(*c) || k.rollout.has_value();
        // Scaled down: on its way out.
        if (c->goal == Goal::removed && c->active) k.state = "stopping", k.busy = true;
    }
    for (auto& k : r.children)
        if (k.pool) sum_up(k);
    return r;
}

namespace {

// Each line's use from one pass over /proc: every pid in the tree is in
// our pid namespace, below nested supervisors too.
void add_usage(std::vector<ChildReport>& children, const std::unordered_map<pid_t, Usage>& usage) {
    for (auto& k : children) {
        if (k.pid)
            if (auto it = usage.find(static_cast<pid_t>(*k.pid)); it != usage.end()) {
                k.memory_bytes = static_cast<std::int64_t>(it->second.rss_bytes);
                k.cpu_ms = static_cast<std::int64_t>(it->second.cpu_ms);
            }
        add_usage(k.children, usage);
        add_usage(k.instances, usage);
        if (k.pool)
            for (auto& i : k.instances) {
                if (i.memory_bytes) k.memory_bytes = k.memory_bytes.value_or(0) + *i.memory_bytes;
                if (i.cpu_ms) k.cpu_ms = k.cpu_ms.value_or(0) + *i.cpu_ms;
            }
    }
}

// What this supervisor has counted of each path: its own children's, and
// from nested supervisors those below them.
struct Counted {
    const Deaths* deaths;
    const ReadyTimes* ready_times;
};
using CountedByPath = std::unordered_map<std::string_view, Counted>;

void add_counted(ChildReport& k, const std::string& path, const CountedByPath& counted) {
    auto it = counted.find(path);
    if (it == counted.end()) return;
    for (auto& [reason, n] : it->second.deaths->by_reason()) k.deaths_by_reason[reason] = static_cast<std::int64_t>(n);
    if (it->second.ready_times->count) k.ready_times = *it->second.ready_times;
}

// Each line's deaths by reason and ready times, all told.
void add_counts(std::vector<ChildReport>& children, const std::string& prefix, const CountedByPath& counted) {
    for (auto& k : children) {
        auto path = prefix + k.name;
        add_counted(k, path, counted);
        for (auto& i : k.instances) add_counted(i, prefix + i.name, counted);
        add_counts(k.children, path + "/", counted);
    }
}

}  // namespace

TreeReport Supervisor::report() {
    auto r = snapshot();
    add_usage(r.children, usage_.read());
    CountedByPath counted;
    for (auto& c : children_) {
        counted.emplace(c->path, Counted{&c->deaths, &c->ready_times});
        for (auto& [path, kept] : c->below) counted.emplace(path, Counted{&kept.deaths, &kept.ready_times});
    }
    add_counts(r.children, "", counted);
    return r;
}

void Supervisor::status(std::string& out) { append_report(out, report()); }

}  // namespace seq::sup
