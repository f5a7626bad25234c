// Supervisor::reconfigure: a new spec for the children, converged to
// without disturbing what did not change (seqctl reload).
#include <algorithm>

#include "log.hpp"
#include "reload_summary.hpp"
#include "supervisor.hpp"
#include "tree_file.hpp"

namespace seq::sup {

std::string Supervisor::reconfigure(const SupervisorSpec& given, Environment env) {
    // A dynamic supervisor's children are in no file: the same ones, made
    // again from its template, so that a new template restarts each of
    // them and the same one leaves them be.
    SupervisorSpec spec = given;
    // The top numbers each spec's generation for the whole tree; a nested
    // supervisor is handed them.
    if (env_.path.empty()) number_generations(running_spec(), spec);
    rolled_back_.clear();  // what runs is the file's again, or on its way
    said_.clear();
    const auto pools_before = pools_;
    if (spec.dynamic()) spec.children = dynamic_children(spec.child_template.front());
    env.path = env_.path;
    env.self = env_.self;
    env.marker = env_.marker;  // the tree's, for all it starts after the reload too
    env.stash_acl = env_.stash_acl;  // stash_acl cannot change at a reload
    env.stash_operator = env_.stash_operator;
    // Every child was given the stash's path at its start: a new one is a
    // change for all of them.
    const bool stash_changed = env.stash != env_.stash;
    // New bounds for a crash loop: counted anew under them.
    if (env.crash_loop_restarts != env_.crash_loop_restarts || env.crash_loop_seconds != env_.crash_loop_seconds)
        crash_loops_.reset();
    if (env.on_event != env_.on_event) {
        if (!env.on_event) hooks_.reset();
        else if (hooks_) hooks_->respec(*env.on_event);
        else hooks_ = std::make_unique<EventHooks>(loop_.get(), side_, *env.on_event);
    }
    env_ = std::move(env);
    // Indices change below: what pending_ holds, ordered by them, is made anew after.
    pending_.clear();
    // Nothing converges while children_ is made anew: a step asked for
    // meanwhile (a nested supervisor's answer, given at once if its channel
    // is found closed) runs at the end, or never if this throws.
    struct Rebuilding {
        bool& converging;
        ~Rebuilding() { converging = false; }
    } rebuilding{converging_ = true};
    std::vector<std::unique_ptr<Child>> next;
    ReloadSummary summary;
    if (spec.strategy != options_.strategy || spec.max_restarts != options_.max_restarts ||
        spec.max_seconds != options_.max_seconds || spec.auto_shutdown != options_.auto_shutdown) {
        options_.auto_shutdown = spec.auto_shutdown;
        options_.strategy = spec.strategy;
        options_.max_restarts = spec.max_restarts;
        options_.max_seconds = spec.max_seconds;
        intensity_ = Intensity(spec.max_restarts, spec.max_seconds * 1000);  // a new window
        summary.acted(ReloadAction::in_place, "the supervisor's flags (" + std::string(to_string(spec.strategy)) +
                                                  ", at most " + std::to_string(spec.max_restarts) + " restarts in " +
                                                  std::to_string(spec.max_seconds) + "s)");
    }
    if (spec.child_template != options_.child_template || spec.max_children != options_.max_children) {
        options_.child_template = spec.child_template;
        options_.max_children = spec.max_children;
        summary.acted(ReloadAction::in_place, "the template");
    }
    for (auto& want : expand(spec.children)) {
        auto it = std::find_if(children_.begin(), children_.end(), [&](auto& c) {
            return c && c->goal != Goal::removed && c->spec.name == want.name && c->spec.type == want.type;
        });
        if (it == children_.end()) {
            next.push_back(make_child(want));
            summary.added(want.name);
            continue;
        }
        auto c = std::move(*it);
        const auto state = state_of(*c);
        const auto action = reload_action(
            c->spec, want, stash_changed,
            ChildNow{c->active != nullptr, state == State::running, c->goal == Goal::run});
        if (action == ReloadAction::unchanged) {
            summary.acted(action, c->spec.name);
        } else if (action == ReloadAction::in_place) {
            // Its own fields take effect as they are used; its subtree is
            // its business: what is unchanged there keeps running too.
            bool subtree_changed = !(c->spec.sub == want.sub) || stash_changed;
            // What was asked below it lasts while the spec it was asked of is unchanged.
            std::erase_if(c->asked_below, [&](auto& asked) {
                auto* before = find_spec(c->spec.sub, asked.first);
                auto* after = find_spec(want.sub, asked.first);
                return !before || !after || !(*before == *after);
            });
            auto sub_before = c->spec.sub;  // what runs there, if the reload there fails
            if (c->goal == Goal::held && want.autostart) c->goal = Goal::run;
            const bool forward = subtree_changed && (state == State::running || state == State::starting) && c->subtree;
            // What it will do, as its last snapshot shows its children.
            auto* seen = forward ? c->subtree->snapshot() : nullptr;
            auto inner = forward ? subtree_summary(c->spec.sub, want.sub, c->spec.name, stash_changed,
                                                seen ? &seen->children : nullptr)
                              : std::string();
            c->spec = want;
            // A nested supervisor still starting runs its old subtree too.
            if (forward) {
                Tree sub;
                sub.root = want.sub;
                // A new subtree (a tree file's text) to converge to, and the stash its children get.
                auto answered = [this, alive = std::weak_ptr<unsigned>(reloads_below_), name = c->spec.name,
                                 path = c->path, before = std::move(sub_before),
                                 sent = want.sub](std::optional<std::string> why) {
                    if (alive.expired()) return;
                    // Refused or rolled back there: the old subtree is what a
                    // restart of it starts, and what the next reload compares with.
                    if (why)
                        if (auto* kid = find(name); kid && kid->spec.sub == sent) kid->spec.sub = before;
                    reload_below_answered(path, why);
                };
                ++*reloads_below_;
                if (auto why = c->subtree->command({"RELOAD", write_tree(sub), env_.stash}, answered)) {
                    --*reloads_below_;
                    log("%s: %s", c->path.c_str(), why->c_str());
                }
            }
            summary.acted(action, inner.empty() ? c->spec.name : c->spec.name + " (" + inner + ")");
        } else if (action == ReloadAction::rolled) {
            // Instance by instance, each new one beside an old one (rollout.hpp).
            auto pool = pools_before.find(want.pool);
            roll(*c, want, pool != pools_before.end() ? &pool->second.spec : nullptr);
            summary.acted(action, c->spec.name + " (" + std::string(to_string(want.update)) + ")");
        } else {
            stop_standby(*c, "its spec changed");  // started from the old one
            // A stop asked for lasts only while its spec is unchanged.
            bool stays_down = !c->active && c->goal == Goal::held && !want.autostart;
            c->spec = want;
            c->goal = c->active ? Goal::restart : stays_down ? Goal::held : Goal::run;
            c->next_cause = Cause::reload;
            c->asked_below.clear();
            summary.acted(action, c->spec.name);
        }
        next.push_back(std::move(c));
    }
    // What is no longer wanted is stopped, last in the order so first to go.
    for (auto& c : children_)
        if (c) {
            if (c->goal != Goal::removed) summary.removed(c->spec.name);
            c->goal = Goal::removed;
            next.push_back(std::move(c));
        }
    children_ = std::move(next);
    pending_.clear();  // what was touched above was ordered by the old indices
    for (std::size_t i = 0; i < children_.size(); ++i) children_[i]->index = i;
    touch_all();
    auto said = summary.text();
    log("reloaded: %s", said.c_str());
    converging_ = false;
    step();
    return said;
}

}  // namespace seq::sup
