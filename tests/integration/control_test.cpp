// Per-child control on real processes: seqctl stop, start and signal under
// each strategy (siblings untouched, nothing counted for intensity), a stop
// that lasts across a reload and across a restart of its parent supervisor,
// autostart = false, and what RESTARTS counts.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

// Says which signal it got, by its name and pid, and goes on. Ready once
// its trap is set, so that no signal sent once it runs can find it without.
std::string trapping_child(const std::string& name) {
    return sh_child(name,
                    "trap 'echo \"$SEQ_NAME got USR1 in $$\"' USR1; echo >&$SEQ_NOTIFY_FD; "
                    "while :; do sleep 100 & wait $!; done",
                    "readiness = \"notify-fd\"");
}

// A reply may wait on starts and stops: room for a slow, loaded machine.
Shell seqctl(const TreeSup& t, const std::string& args) {
    return sh(bin("seqctl") + " --run-dir " + t.run + " --timeout 20000 " + args + " 2>&1");
}

// The state STATUS gives `path`; "" while STATUS has none (a nested
// supervisor's first snapshot not yet in).
std::string state_of(const TreeSup& t, const std::string& path) {
    try {
        return t.child(path).state;
    } catch (const std::exception&) {
        return "";
    }
}

std::map<std::string, pid_t> pids(const TreeSup& t) {
    std::map<std::string, pid_t> out;
    for (auto& [path, s] : tree_status(t.run)) out[path] = s.pid;
    return out;
}

}  // namespace

TEST_CASE("seqctl stop, start and signal one child under each strategy: its siblings untouched, no intensity counted") {
    for (std::string strategy : {"one_for_one", "one_for_all", "rest_for_one"}) {
        CAPTURE(strategy);
        TempDir dir;
        TreeSup t(dir, "strategy = \"" + strategy + "\"\nmax_restarts = 0\nmax_seconds = 60\n" + trapping_child("a") +
                           trapping_child("b") + trapping_child("c"));
        INFO("supervisor log:\n", t.proc->log());
        auto before = pids(t);

        // Stop b, the middle one: a death any strategy would act on, were
        // it not asked for; with max_restarts = 0 one counted would end it all.
        auto r = seqctl(t, "stop b");
        CHECK(r.code == 0);
        CHECK(r.out == "OK\n");
        auto b = t.child("b");
        CHECK(b.state == "stopped");
        CHECK(b.stopped_by == "request");
        CHECK(b.pid == 0);
        CHECK_FALSE(alive(before.at("b")));
        CHECK(t.child("a").pid == before.at("a"));
        CHECK(t.child("c").pid == before.at("c"));
        CHECK(t.restarts_in_window() == 0);
        CHECK(seqctl(t, "status").out.find("by request") != std::string::npos);
        CHECK(log_has(t, "b: stop requested"));

        // It stays down: stopping it again changes nothing.
        CHECK(seqctl(t, "stop b").code == 0);
        CHECK(t.child("b").state == "stopped");

        // Start it: it alone starts.
        r = seqctl(t, "start b");
        CHECK(r.code == 0);
        b = t.child("b");
        CHECK(b.state == "running");
        CHECK(b.pid != before.at("b"));
        CHECK(b.restarts == 1);
        CHECK(b.last_start == "request");
        CHECK(t.child("a").pid == before.at("a"));
        CHECK(t.child("c").pid == before.at("c"));
        CHECK(t.restarts_in_window() == 0);

        // Signal it: the process gets it, and lives on.
        r = seqctl(t, "signal b usr1");
        CHECK(r.code == 0);
        CHECK(log_has(t, "b got USR1 in " + std::to_string(b.pid)));
        CHECK(t.child("b").pid == b.pid);
        CHECK(seqctl(t, "signal b 10").code == 0);  // by number
        CHECK(t.child("a").pid == before.at("a"));
        CHECK(t.child("c").pid == before.at("c"));
        CHECK(t.restarts_in_window() == 0);
        CHECK(t.proc->running());
    }
}

TEST_CASE("seqctl stop, start and signal refuse what they cannot do, naming it, and change nothing") {
    TempDir dir;
    TreeSup t(dir, trapping_child("a") + trapping_child("b"));
    INFO("supervisor log:\n", t.proc->log());
    auto before = pids(t);
    auto r = seqctl(t, "stop nope");
    CHECK(r.code == 1);
    CHECK(r.out.find("ERR no child at 'nope' (children: a, b)") != std::string::npos);
    r = seqctl(t, "signal a WINCH");
    CHECK(r.code == 1);
    CHECK(r.out.find("'WINCH' is not a signal to send: one of HUP, INT, QUIT, KILL, USR1, USR2, TERM") !=
          std::string::npos);
    CHECK(seqctl(t, "signal a 0").code == 1);
    CHECK(seqctl(t, "start").code == 2);  // a path is needed
    REQUIRE(seqctl(t, "stop a").code == 0);
    r = seqctl(t, "signal a HUP");
    CHECK(r.code == 1);
    CHECK(r.out.find("ERR a is not running: there is no process to signal") != std::string::npos);
    CHECK(t.child("b").pid == before.at("b"));
    // The control socket's own words, for any Redis client.
    CHECK(call(t.run + "/control.sock", {"SIGNAL", "b"}).str == "ERR wrong number of arguments for 'signal' command");
    CHECK(call(t.run + "/control.sock", {"START", "b"}).str == "OK");
}

