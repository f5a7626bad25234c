#include "reload_summary.hpp"

#include <algorithm>

namespace seq::sup {

ReloadAction reload_action(const ChildSpec& now, const ChildSpec& want, bool stash_changed, ChildNow state) {
    if (now == want && !stash_changed) return ReloadAction::unchanged;
    // Its own fields take effect as they are used, and its subtree is its
    // business, unless the sockets it was handed change.
    if (now.type == ChildType::supervisor && want.type == ChildType::supervisor &&
        sockets_of(now.sub) == sockets_of(want.sub))
        return ReloadAction::in_place;
    // Every child was handed the stash's path at its start: a new one needs a new process.
    if (want.update != Update::restart && want.type == ChildType::worker && state.wanted && state.running &&
        !stash_changed)
        return ReloadAction::rolled;
    return state.active ? ReloadAction::restarted : ReloadAction::changed_down;
}

namespace {
constexpr const char* headings[] = {"added",     "removed",           "restarted", "rolling out",
                                    "changed in place", "changed while down", "unchanged"};

std::size_t slot(ReloadAction a) {
    switch (a) {
    case ReloadAction::restarted: return 2;
    case ReloadAction::rolled: return 3;
    case ReloadAction::in_place: return 4;
    case ReloadAction::changed_down: return 5;
    case ReloadAction::unchanged: break;
    }
    return 6;
}

ChildNow now_of(const ChildReport* r) {
    return {r->pid.has_value(), r->state == "running", r->state != "stopped"};
}
}  // namespace

void ReloadSummary::acted(ReloadAction a, std::string name) { lists_[slot(a)].push_back(std::move(name)); }

std::string ReloadSummary::text() const {
    std::string out;
    for (std::size_t i = 0; i < std::size(lists_); ++i) {
        if (lists_[i].empty()) continue;
        out += out.empty() ? "" : "; ";
        out += headings[i];
        out += ": ";
        for (std::size_t k = 0; k < lists_[i].size(); ++k) out += (k ? ", " : "") + lists_[i][k];
    }
    return out.empty() ? "nothing to do: the tree has no children" : out;
}

std::string ReloadSummary::inner_text() const {
    std::string out;
    for (std::size_t i = 0; i + 1 < std::size(lists_); ++i)
        for (auto& name : lists_[i]) out += (out.empty() ? "" : "; ") + std::string(headings[i]) + " " + name;
    return out;
}

namespace {

// Whether a rollout is under way among `children`: the nested supervisor
// then refuses its reload (a rollout there goes on, the new subtree waits).
bool rolling(const std::vector<ChildReport>& children) {
    return std::any_of(children.begin(), children.end(), [](auto& c) {
        return c.rollout || c.surge_pid || (c.pool && rolling(c.instances));
    });
}

}  // namespace

std::string subtree_summary(const SupervisorSpec& before, const SupervisorSpec& after, const std::string& path,
                            bool stash_changed, const std::vector<ChildReport>* states) {
    if (states && rolling(*states)) return "refused there: a rollout is under way, which goes on";
    ReloadSummary s;
    if (before.strategy != after.strategy || before.max_restarts != after.max_restarts ||
        before.max_seconds != after.max_seconds || before.auto_shutdown != after.auto_shutdown)
        s.acted(ReloadAction::in_place, "the flags of " + path + " (" + std::string(to_string(after.strategy)) +
                                            ", at most " + std::to_string(after.max_restarts) + " restarts in " +
                                            std::to_string(after.max_seconds) + "s)");
    const bool new_template = before.child_template != after.child_template || before.max_children != after.max_children;
    if (new_template) s.acted(ReloadAction::in_place, "the template of " + path);
    // A dynamic supervisor's children are in no file: a new template, or a
    // new stash, restarts each of them (they are made again from it).
    if (after.dynamic() && (new_template || stash_changed)) {
        if (!states) s.acted(ReloadAction::restarted, "every child of " + path);
        else
            for (auto& c : *states)
                s.acted(c.pid ? ReloadAction::restarted : ReloadAction::changed_down, path + "/" + c.name);
    }
    auto find = [](const SupervisorSpec& in, const ChildSpec& c) {
        return std::find_if(in.children.begin(), in.children.end(),
                            [&](auto& o) { return o.name == c.name && o.type == c.type; });
    };
    // Where a child is: as the snapshot says; with none yet (the nested
    // supervisor is starting them all), running; absent from one, no process.
    auto now = [&](const ChildReport* r) { return !states ? ChildNow{true, true, true} : r ? now_of(r) : ChildNow{}; };
    for (auto& want : after.children) {
        auto name = path + "/" + want.name;
        auto was = find(before, want);
        if (was == before.children.end()) {
            s.added(name);
            continue;
        }
        const ChildReport* r = states ? find_child(*states, want.name) : nullptr;
        if (was->instances || want.instances) {
            // A pool is its instances, each of the shared spec: those kept
            // are changed as one (the first stands for them), the count
            // apart. A count scaled since stays while the file's is the same.
            ChildSpec a = *was, b = want;
            a.instances = b.instances = 0;
            unsigned had = r && r->pool ? static_cast<unsigned>(r->instances.size()) : was->instances;
            unsigned will = was->instances == want.instances ? had : want.instances;
            auto member = [&](unsigned k) { return name + "#" + std::to_string(k); };
            if (!was->instances || !want.instances) {  // a pool no more, or a pool now: each one anew
                if (!was->instances) s.removed(name);
                for (unsigned k = 0; k < had && was->instances; ++k) s.removed(member(k));
                if (!want.instances) s.added(name);
                for (unsigned k = 0; k < want.instances; ++k) s.added(member(k));
                continue;
            }
            const ChildReport* first = states ? find_child(*states, want.name + "#0") : nullptr;
            auto action = reload_action(a, b, stash_changed, now(first));
            if (action != ReloadAction::unchanged) s.acted(action, name);
            for (unsigned k = will; k < had; ++k) s.removed(member(k));
            for (unsigned k = had; k < will; ++k) s.added(member(k));
            continue;
        }
        auto action = reload_action(*was, want, stash_changed, now(r));
        // What is below a nested supervisor that runs; one that does not
        // starts from its new subtree.
        if (action == ReloadAction::in_place && (!states || (r && (r->state == "running" || r->state == "starting")))) {
            auto inner = subtree_summary(was->sub, want.sub, name, stash_changed, r ? &r->children : nullptr);
            if (!inner.empty()) name += " (" + inner + ")";
        }
        s.acted(action, name);
    }
    for (auto& was : before.children)
        if (find(after, was) == after.children.end()) s.removed(path + "/" + was.name);
    return s.inner_text();
}

}  // namespace seq::sup
