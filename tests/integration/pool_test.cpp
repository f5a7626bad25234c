// Pools (`instances = N`): N processes of one spec on one TCP socket, the
// kernel spreading the connections; each instance restarted alone, never
// its siblings; the pool restarted whole by its siblings' strategy, by a
// request, or by a reload; `seqctl scale` up and down under load; every
// instance told its $SEQ_INDEX.
#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <regex>
#include <set>

#include "harness.hpp"

using namespace seqtest;

namespace {

std::string web_app() { return std::string(SEQ_SOURCE_DIR) + "/scripts/web-app.py"; }

// The stash and a pool "web" of `instances`: the HTTP app (which takes
// Python a third of a second to start on a small machine, and seconds when
// a dozen start at once), or, with `http` false, a shell that sleeps.
std::string pool_tree(int instances, const std::string& strategy = "one_for_one", const std::string& after = "",
                      bool http = true) {
    std::string web = http ? "command = [\"" + web_app() + "\"]\nreadiness = \"notify-fd\"\nstart_timeout = 60000\n"
                           : "command = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]\n";
    return "strategy = \"" + strategy + "\"\nmax_restarts = 1000\nmax_seconds = 1\nstash = \"stash\"\n"
           "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\"]\nreadiness = \"notify-fd\"\n"
           "sockets = [\"stash\"]\n"
           "[[child]]\nname = \"web\"\n" + web + "instances = " + std::to_string(instances) + "\n"
           "sockets = [{ name = \"http\", listen = \"127.0.0.1:0\" }]\n" + after;
}

constexpr auto slow = python_starts;

// The pids of the pool's instances, by name ("web#0": pid).
std::map<std::string, pid_t> instances(const std::string& run, const std::string& pool = "web") {
    std::map<std::string, pid_t> out;
    for (auto& [name, c] : tree_status(run))
        if (name.starts_with(pool + "#")) out[name] = c.pid;
    return out;
}

std::string address(const TreeSup& t) { return t.child("web").sockets.at("http"); }

// The $SEQ_INDEX of each body ("hits N index I pid P").
std::set<int> indexes(const std::vector<std::string>& bodies) {
    std::set<int> out;
    static const std::regex re("index ([0-9]+) ");
    for (auto& b : bodies) {
        std::smatch m;
        if (std::regex_search(b, m, re)) out.insert(std::stoi(m[1]));
    }
    return out;
}

}  // namespace

TEST_CASE("a pool of 4 under load: 20 kill -9 of a random instance refuse no connection, fail only what was in flight, and restart that instance alone") {
    TempDir dir;
    TreeSup t(dir, pool_tree(4), true, {}, slow);
    auto addr = address(t);
    auto before = instances(t.run);
    REQUIRE(before.size() == 4);
    INFO(t.proc->log());
    HttpLoad load(addr, 8);
    REQUIRE(eventually([&] { return load.ok() > 20; }));
    std::mt19937 rng(std::random_device{}());
    const int kills = 20;
    for (int i = 0; i < kills; ++i) {
        auto name = "web#" + std::to_string(rng() % 4);
        auto pids = instances(t.run);
        CAPTURE(name);
        REQUIRE(kill(pids.at(name), SIGKILL) == 0);
        REQUIRE(restarted(t.run, name, pids.at(name), slow));
        // The others kept their pids: a death of one instance is its own.
        auto now = instances(t.run);
        for (auto& [other, pid] : pids)
            if (other != name) CHECK(now.at(other) == pid);
        CHECK(t.child(name).restarts >= 1);
    }
    auto served = load.ok();
    REQUIRE(eventually([&] { return load.ok() > served + 20; }, slow));
    load.stop();
    INFO(load.report());
    CHECK(load.refused() == 0);
    // A killed instance had at most the one request it was serving.
    CHECK(load.failed() <= kills);
    // The stash's sibling was never touched, and the pool counts as one child to it.
    CHECK(t.child("stash").restarts == 0);
    CHECK(t.child("web").restarts == kills);
    // Every instance served: the kernel spreads the connections.
    CHECK(indexes(load.take_bodies()) == std::set<int>{0, 1, 2, 3});
}