TEST_CASE("a child stopped by hand stays stopped across a reload, and starts again once its spec changes") {
    TempDir dir;
    TreeSup t(dir, trapping_child("a") + trapping_child("b"));
    INFO("supervisor log:\n", t.proc->log());
    REQUIRE(seqctl(t, "stop b").code == 0);
    auto a = t.child("a").pid;
    // Unchanged: b stays down; a new child c starts.
    std::ofstream(t.file) << trapping_child("a") + trapping_child("b") + trapping_child("c");
    auto r = seqctl(t, "reload");
    CHECK(r.code == 0);
    CHECK(eventually([&] { return t.child("c").state == "running"; }));
    CHECK(t.child("b").state == "stopped");
    CHECK(t.child("a").pid == a);
    // Changed: what was asked of the old spec no longer holds.
    std::ofstream(t.file) << trapping_child("a") +
                                 sh_child("b", "exec sleep 1003") +
                                 trapping_child("c");
    CHECK(seqctl(t, "reload").code == 0);
    CHECK(eventually([&] { return t.child("b").state == "running"; }));
    CHECK(t.child("b").last_start == "reload");
    CHECK(t.child("a").pid == a);
}

TEST_CASE("a child stopped by hand below a nested supervisor stays stopped when that supervisor is restarted by escalation") {
    TempDir dir;
    // jobs gives up at its first crash (max_restarts = 0): the escalation
    // restarts it, a new process, which must keep jobs/a down.
    TreeSup t(dir, "max_restarts = 5\nmax_seconds = 60\n"
                   "[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\nmax_restarts = 0\n"
                   "  [[child.child]]\n  name = \"a\"\n  command = [\"sleep\", \"1000\"]\n"
                   "  [[child.child]]\n  name = \"b\"\n  command = [\"sleep\", \"1001\"]\n");
    INFO("supervisor log:\n", t.proc->log());
    REQUIRE(seqctl(t, "stop jobs/a").code == 0);
    CHECK(t.child("jobs/a").state == "stopped");
    CHECK(t.child("jobs/a").stopped_by == "request");
    auto jobs = t.child("jobs").pid;
    auto b = t.child("jobs/b").pid;
    // A crash of b: jobs gives up (exit 1), and is restarted by its parent.
    REQUIRE(kill(b, SIGKILL) == 0);
    CHECK(eventually([&] {
        try {
            auto st = tree_status(t.run);
            return st.at("jobs").pid != jobs && st.at("jobs").state == "running" && st.at("jobs/b").state == "running" &&
                   st.at("jobs/b").pid != b;
        } catch (const std::exception&) {
            return false;
        }
    }));
    CHECK(log_has(t, "giving up"));
    CHECK(t.child("jobs/a").state == "stopped");
    CHECK(t.child("jobs/a").stopped_by == "request");
    CHECK(t.child("jobs/a").pid == 0);
    // And it starts by hand again, through the new process.
    CHECK(seqctl(t, "start jobs/a").code == 0);
    CHECK(t.child("jobs/a").state == "running");
    // A whole nested supervisor stopped: its subtree goes, in reverse order.
    CHECK(seqctl(t, "stop jobs").code == 0);
    CHECK(t.child("jobs").state == "stopped");
    CHECK(log_has(t, "stopping children in reverse order"));
    CHECK(seqctl(t, "start jobs").code == 0);
    CHECK(eventually([&] { return state_of(t, "jobs/b") == "running"; }));
}

TEST_CASE("autostart = false: the tree starts without the child, seqctl start brings it up, a restart of its siblings leaves it") {
    TempDir dir;
    TreeSup t(dir, "strategy = \"one_for_all\"\n" + trapping_child("a") +
                       sh_child("manual", "echo manual ran; exec sleep 1000", "autostart = false"),
              false);
    INFO("supervisor log:\n", t.proc->log());
    REQUIRE(eventually([&] { return state_of(t, "a") == "running"; }));
    auto m = t.child("manual");
    CHECK(m.state == "stopped");
    CHECK(m.stopped_by == "autostart");
    CHECK(seqctl(t, "status").out.find("autostart = false") != std::string::npos);
    // A crash of a under one_for_all restarts every sibling, but not it.
    REQUIRE(kill(t.child("a").pid, SIGKILL) == 0);
    CHECK(eventually([&] { return t.child("a").restarts == 1 && t.child("a").state == "running"; }));
    CHECK(t.child("manual").state == "stopped");
    CHECK(t.proc->log().find("manual ran") == std::string::npos);
    CHECK(seqctl(t, "start manual").code == 0);
    CHECK(t.child("manual").state == "running");
    CHECK(log_has(t, "manual ran"));
}

