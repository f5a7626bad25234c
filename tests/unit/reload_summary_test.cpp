// What a reload does to each child, and the words the reply says it in:
// every action of the decision, and the summary of a nested supervisor's
// subtree as its parent tells it from the specs and its last snapshot.
#include <doctest/doctest.h>

#include <string>

#include "reload_summary.hpp"
#include "tree_file.hpp"

using namespace seq::sup;

namespace {

Tree parse(const std::string& text) { return parse_tree(text, "/tmp/reload-summary.toml", {"/bin", "/usr/bin:/bin", ""}); }

const ChildSpec& child(const Tree& t, std::string_view name) {
    auto* c = find_spec(t.root, name);
    REQUIRE(c);
    return *c;
}

const std::string v1 = R"(
[[child]]
name = "a"
command = ["sleep", "1"]
[[child]]
name = "web"
command = ["sleep", "1"]
update = "rolling"
instances = 2
[[child]]
name = "jobs"
type = "supervisor"
  [[child.child]]
  name = "x"
  command = ["sleep", "1"]
  [[child.child]]
  name = "ticker"
  command = ["sleep", "1"]
)";

}  // namespace

TEST_CASE("reload_action: unchanged, in place, rolled, restarted or changed while down") {
    auto before = parse(v1);
    auto same = parse(v1);
    const ChildNow running{true, true, true}, held{false, false, false}, backing_off{false, false, true};
    CHECK(reload_action(child(before, "a"), child(same, "a"), false, running) == ReloadAction::unchanged);
    // A new stash is a change for every child, even one whose spec is the same.
    CHECK(reload_action(child(before, "a"), child(same, "a"), true, running) == ReloadAction::restarted);
    std::string changed = v1;
    changed.replace(changed.find("\"sleep\", \"1\"]"), 13, "\"sleep\", \"2\"]");  // a's command
    auto a2 = parse(changed);
    CHECK(reload_action(child(before, "a"), child(a2, "a"), false, running) == ReloadAction::restarted);
    CHECK(reload_action(child(before, "a"), child(a2, "a"), false, held) == ReloadAction::changed_down);
    CHECK(reload_action(child(before, "a"), child(a2, "a"), false, backing_off) == ReloadAction::changed_down);
    // A rolling worker rolls only while it runs, and not onto a new stash.
    std::string web2 = v1;
    web2.replace(web2.find("update"), 0, "env = { V = \"2\" }\n");
    auto w2 = parse(web2);
    CHECK(reload_action(child(before, "web"), child(w2, "web"), false, running) == ReloadAction::rolled);
    CHECK(reload_action(child(before, "web"), child(w2, "web"), true, running) == ReloadAction::restarted);
    CHECK(reload_action(child(before, "web"), child(w2, "web"), false, {true, false, true}) ==
          ReloadAction::restarted);  // still starting
    CHECK(reload_action(child(before, "web"), child(w2, "web"), false, held) == ReloadAction::changed_down);
    // A nested supervisor runs on unless the sockets it is handed change.
    std::string jobs2 = v1 + "  [[child.child]]\n  name = \"z\"\n  command = [\"sleep\", \"1\"]\n";
    auto j2 = parse(jobs2);
    CHECK(reload_action(child(before, "jobs"), child(j2, "jobs"), false, running) == ReloadAction::in_place);
    CHECK(reload_action(child(before, "jobs"), child(j2, "jobs"), true, held) == ReloadAction::in_place);
    // (A key after [[child.child]] is the grandchild's: the sockets jobs is handed change.)
    auto j3 = parse(v1 + "  sockets = [\"s\"]\n");
    CHECK(reload_action(child(before, "jobs"), child(j3, "jobs"), false, running) == ReloadAction::restarted);
    // A changed spec of a process being removed or held: no rollout, as no
    // rollout replaces what is not wanted.
    CHECK(reload_action(child(before, "web"), child(w2, "web"), false, {true, true, false}) ==
          ReloadAction::restarted);
}