TEST_CASE("seqctl scale from 4 to 8 and back to 2 under load: no failed request, and each instance says its SEQ_INDEX") {
    TempDir dir;
    TreeSup t(dir, pool_tree(4), true, {}, slow);
    auto addr = address(t);
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " --timeout 60000 ";
    HttpLoad load(addr, 6);
    std::set<int> seen;
    REQUIRE(eventually([&] {
        auto got = indexes(load.take_bodies());
        seen.insert(got.begin(), got.end());
        return seen.size() == 4;
    }, slow));
    auto first = instances(t.run);

    auto up = sh(ctl + "scale web 8");
    INFO(t.proc->log());
    REQUIRE(up.code == 0);
    CHECK(up.out == "OK\n");
    auto eight = instances(t.run);
    REQUIRE(eight.size() == 8);
    for (auto& [name, pid] : first) CHECK(eight.at(name) == pid);  // up starts the new indexes only
    for (auto& [name, c] : tree_status(t.run)) CHECK(c.state == "running");
    load.take_bodies();
    seen.clear();
    REQUIRE(eventually([&] {
        auto got = indexes(load.take_bodies());
        seen.insert(got.begin(), got.end());
        return seen.size() == 8;
    }, slow));
    CHECK(*seen.rbegin() == 7);

    auto down = sh(ctl + "scale web 2");
    REQUIRE(down.code == 0);
    auto two = instances(t.run);
    REQUIRE(two.size() == 2);
    CHECK(two.at("web#0") == first.at("web#0"));
    CHECK(two.at("web#1") == first.at("web#1"));
    for (auto& [name, pid] : eight)
        if (!two.count(name)) CHECK(eventually([&, pid = pid] { return !alive(pid); }));
    load.take_bodies();
    auto served = load.ok();
    REQUIRE(eventually([&] { return load.ok() > served + 30; }, slow));
    CHECK(indexes(load.take_bodies()) == std::set<int>{0, 1});
    load.stop();
    INFO(load.report());
    CHECK(load.refused() == 0);
    CHECK(load.failed() == 0);

    // The scale lasts across a reload that leaves the file's instances alone...
    REQUIRE(call(t.run + "/control.sock", {"RELOAD"}).type != seq::resp::Value::Type::error);
    CHECK(instances(t.run) == two);
    // ... and a reload that changes them wins: 3, web#0 and web#1 untouched.
    std::ofstream(t.file) << pool_tree(3);
    REQUIRE(call(t.run + "/control.sock", {"RELOAD"}).type != seq::resp::Value::Type::error);
    REQUIRE(tree_running(t.run, slow));
    auto three = instances(t.run);
    REQUIRE(three.size() == 3);
    CHECK(three.at("web#0") == two.at("web#0"));
    CHECK(three.at("web#1") == two.at("web#1"));
}

TEST_CASE("a pool is one child to its siblings' strategy: under one_for_all a sibling's death restarts every instance, an instance's death only itself") {
    TempDir dir;
    TreeSup t(dir, pool_tree(3, "one_for_all",
                             "[[child]]\nname = \"after\"\ncommand = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]\n",
                             false));
    auto pids = instances(t.run);
    auto stash = pid_of(t.run, "stash");
    auto after = pid_of(t.run, "after");
    INFO(t.proc->log());
    // One instance: itself alone, whatever the strategy.
    REQUIRE(kill(pids.at("web#1"), SIGKILL) == 0);
    REQUIRE(restarted(t.run, "web#1", pids.at("web#1")));
    CHECK(pid_of(t.run, "stash") == stash);
    CHECK(pid_of(t.run, "after") == after);
    CHECK(instances(t.run).at("web#0") == pids.at("web#0"));
    CHECK(instances(t.run).at("web#2") == pids.at("web#2"));
    // A sibling: one_for_all restarts the pool whole.
    pids = instances(t.run);
    REQUIRE(kill(after, SIGKILL) == 0);
    REQUIRE(restarted(t.run, "after", after));
    REQUIRE(restarted(t.run, "stash", stash));
    auto now = instances(t.run);
    REQUIRE(now.size() == 3);
    for (auto& [name, pid] : pids) CHECK(now.at(name) != pid);
}