TEST_CASE("RESTARTS counts every start after the first, and status says what caused the last one") {
    TempDir dir;
    TreeSup t(dir, trapping_child("a"));
    INFO("supervisor log:\n", t.proc->log());
    CHECK(t.child("a").restarts == 0);
    CHECK(t.child("a").last_start.empty());
    REQUIRE(kill(t.child("a").pid, SIGKILL) == 0);
    CHECK(eventually([&] { return t.child("a").restarts == 1 && t.child("a").state == "running"; }));
    CHECK(t.child("a").last_start == "strategy");
    REQUIRE(seqctl(t, "restart a").code == 0);
    CHECK(t.child("a").restarts == 2);
    CHECK(t.child("a").last_start == "request");
    std::ofstream(t.file) << sh_child("a", "exec sleep 1002");
    REQUIRE(seqctl(t, "reload").code == 0);
    CHECK(eventually([&] { return t.child("a").restarts == 3 && t.child("a").state == "running"; }));
    CHECK(t.child("a").last_start == "reload");
    CHECK(seqctl(t, "status --json").out.find("\"last_start\": \"reload\"") != std::string::npos);
}

TEST_CASE("a tree of more than 1024 children below a nested supervisor: its snapshot reaches the top, and seqctl status lists them") {
    TempDir dir;
    // Its start_timeout: a thousand forks take seconds on a small machine.
    std::string tree = "[[child]]\nname = \"pool\"\ntype = \"supervisor\"\nstart_timeout = 100000\n";
    for (int i = 0; i < 1100; ++i)
        tree += "  [[child.child]]\n  name = \"c" + std::to_string(i) + "\"\n  command = [\"sleep\", \"1000\"]\n";
    TreeSup t(dir, tree, false);
    INFO("supervisor log tail:\n", t.proc->log().substr(t.proc->log().size() > 2000 ? t.proc->log().size() - 2000 : 0));
    CHECK(eventually([&] { return state_of(t, "pool/c1099") == "running"; }, 60000ms));
    auto r = seqctl(t, "status");
    CHECK(r.code == 0);
    CHECK(r.out.find("  c1099 ") != std::string::npos);
    CHECK(t.proc->log().find("garbled") == std::string::npos);
    CHECK(seqctl(t, "stop pool/c7").code == 0);
    CHECK(t.child("pool/c7").stopped_by == "request");
}

TEST_CASE("seqctl start of a job that ends at once answers once it has run, and restart waits for a child added by a reload below a nested supervisor") {
    TempDir dir;
    TreeSup t(dir, sh_child("keeper", "exec sleep 1000") +
                       sh_child("job", "echo job ran", "restart = \"temporary\"\nautostart = false") +
                       "[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
                       "  [[child.child]]\n  name = \"a\"\n  command = [\"sleep\", \"1000\"]\n",
              false);
    INFO("supervisor log:\n", t.proc->log());
    REQUIRE(eventually([&] { return state_of(t, "jobs/a") == "running"; }, 20000ms));
    // It runs for a moment: its reply comes though no look saw it running.
    for (int i = 0; i < 3; ++i) {
        auto r = seqctl(t, "start job");
        CHECK(r.code == 0);
        CHECK(r.out == "OK\n");
        // The reply may come while it still runs (a start then is a no-op,
        // as for any running child): the next start waits for its end.
        REQUIRE(eventually([&] { return state_of(t, "job") == "stopped"; }));
    }
    CHECK(t.child("job").restarts == 2);
    // Added below jobs by a reload, and restarted before jobs has said so.
    std::ofstream(t.file) << sh_child("keeper", "exec sleep 1000") +
                                 sh_child("job", "echo job ran", "restart = \"temporary\"\nautostart = false") +
                                 "[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
                                 "  [[child.child]]\n  name = \"a\"\n  command = [\"sleep\", \"1000\"]\n"
                                 "  [[child.child]]\n  name = \"new\"\n  command = [\"sleep\", \"1001\"]\n";
    REQUIRE(seqctl(t, "reload").code == 0);
    auto r = seqctl(t, "restart jobs/new");
    CHECK(r.code == 0);
    CHECK(state_of(t, "jobs/new") == "running");
    // Below a supervisor that is stopped, a restart is refused at once, not waited on.
    REQUIRE(seqctl(t, "stop jobs").code == 0);
    r = seqctl(t, "restart jobs/a");
    CHECK(r.code == 1);
    CHECK(r.out.find("ERR jobs is not running") != std::string::npos);
}
