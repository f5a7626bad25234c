// Pools (a worker's `instances`): N processes of one spec, each a child of
// its own to the supervisor ("web#0" ... "web#N-1", side by side in start
// order), which the strategy sees as one (plan_restart's `pooled`) and
// status shows as one, its instances below it. How many run is the file's
// `instances`, or what `seqctl scale` asked for since, until a reload
// changes the file's number.
#include <algorithm>

#include "log.hpp"
#include "supervisor.hpp"

namespace seq::sup {

std::vector<ChildSpec> Supervisor::expand(const std::vector<ChildSpec>& specs) {
    std::vector<ChildSpec> out;
    decltype(pools_) next;
    for (auto& s : specs) {
        if (s.instances == 0) {
            out.push_back(s);
            continue;
        }
        Pool p{s, s.instances, s.instances, 0};
        if (auto it = pools_.find(s.name); it != pools_.end()) {
            p.starts = it->second.starts;
            // Scaled since, and the file says the same number.
            if (it->second.file_instances == s.instances) p.count = it->second.count;
        }
        for (unsigned k = 0; k < p.count; ++k) out.push_back(member_spec(s, k));
        next.emplace(s.name, std::move(p));
    }
    pools_ = std::move(next);
    return out;
}

std::vector<Child*> Supervisor::members(std::string_view name) const {
    std::vector<Child*> out;
    for (auto& c : children_)
        if (c->goal != Goal::removed && c->spec.pool == name) out.push_back(c.get());
    return out;
}

std::optional<std::string> Supervisor::scale(std::string_view path, unsigned n, Reply done) {
    const std::string p(path.substr(0, 128));
    if (!has_child(path)) return "ERR no child at '" + p + "' (" + children_along(path) + ")";
    if (shutting_down_) return std::string("ERR the supervisor is stopping: nothing is scaled");
    auto [c, rest] = route(path);
    auto not_pool = [&] {
        return "ERR " + p + " is not a pool: only a worker with `instances` in the tree file is scaled";
    };
    if (c && !rest.empty()) {
        auto* spec = find_spec(c->spec.sub, rest);
        if (!spec || spec->instances == 0 || split_member(rest)) return not_pool();
        if (!c->subtree) return "ERR " + c->path + " is not running";
        return c->subtree->command({"SCALE", rest, std::to_string(n)}, std::move(done));
    }
    auto it = pools_.find(path);
    if (it == pools_.end()) return not_pool();
    for (auto& r : rollouts_)
        if (r->name == path)
            return "ERR " + p + " is being rolled out (" + (r->failure.empty() ? "to a new spec" : "back") +
                   "): scale it once that is over (seqctl upgrade waits for it)";
    auto& pool = it->second;
    auto now = members(path);
    log("%s: scaling from %zu to %u instances, as requested", now.front()->pool_path().c_str(), now.size(), n);
    // A pool stopped by request stays so: its new instances too.
    const bool held = std::all_of(now.begin(), now.end(), [](Child* m) { return m->goal == Goal::held; });
    pool.count = n;
    if (n < now.size()) {
        // Stopped as removed children are: the last in start order first.
        for (std::size_t k = n; k < now.size(); ++k) want(*now[k], Goal::removed);
    } else if (n > now.size()) {
        auto at = children_.begin() + static_cast<std::ptrdiff_t>(now.back()->index + 1);
        for (auto k = static_cast<unsigned>(now.size()); k < n; ++k) {
            auto m = make_child(member_spec(pool.spec, k));
            if (held) m->goal = Goal::held;
            at = children_.insert(at, std::move(m)) + 1;
        }
        // Indices change: what pending_ holds, ordered by them, is made anew.
        pending_.clear();
        for (std::size_t i = 0; i < children_.size(); ++i) children_[i]->index = i;
        touch_all();
    }
    step();
    // Done once every instance runs (or, for a pool stopped by request,
    // stays down) and none is on its way out; or once a reload took the
    // pool away meanwhile: nothing is left to wait for.
    await([this, name = std::string(path)] {
        auto state = pools_.count(name) ? state_at(name) : "stopped";
        return state == "running" || state == "stopped";
    }, std::move(done));
    return std::nullopt;
}

void Supervisor::counted_start(Child& c) {
    ++c.spawns;
    if (auto it = pools_.find(c.spec.pool); !c.spec.pool.empty() && it != pools_.end()) ++it->second.starts;
}

void Supervisor::sum_up(ChildReport& pool) {
    auto any = [&](const char* state) {
        return std::any_of(pool.instances.begin(), pool.instances.end(), [&](auto& k) { return k.state == state; });
    };
    auto all = [&](auto pred) { return std::all_of(pool.instances.begin(), pool.instances.end(), pred); };
    pool.restarts = pool.spawns = 0;
    for (auto& k : pool.instances) {
        pool.restarts += k.restarts;
        pool.spawns += k.spawns;
    }
    // Running: every instance that is to run runs (one stopped by request
    // does not make the pool down). What a wait on the pool waits for.
    if (any("stopping")) pool.state = "stopping";
    else if (any("starting")) pool.state = "starting";
    else if (all([](auto& k) { return k.state == "stopped"; })) pool.state = "stopped";
    else if (all([](auto& k) { return k.state == "running" || k.state == "stopped"; })) pool.state = "running";
    else if (any("waiting")) pool.state = "waiting";
    else pool.state = "down";
    pool.settled = all([](auto& k) { return k.settled; });
    pool.busy = !all([](auto& k) { return !k.busy; });
    if (!pool.instances.empty()) pool.sockets = pool.instances.front().sockets;
    for (auto& k : pool.instances) k.sockets.clear();  // the pool's, said once
}

}  // namespace seq::sup