TEST_CASE("ReloadSummary: each list named once at the top, each name beside its action inside") {
    ReloadSummary s;
    CHECK(s.text() == "nothing to do: the tree has no children");
    CHECK(s.inner_text().empty());
    s.acted(ReloadAction::unchanged, "stash");
    s.acted(ReloadAction::restarted, "jobs");
    s.acted(ReloadAction::in_place, "web (removed web/ticker)");
    s.acted(ReloadAction::restarted, "mailer");
    s.added("clock");
    s.removed("old");
    s.acted(ReloadAction::rolled, "api#0 (rolling)");
    s.acted(ReloadAction::changed_down, "cron");
    CHECK(s.text() ==
          "added: clock; removed: old; restarted: jobs, mailer; rolling out: api#0 (rolling); changed in place: web "
          "(removed web/ticker); changed while down: cron; unchanged: stash");
    CHECK(s.inner_text() ==
          "added clock; removed old; restarted jobs; restarted mailer; rolling out api#0 (rolling); changed in place "
          "web (removed web/ticker); changed while down cron");
}

TEST_CASE("subtree_summary: what a nested supervisor will do, from the specs and its snapshot") {
    auto before = parse(v1);
    std::string v2 = R"(
[[child]]
name = "jobs"
type = "supervisor"
strategy = "one_for_all"
  [[child.child]]
  name = "x"
  command = ["sleep", "2"]
  [[child.child]]
  name = "z"
  command = ["sleep", "1"]
)";
    auto after = parse(v2);
    auto& was = child(before, "jobs");
    auto& now = child(after, "jobs");
    // No snapshot: every child is taken as running.
    CHECK(subtree_summary(was.sub, now.sub, "jobs", false, nullptr) ==
          "added jobs/z; removed jobs/ticker; restarted jobs/x; changed in place the flags of jobs (one_for_all, at "
          "most 3 restarts in 5s)");
    // x is down: its new spec waits for its start.
    std::vector<ChildReport> states(1);
    states[0].name = "x";
    states[0].state = "stopped";
    CHECK(subtree_summary(was.sub, now.sub, "jobs", false, &states).find("changed while down jobs/x") !=
          std::string::npos);
    // The same subtree: nothing to say.
    CHECK(subtree_summary(was.sub, was.sub, "jobs", false, nullptr).empty());
}

namespace {

ChildReport report(const std::string& name, const std::string& state, std::optional<std::int64_t> pid) {
    ChildReport r;
    r.name = name;
    r.state = state;
    r.pid = pid;
    return r;
}

std::string nested(const std::string& inside) {
    return "[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n" + inside;
}

}  // namespace

TEST_CASE("subtree_summary: a pool's count apart from its spec, as the nested supervisor splits it") {
    auto pool = [](int n, const std::string& arg) {
        return nested("  [[child.child]]\n  name = \"web\"\n  command = [\"sleep\", \"" + arg +
                      "\"]\n  instances = " + std::to_string(n) + "\n");
    };
    auto two = parse(pool(2, "1")), three = parse(pool(3, "1")), three_new = parse(pool(3, "2"));
    auto& was = child(two, "jobs").sub;
    std::vector<ChildReport> states{report("web", "running", std::nullopt)};
    states[0].pool = true;
    states[0].instances = {report("web#0", "running", 10), report("web#1", "running", 11)};
    // One more: only web#2 is new; web#0 and web#1 run on.
    CHECK(subtree_summary(was, child(three, "jobs").sub, "jobs", false, &states) == "added jobs/web#2");
    CHECK(subtree_summary(child(three, "jobs").sub, was, "jobs", false, nullptr) == "removed jobs/web#2");
    // A new command too: the kept ones are restarted, as one.
    CHECK(subtree_summary(was, child(three_new, "jobs").sub, "jobs", false, &states) ==
          "added jobs/web#2; restarted jobs/web");
    // Scaled to 4 since, the file's count unchanged: the 4 stay.
    states[0].instances.push_back(report("web#2", "running", 12));
    states[0].instances.push_back(report("web#3", "running", 13));
    CHECK(subtree_summary(was, child(parse(pool(2, "2")), "jobs").sub, "jobs", false, &states) ==
          "restarted jobs/web");
}

