// What a reload does to each child, decided in one place: the supervisor
// acts on it (Supervisor::reconfigure) and the reply names it, in words that
// say what happened to the process (seqctl reload).
#pragma once

#include <string>
#include <vector>

#include "report.hpp"
#include "tree.hpp"

namespace seq::sup {

enum class ReloadAction {
    unchanged,
    in_place,    // a nested supervisor, running on: its subtree converges to the new one
    rolled,      // replaced instance by instance (update = "rolling" or "handover")
    restarted,   // stopped, then started from the new spec
    changed_down  // no process: the new spec is what it starts from, if it starts
};

// Where a child is as the reload finds it.
struct ChildNow {
    bool active = false;   // it has a process
    bool running = false;  // that process is up and ready
    bool wanted = false;   // it is meant to run (not stopped by hand nor being removed)
};

ReloadAction reload_action(const ChildSpec& now, const ChildSpec& want, bool stash_changed, ChildNow state);

// The reply: "added: d; removed: b; restarted: c; changed in place: jobs
// (added jobs/z; restarted jobs/y); unchanged: a". Empty lists are left out.
class ReloadSummary {
public:
    void added(std::string name) { lists_[0].push_back(std::move(name)); }
    void removed(std::string name) { lists_[1].push_back(std::move(name)); }
    void acted(ReloadAction a, std::string name);
    // At the top each list is named once ("restarted: a, b"); inside a
    // nested supervisor's parentheses each name keeps its action beside it
    // and the unchanged go unnamed ("added jobs/z; restarted jobs/y").
    std::string text() const;
    std::string inner_text() const;

private:
    std::vector<std::string> lists_[7];
};

// What a nested supervisor changed in place will do with its new subtree,
// as its parent can tell: the subtree before and after, and the states in
// its last snapshot (none: every child taken as running). `path` prefixes
// each name. Empty when nothing below changes.
std::string subtree_summary(const SupervisorSpec& before, const SupervisorSpec& after, const std::string& path,
                            bool stash_changed, const std::vector<ChildReport>* states);

}  // namespace seq::sup