TEST_CASE("restart, stop, start and signal take a pool (every instance) or PATH#K (one)") {
    TempDir dir;
    TreeSup t(dir, pool_tree(3, "one_for_one", "", false));
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    auto pids = instances(t.run);
    INFO(t.proc->log());
    // One instance.
    REQUIRE(sh(ctl + "restart web#2").code == 0);
    auto now = instances(t.run);
    CHECK(now.at("web#2") != pids.at("web#2"));
    CHECK(now.at("web#0") == pids.at("web#0"));
    CHECK(tree_status(t.run).at("web#2").last_start == "request");
    REQUIRE(sh(ctl + "stop web#0").code == 0);
    CHECK(tree_status(t.run).at("web#0").state == "stopped");
    CHECK(tree_status(t.run).at("web#0").stopped_by == "request");
    CHECK(tree_status(t.run).at("web").state == "running");  // the others still run
    REQUIRE(sh(ctl + "start web#0").code == 0);
    CHECK(tree_status(t.run).at("web#0").state == "running");
    auto before = instances(t.run);
    REQUIRE(sh(ctl + "signal web#1 KILL").code == 0);
    REQUIRE(restarted(t.run, "web#1", before.at("web#1")));
    CHECK(instances(t.run).at("web#0") == before.at("web#0"));
    // The whole pool.
    before = instances(t.run);
    REQUIRE(sh(ctl + "restart web").code == 0);
    now = instances(t.run);
    for (auto& [name, pid] : before) CHECK(now.at(name) != pid);
    REQUIRE(sh(ctl + "stop web").code == 0);
    for (auto& [name, c] : tree_status(t.run))
        if (name.starts_with("web")) CHECK(c.state == "stopped");
    REQUIRE(sh(ctl + "start web").code == 0);
    for (auto& [name, c] : tree_status(t.run)) CHECK(c.state == "running");
    // An instance the pool does not have, a pool that is not one, a bad number: refused, exit 1.
    auto r = sh(ctl + "restart web#7 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("no child at 'web#7'") != std::string::npos);
    r = sh(ctl + "scale stash 2 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out == "seqctl: ERR stash is not a pool: only a worker with `instances` in the tree file is scaled\n");
    r = sh(ctl + "scale web#1 2 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("web#1 is not a pool") != std::string::npos);
    for (auto n : {"0", "10001", "x", "-1"}) {
        r = sh(ctl + "scale web " + n + " 2>&1");
        CHECK(r.code == 1);
        CHECK(r.out == "seqctl: ERR '" + std::string(n) + "' is not a number of instances: 1 to 10000\n");
    }
    CHECK(instances(t.run).size() == 3);
}

TEST_CASE("a pool below a nested supervisor: its instances in status, PATH#K restarts one, scale reaches it") {
    TempDir dir;
    TreeSup t(dir, "max_restarts = 100\n[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
                   "  [[child.child]]\n  name = \"w\"\n  command = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]\n"
                   "  instances = 3\n");
    INFO(t.proc->log());
    // The top knows the instances once jobs's first snapshot with them has come up.
    std::map<std::string, ChildStatus> st;
    REQUIRE(eventually([&] {
        st = tree_status(t.run);
        return st.count("jobs/w#2") && st.at("jobs/w#2").state == "running";
    }));
    auto old = st.at("jobs/w#1").pid;
    auto keep = st.at("jobs/w#0").pid;
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    REQUIRE(sh(ctl + "restart jobs/w#1").code == 0);
    REQUIRE(restarted(t.run, "jobs/w#1", old));
    CHECK(tree_status(t.run).at("jobs/w#0").pid == keep);
    // Answered by jobs once it is done there: the status says so at once.
    REQUIRE(sh(ctl + "scale jobs/w 5").code == 0);
    st = tree_status(t.run);
    for (auto k : {"jobs/w#3", "jobs/w#4"}) {
        CAPTURE(k);
        REQUIRE(st.count(k));
        CHECK(st.at(k).state == "running");
    }
    auto w4 = st.at("jobs/w#4").pid;
    REQUIRE(sh(ctl + "scale jobs/w 2").code == 0);
    st = tree_status(t.run);
    CHECK(st.count("jobs/w#1"));
    CHECK_FALSE(st.count("jobs/w#2"));
    CHECK_FALSE(st.count("jobs/w#4"));
    CHECK_FALSE(alive(w4));
    auto r = sh(ctl + "scale jobs 2 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("jobs is not a pool") != std::string::npos);
}

TEST_CASE("the README's web example runs: scripts/web-tree.toml (on port 0 here) serves, counts in the stash, and scales") {
    TempDir dir;
    auto text = slurp(std::string(SEQ_SOURCE_DIR) + "/scripts/web-tree.toml");
    auto at = text.find("127.0.0.1:8080");
    REQUIRE(at != std::string::npos);
    text.replace(at, 14, "127.0.0.1:0");  // 8080 may be anyone's on a test machine
    std::filesystem::copy_file(web_app(), dir / "web-app.py");
    TreeSup t(dir, text, true, {}, python_starts);
    REQUIRE(instances(t.run).size() == 4);
    auto addr = address(t);
    auto a = http_get(addr), b = http_get(addr);
    REQUIRE(a.outcome == HttpResult::ok);
    REQUIRE(b.outcome == HttpResult::ok);
    CHECK(a.body.starts_with("hits 1 index "));
    CHECK(b.body.starts_with("hits 2 index "));
    REQUIRE(sh(bin("seqctl") + " --run-dir " + t.run + " --timeout 60000 scale web 2").code == 0);
    CHECK(instances(t.run).size() == 2);
    CHECK(http_get(addr).body.starts_with("hits 3 index "));
}

TEST_CASE("standby = true on a pool keeps one idle standby, which takes the place of whichever instance dies") {
    TempDir dir;
    auto text = pool_tree(3);
    text.replace(text.find("instances = 3"), 13, "instances = 3\nstandby = true");
    TreeSup t(dir, text, true, {}, python_starts);
    INFO(t.proc->log());
    std::optional<pid_t> standby;
    REQUIRE(eventually([&] { return (standby = standby_of(t.run, "web")).has_value(); }, python_starts));
    // One standby for the pool: the stash, three instances, and it.
    CHECK(sh("ps -o pid= --ppid " + std::to_string(t.proc->pid()) + " | wc -l").out == "5\n");
    for (auto victim : {"web#2", "web#0"}) {
        CAPTURE(victim);
        auto before = instances(t.run);
        REQUIRE(kill(before.at(victim), SIGKILL) == 0);
        // That very process is the instance now: no fork, no exec.
        REQUIRE(eventually([&] { return instances(t.run).at(victim) == *standby; }));
        REQUIRE(tree_running(t.run, python_starts));
        for (auto& [name, pid] : before)
            if (name != victim) CHECK(instances(t.run).at(name) == pid);
        CHECK(http_get(address(t)).outcome == HttpResult::ok);
        auto old = *standby;
        REQUIRE(eventually([&] {
            standby = standby_of(t.run, "web");
            return standby && *standby != old;
        }, python_starts));
    }
    CHECK(log_has(t, "web#0: activated its standby"));
    CHECK(log_has(t, "web: standby ready (pid "));
}

TEST_CASE("a job left in a session of its own by an activated pool standby is its own while it runs, not an orphan") {
    TempDir dir;
    // Follows the standby protocol; once it serves (started, or activated)
    // it leaves a job behind, in a session of its own (the shell that
    // started it exits), and says its pid in a file.
    std::ofstream(dir / "leaver.py") << R"(#!/usr/bin/env python3
import os, signal, socket, subprocess, sys
notify = int(os.environ.pop("SEQ_NOTIFY_FD"))
if "SEQ_STANDBY_FD" in os.environ:
    channel = socket.socket(fileno=int(os.environ.pop("SEQ_STANDBY_FD")))
    os.write(notify, b"standby\n")
    names, _, _, _ = channel.recvmsg(4096, socket.CMSG_SPACE(64 * 4))
    if not names:
        sys.exit(0)
job = subprocess.check_output(["/bin/sh", "-c", "setsid sleep 1000 >/dev/null 2>&1 & echo $!"]).decode().strip()
with open(sys.argv[1] + "/job." + str(os.getpid()), "w") as f:
    f.write(job)
os.write(notify, b"\n")
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    signal.pause()
)";
    std::filesystem::permissions(dir / "leaver.py", std::filesystem::perms::owner_all);
    TreeSup t(dir,
              "max_restarts = 100\n[[child]]\nname = \"web\"\ncommand = [\"" + (dir / "leaver.py") + "\", \"" +
                  dir.path() + "\"]\nreadiness = \"notify-fd\"\nstart_timeout = 60000\ninstances = 2\nstandby = true\n"
                  "sockets = [{ name = \"http\", listen = \"127.0.0.1:0\" }]\n",
              true, {}, python_starts);
    INFO(t.proc->log());
    auto job_of = [&](pid_t owner) -> pid_t {
        std::string text;
        eventually([&] { return !(text = slurp(dir / ("job." + std::to_string(owner)))).empty(); }, python_starts);
        return text.empty() ? 0 : std::stoi(text);
    };
    std::optional<pid_t> standby;
    REQUIRE(eventually([&] { return (standby = standby_of(t.run, "web")).has_value(); }, python_starts));
    auto before = instances(t.run);
    auto old_job = job_of(before.at("web#1"));
    REQUIRE(old_job > 0);
    // web#1 dies: the standby is web#1 now, and leaves its job; web#1's old
    // job, whose owner is gone, is an orphan.
    REQUIRE(kill(before.at("web#1"), SIGKILL) == 0);
    REQUIRE(eventually([&] { return instances(t.run).at("web#1") == *standby; }));
    auto kept = job_of(*standby);
    REQUIRE(kept > 0);
    CHECK(eventually([&] { return !alive(old_job); }));
    // Another death, and so another look for orphans: web#0's job goes
    // (its owner is gone), the activated standby's stays (its owner runs).
    auto zero_job = job_of(before.at("web#0"));
    REQUIRE(kill(before.at("web#0"), SIGKILL) == 0);
    REQUIRE(log_has(t, "killing pid " + std::to_string(zero_job)));
    REQUIRE(eventually([&] { return instances(t.run).at("web#0") != before.at("web#0"); }, python_starts));
    REQUIRE(tree_running(t.run, python_starts));
    CHECK(alive(kept));
    CHECK(t.proc->log().find("killing pid " + std::to_string(kept)) == std::string::npos);
}

TEST_CASE("pools and their edges: a stopped pool scaled up stays stopped, a reload that lowers instances shows the pool once, a wait on a pool outlives a scale down, a stop of a nested pool outlives its supervisor's restart") {
    TempDir dir;
    // Instances that take 300 ms to stop (SIGTERM trapped), so that what is on its way out can be seen.
    auto slow_stop = std::string("[[child]]\nname = \"web\"\ncommand = [\"/bin/sh\", \"-c\", ") +
                     "\"trap 'sleep 0.3; exit 0' TERM; while :; do sleep 0.05; done\"]\ninstances = 3\n";
    TreeSup t(dir, "max_restarts = 100\n" + slow_stop);
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    INFO(t.proc->log());
    // A stopped pool, scaled up: its new instances are stopped too.
    REQUIRE(sh(ctl + "stop web").code == 0);
    REQUIRE(sh(ctl + "scale web 4").code == 0);
    auto st = tree_status(t.run);
    CHECK(st.at("web#3").state == "stopped");
    CHECK(st.at("web").state == "stopped");
    REQUIRE(sh(ctl + "start web").code == 0);
    CHECK(instances(t.run).size() == 4);
    // A wait on the pool (a restart) while another client scales it down: both answer.
    Process restart({"/bin/sh", "-c", ctl + "restart web"}, dir / "restart.log");
    REQUIRE(sh(ctl + "scale web 2").code == 0);
    CHECK(restart.exit_code(10000ms) == 0);
    // A reload that lowers the file's instances: one line for the pool, its
    // instances on their way out below it.
    std::ofstream(t.file) << "max_restarts = 100\n" + slow_stop.replace(slow_stop.find("instances = 3"), 13, "instances = 1");
    REQUIRE(call(t.run + "/control.sock", {"RELOAD"}).type != seq::resp::Value::Type::error);
    auto v = call(t.run + "/control.sock", {"STATUS"});
    int lines = 0;
    for (auto& c : v.elems.at(1).elems)
        if (seq::resp::field(c, "name")->str == "web") ++lines;
    CHECK(lines == 1);
    CHECK(eventually([&] { return instances(t.run).size() == 1; }));

    // Below a nested supervisor: a stop of the pool lasts across that supervisor's restart.
    TempDir nested;
    TreeSup n(nested, "max_restarts = 100\n[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
                      "  [[child.child]]\n  name = \"w\"\n  command = [\"/bin/sh\", \"-c\", \"exec sleep 1000\"]\n"
                      "  instances = 2\n");
    auto nctl = bin("seqctl") + " --run-dir " + n.run + " ";
    REQUIRE(sh(nctl + "stop jobs/w").code == 0);
    REQUIRE(sh(nctl + "restart jobs").code == 0);
    CHECK(eventually([&] {
        auto s = tree_status(n.run);
        return s.count("jobs/w#1") && s.at("jobs/w#0").state == "stopped" && s.at("jobs/w#1").state == "stopped";
    }));
}