TEST_CASE("subtree_summary: a stopped supervisor below is started from its new subtree, not restarted into it") {
    auto tree = [](const std::string& arg) {
        return nested("  [[child.child]]\n  name = \"inner\"\n  type = \"supervisor\"\n"
                      "    [[child.child.child]]\n    name = \"y\"\n    command = [\"sleep\", \"" + arg + "\"]\n");
    };
    auto a = parse(tree("1")), b = parse(tree("2"));
    std::vector<ChildReport> states{report("inner", "stopped", std::nullopt)};
    CHECK(subtree_summary(child(a, "jobs").sub, child(b, "jobs").sub, "jobs", false, &states) ==
          "changed in place jobs/inner");
    states[0] = report("inner", "running", 20);
    states[0].children = {report("y", "running", 21)};
    CHECK(subtree_summary(child(a, "jobs").sub, child(b, "jobs").sub, "jobs", false, &states) ==
          "changed in place jobs/inner (restarted jobs/inner/y)");
    // A child the snapshot does not show has no process known: not said to be restarted.
    states[0].children.clear();
    CHECK(subtree_summary(child(a, "jobs").sub, child(b, "jobs").sub, "jobs", false, &states) ==
          "changed in place jobs/inner (changed while down jobs/inner/y)");
}

TEST_CASE("subtree_summary: a dynamic supervisor's new template restarts each child added at run time") {
    auto tree = [](const std::string& arg) {
        return nested("  [[child.child]]\n  name = \"dyn\"\n  type = \"dynamic\"\n"
                      "    [child.child.template]\n    command = [\"sleep\", \"" + arg + "\"]\n");
    };
    auto a = parse(tree("1")), b = parse(tree("2"));
    auto& dyn_a = child(a, "jobs/dyn");
    auto& dyn_b = child(b, "jobs/dyn");
    REQUIRE(dyn_b.sub.dynamic());
    std::vector<ChildReport> added{report("a", "running", 30), report("b", "running", 31)};
    CHECK(subtree_summary(dyn_a.sub, dyn_b.sub, "jobs/dyn", false, &added) ==
          "restarted jobs/dyn/a; restarted jobs/dyn/b; changed in place the template of jobs/dyn");
    CHECK(subtree_summary(dyn_a.sub, dyn_b.sub, "jobs/dyn", false, nullptr) ==
          "restarted every child of jobs/dyn; changed in place the template of jobs/dyn");
    // The same template, a new stash: each restarted all the same.
    CHECK(subtree_summary(dyn_a.sub, dyn_a.sub, "jobs/dyn", true, &added) ==
          "restarted jobs/dyn/a; restarted jobs/dyn/b");
}

TEST_CASE("subtree_summary: a rollout under way below refuses the reload there, and the reply says so") {
    auto before = parse(v1);
    std::string v2 = v1;
    v2.replace(v2.rfind("\"sleep\", \"1\""), 12, "\"sleep\", \"2\"");
    auto after = parse(v2);
    std::vector<ChildReport> states{report("x", "running", 40), report("ticker", "running", 41)};
    states[0].rollout = "old";
    CHECK(subtree_summary(child(before, "jobs").sub, child(after, "jobs").sub, "jobs", false, &states) ==
          "refused there: a rollout is under way, which goes on");
    states[0].rollout.reset();
    CHECK(subtree_summary(child(before, "jobs").sub, child(after, "jobs").sub, "jobs", false, &states) ==
          "restarted jobs/ticker");
}
