// Nested supervisors from a tree file, as real processes: a 3-level tree of
// the project's own daemons and shell commands. kill -9 of a leaf, of a
// middle supervisor, and a subtree that escalates past its intensity each
// restart what OTP says and nothing else (checked by pid); seqctl shows and
// restarts children by path.
#include <doctest/doctest.h>

#include <filesystem>
#include <signal.h>

#include <fstream>
#include <set>

#include "harness.hpp"

using namespace seqtest;

namespace {

const char* const tree = R"(
strategy = "one_for_one"
max_restarts = 10
max_seconds = 30
stash = "stash"

[[child]]
name = "stash"
command = ["seq-stash"]
readiness = "notify-fd"
sockets = ["stash"]

[[child]]
name = "worker"
command = ["seq-worker"]
readiness = "notify-fd"
stash_keys = ["sequence"]   # the stash lets it touch its number
sockets = [{ name = "worker", path = "sequence.sock" }]

[[child]]
name = "jobs"
type = "supervisor"
strategy = "rest_for_one"
max_restarts = 2
max_seconds = 60
  [[child.child]]
  name = "a"
  command = ["sleep", "1000"]
  [[child.child]]
  name = "b"
  command = ["sleep", "1001"]
  [[child.child]]
  name = "inner"
  type = "supervisor"
  strategy = "one_for_all"
    [[child.child.child]]
    name = "x"
    command = ["/bin/sh", "-c", "sleep 1002 & echo \"job $!\"; wait"]
    [[child.child.child]]
    name = "y"
    command = ["sleep", "1003"]

[[child]]
name = "after"
command = ["sleep", "1004"]
)";

const std::vector<std::string> all = {"stash", "worker", "jobs", "jobs/a", "jobs/b", "jobs/inner",
                                      "jobs/inner/x", "jobs/inner/y", "after"};

struct Nested {
    explicit Nested(const TempDir& dir) : run(dir / "run"), file(dir / "tree.toml"), log(dir / "supervisor.log") {
        std::ofstream(file) << tree;
        proc.emplace(std::vector<std::string>{bin("seq-supervisor"), "--run-dir", run, "--config", file}, log);
        REQUIRE_MESSAGE(settled(), proc->log());
    }
    // Every child of the tree running, the whole tree there.
    bool settled(Ms deadline = 5000ms) {
        return eventually([&] {
            try {
                auto st = tree_status(run);
                for (auto& p : all)
                    if (!st.count(p) || st.at(p).state != "running" || st.at(p).pid <= 0) return false;
                return true;
            } catch (const std::exception&) {
                return false;
            }
        }, deadline);
    }
    std::map<std::string, pid_t> pids() {
        std::map<std::string, pid_t> out;
        for (auto& [path, s] : tree_status(run)) out[path] = s.pid;
        return out;
    }
    // Waits until exactly `changed` have new pids and all run again; then
    // checks that the rest kept theirs.
    void expect_restarted(const std::map<std::string, pid_t>& before, const std::set<std::string>& changed) {
        INFO("supervisor log:\n", proc->log());
        bool ok = eventually([&] {
            std::map<std::string, ChildStatus> st;
            try {
                st = tree_status(run);
            } catch (const std::exception&) {
                return false;
            }
            for (auto& p : all)
                if (!st.count(p) || st.at(p).state != "running" || st.at(p).pid <= 0) return false;
            for (auto& p : changed)
                if (st.at(p).pid == before.at(p)) return false;
            return true;
        });
        REQUIRE(ok);
        auto now = pids();
        for (auto& p : all) {
            CAPTURE(p);
            CHECK((now.at(p) != before.at(p)) == (changed.count(p) == 1));
            if (changed.count(p)) CHECK(eventually([&] { return !alive(before.at(p)); }));
        }
    }
    // An orderly stop: kill -9 of the top supervisor would leave the shell's
    // background job running.
    ~Nested() {
        if (proc && proc->running()) {
            proc->signal(SIGTERM);
            proc->wait_exit(10000ms);
        }
    }
    std::string sock() const { return run + "/sequence.sock"; }
    std::string run, file, log;
    std::optional<Process> proc;
};

}  // namespace

TEST_CASE("nested tree: kill -9 of a leaf restarts what its own supervisor's strategy says") {
    TempDir dir;
    Nested t(dir);
    auto before = t.pids();
    // jobs is rest_for_one: a's death restarts a and everything after it.
    REQUIRE(kill(before.at("jobs/a"), SIGKILL) == 0);
    t.expect_restarted(before, {"jobs/a", "jobs/b", "jobs/inner", "jobs/inner/x", "jobs/inner/y"});
    before = t.pids();
    // inner is one_for_all: y's death restarts x and y, and nothing above.
    REQUIRE(kill(before.at("jobs/inner/y"), SIGKILL) == 0);
    t.expect_restarted(before, {"jobs/inner/x", "jobs/inner/y"});
    before = t.pids();
    REQUIRE(kill(before.at("jobs/b"), SIGKILL) == 0);
    t.expect_restarted(before, {"jobs/b", "jobs/inner", "jobs/inner/x", "jobs/inner/y"});
    auto st = tree_status(t.run);
    CHECK(st.at("jobs").restarts == 0);
    CHECK(st.at("jobs/b").restarts == 2);  // once with a, once of its own
    CHECK(st.at("jobs/b").last_exit == "killed by SIGKILL");
}

TEST_CASE("nested tree: kill -9 of a middle supervisor restarts its whole subtree and leaves nothing behind") {
    TempDir dir;
    Nested t(dir);
    CHECK(call_int(t.sock(), {"NEXT"}) == 0);
    auto before = t.pids();
    // x's background job, in x's process group.
    pid_t job = 0;
    REQUIRE(eventually([&] {
        auto log = t.proc->log();
        auto at = log.find("job ");
        if (at != std::string::npos) job = static_cast<pid_t>(std::atol(log.c_str() + at + 4));
        return job > 0;
    }));
    REQUIRE(alive(job));
    REQUIRE(kill(before.at("jobs"), SIGKILL) == 0);
    t.expect_restarted(before, {"jobs", "jobs/a", "jobs/b", "jobs/inner", "jobs/inner/x", "jobs/inner/y"});
    CHECK(eventually([&] { return !alive(job); }));
    CHECK(tree_status(t.run).at("jobs").last_exit == "killed by SIGKILL");
    CHECK(call_int(t.sock(), {"NEXT"}) == 1);  // the rest of the tree never noticed
}

TEST_CASE("nested tree: a subtree past its intensity gives up, and its parent restarts it (escalation)") {
    TempDir dir;
    Nested t(dir);
    auto before = t.pids();
    // jobs allows 2 restarts in 60 s: the third death of b makes it give up.
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        auto now = t.pids();
        REQUIRE(kill(now.at("jobs/b"), SIGKILL) == 0);
        if (i < 2) REQUIRE(eventually([&] {
            auto p = t.pids();
            return t.settled(0ms) && p.count("jobs/b") && p.at("jobs/b") != now.at("jobs/b");
        }));
    }
    t.expect_restarted(before, {"jobs", "jobs/a", "jobs/b", "jobs/inner", "jobs/inner/x", "jobs/inner/y"});
    auto st = tree_status(t.run);
    CHECK(st.at("jobs").restarts == 1);
    CHECK(st.at("jobs").last_exit == "exit status 1");
    CHECK(st.at("jobs/b").restarts == 0);  // a fresh subtree
    auto log = t.proc->log();
    CHECK(log.find("more than 2 restarts in 60s: giving up") != std::string::npos);
    CHECK(log.find("jobs (pid " + std::to_string(before.at("jobs")) + ") exit status 1") != std::string::npos);
}

TEST_CASE("nested tree: seqctl shows the tree by depth and in nested JSON, and restarts a child by its path") {
    TempDir dir;
    Nested t(dir);
    auto ctl = bin("seqctl") + " --run-dir " + t.run;
    auto status = sh(ctl + " status");
    CHECK(status.code == 0);
    CHECK(status.out.find("\njobs ") != std::string::npos);
    CHECK(status.out.find("\n  inner ") != std::string::npos);
    CHECK(status.out.find("\n    x ") != std::string::npos);
    auto json = sh(ctl + " status --json");
    CHECK(json.out.find("\"name\": \"jobs\", \"type\": \"supervisor\"") != std::string::npos);
    CHECK(json.out.find("\"children\": [{\"name\": \"x\"") != std::string::npos);
    auto before = t.pids();
    auto r = sh(ctl + " restart jobs/inner/y");
    CHECK(r.code == 0);
    CHECK(r.out == "OK\n");
    // Answered once y runs again: only y is new.
    auto after = t.pids();
    CHECK(after.at("jobs/inner/y") != before.at("jobs/inner/y"));
    t.expect_restarted(before, {"jobs/inner/y"});
    auto bad = sh(ctl + " restart jobs/nobody 2>&1");
    CHECK(bad.code == 1);
    CHECK(bad.out.find("no child at 'jobs/nobody' (children of jobs: ") != std::string::npos);
    // An orderly stop takes the whole tree down, deepest first within each subtree.
    auto stop = sh(ctl + " stop");
    CHECK(stop.code == 0);
    CHECK(t.proc->exit_code() == 0);
    for (const auto& entry : after) {
        pid_t pid = entry.second;  // named: clang 14 captures no structured binding
        CHECK(eventually([&] { return !alive(pid); }));
    }
}

TEST_CASE("seqctl reload: added children start, removed ones stop, changed ones restart, the rest keep their pids") {
    TempDir dir;
    std::string file = dir / "tree.toml";
    std::string run = dir / "run";
    auto tree_v1 = R"(
[[child]]
name = "a"
command = ["sleep", "1000"]
[[child]]
name = "b"
command = ["sleep", "1001"]
[[child]]
name = "c"
command = ["sleep", "1002"]
[[child]]
name = "jobs"
type = "supervisor"
  [[child.child]]
  name = "x"
  command = ["sleep", "1003"]
  [[child.child]]
  name = "y"
  command = ["sleep", "1004"]
)";
    auto tree_v2 = R"(
strategy = "rest_for_one"
[[child]]
name = "a"
command = ["sleep", "1000"]
[[child]]
name = "c"
command = ["sleep", "2002"]
[[child]]
name = "d"
command = ["sleep", "1005"]
[[child]]
name = "jobs"
type = "supervisor"
  [[child.child]]
  name = "x"
  command = ["sleep", "1003"]
  [[child.child]]
  name = "y"
  command = ["sleep", "2004"]
  [[child.child]]
  name = "z"
  command = ["sleep", "1006"]
)";
    std::ofstream(file) << tree_v1;
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--config", file}, dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    auto running = [&](const std::vector<std::string>& paths) {
        return eventually([&] {
            try {
                auto st = tree_status(run);
                for (auto& p : paths)
                    if (!st.count(p) || st.at(p).state != "running") return false;
                return true;
            } catch (const std::exception&) {
                return false;
            }
        });
    };
    REQUIRE(running({"a", "b", "c", "jobs", "jobs/x", "jobs/y"}));
    auto before = tree_status(run);
    auto ctl = bin("seqctl") + " --run-dir " + run;

    // A broken file is refused with its error, and nothing changes.
    std::ofstream(file) << "[[child]]\nname = \"a\"\ncommand = [\"sleep\", \"1\"]\nrestat = 1\n";
    auto refused = sh(ctl + " reload 2>&1");
    CHECK(refused.code == 1);
    CHECK(refused.out.find(file + ":4:1: child \"a\", key \"restat\": unknown key") != std::string::npos);
    auto same = tree_status(run);
    for (auto& p : {"a", "b", "c", "jobs", "jobs/x", "jobs/y"}) CHECK(same.at(p).pid == before.at(p).pid);
    // A folder where the file was would read as an empty tree: refused too.
    std::filesystem::remove(file);
    std::filesystem::create_directory(file);
    auto folder = sh(ctl + " reload 2>&1");
    CHECK(folder.code == 1);
    CHECK(folder.out.find(file + ": is a directory, not a tree file") != std::string::npos);
    same = tree_status(run);
    for (auto& p : {"a", "b", "c", "jobs", "jobs/x", "jobs/y"}) CHECK(same.at(p).pid == before.at(p).pid);
    std::filesystem::remove(file);

    std::ofstream(file) << tree_v2;
    auto r = sh(ctl + " reload");
    CHECK(r.code == 0);
    // Each name beside what was done to its process: jobs itself runs on, y below it is restarted.
    CHECK(r.out == "OK added: d; removed: b; restarted: c; changed in place: the supervisor's flags (rest_for_one, at "
                   "most 3 restarts in 5s), jobs (added jobs/z; restarted jobs/y); unchanged: a\n");
    REQUIRE(running({"a", "c", "d", "jobs", "jobs/x", "jobs/y", "jobs/z"}));
    REQUIRE(eventually([&] {
        auto st = tree_status(run);
        return !st.count("b") && st.at("c").pid != before.at("c").pid && st.count("jobs/z") &&
               st.at("jobs/y").pid != before.at("jobs/y").pid && st.at("jobs/y").state == "running";
    }));
    auto after = tree_status(run);
    CHECK(after.at("a").pid == before.at("a").pid);
    CHECK(after.at("jobs").pid == before.at("jobs").pid);
    CHECK(after.at("jobs/x").pid == before.at("jobs/x").pid);
    CHECK(eventually([&] { return !alive(before.at("b").pid); }));
    CHECK(eventually([&] { return !alive(before.at("c").pid); }));
    CHECK(eventually([&] { return !alive(before.at("jobs/y").pid); }));
    // The new strategy holds: rest_for_one now restarts what comes after a.
    auto status = sh(ctl + " status");
    CHECK(status.out.find("strategy rest_for_one") != std::string::npos);
    sup.signal(SIGTERM);
    CHECK(sup.exit_code() == 0);
}

TEST_CASE("seqctl restart of a child below a nested supervisor answers even when that supervisor is restarted meanwhile") {
    TempDir dir;
    std::string file = dir / "tree.toml", run = dir / "run";
    // m takes a while to become ready, so the restart is still under way
    // when jobs is killed.
    std::ofstream(file) << "[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
                           "  [[child.child]]\n  name = \"m\"\n  command = [\"/bin/sh\", \"-c\", "
                           "\"sleep 0.5; echo >&$SEQ_NOTIFY_FD; exec sleep 1000\"]\n  readiness = \"notify-fd\"\n";
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--config", file}, dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    pid_t jobs = pid_of(run, "jobs");
    Process restart({bin("seqctl"), "--run-dir", run, "--timeout", "8000", "restart", "jobs/m"}, dir / "seqctl.log");
    REQUIRE(eventually([&] { return sup.log().find("jobs/m: restart requested") != std::string::npos; }));
    REQUIRE(kill(jobs, SIGKILL) == 0);
    CHECK(restart.exit_code(10000ms) == 0);
    CHECK(slurp(dir / "seqctl.log") == "OK\n");
    auto st = tree_status(run);
    CHECK(st.at("jobs").pid != jobs);
    CHECK(st.at("jobs/m").state == "running");
    sup.signal(SIGTERM);
    CHECK(sup.exit_code() == 0);
}

TEST_CASE("a stopped nested supervisor holds up none of its parent's work, and gets its reload once it runs again") {
    TempDir dir;
    std::string file = dir / "tree.toml", run = dir / "run";
    auto tree = [](const std::string& extra) {
        return "[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
               "  [[child.child]]\n  name = \"m\"\n  command = [\"sleep\", \"1000\"]\n" + extra +
               "[[child]]\nname = \"other\"\ncommand = [\"sleep\", \"1001\"]\n";
    };
    std::ofstream(file) << tree("");
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--config", file}, dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    pid_t jobs = pid_of(run, "jobs");
    REQUIRE(kill(jobs, SIGSTOP) == 0);
    // A subtree larger than the channel's socket buffer, for a reader that
    // is stopped (each variable under exec's 128 KiB limit for one string).
    std::string big;
    for (int i = 0; i < 6; ++i)
        big += "  [[child.child]]\n  name = \"z" + std::to_string(i) + "\"\n  command = [\"sleep\", \"1002\"]\n"
               "  env = { BIG = \"" + std::string(100000, 'x') + "\" }\n";
    std::ofstream(file) << tree(big);
    auto ctl = bin("seqctl") + " --run-dir " + run + " --timeout 2000 ";
    auto r = sh(ctl + "reload");
    CHECK(r.code == 0);
    CHECK(r.out.find("changed in place: jobs") != std::string::npos);
    pid_t other = pid_of(run, "other");
    REQUIRE(kill(other, SIGKILL) == 0);
    CHECK(eventually([&] { return tree_status(run).at("other").pid != other && tree_status(run).at("other").state == "running"; }));
    REQUIRE(kill(jobs, SIGCONT) == 0);
    CHECK(eventually([&] {
        auto st = tree_status(run);
        return st.count("jobs/z5") && st.at("jobs/z5").state == "running" && st.at("jobs/z0").state == "running";
    }));
    r = sh(ctl + "restart jobs/m");
    CHECK(r.code == 0);
    CHECK(tree_status(run).at("jobs").pid == jobs);
    sup.signal(SIGTERM);
    CHECK(sup.exit_code() == 0);
}

TEST_CASE("seqctl reload of a new stash restarts every worker with it, below nested supervisors too") {
    TempDir dir;
    std::string file = dir / "tree.toml", run = dir / "run";
    auto tree = [](const std::string& stash) {
        return "stash = \"" + stash + "\"\n"
               "[[child]]\nname = \"holder\"\ncommand = [\"sleep\", \"1000\"]\nsockets = [\"s1\", \"s2\"]\n"
               "[[child]]\nname = \"a\"\ncommand = [\"/bin/sh\", \"-c\", \"echo stash=$SEQ_STASH; exec sleep 1000\"]\n"
               "[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
               "  [[child.child]]\n  name = \"k\"\n  command = [\"/bin/sh\", \"-c\", \"echo stash=$SEQ_STASH; exec sleep 1000\"]\n";
    };
    std::ofstream(file) << tree("s1");
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--config", file}, dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    REQUIRE(eventually([&] {
        try {
            auto st = tree_status(run);
            return st.count("jobs/k") && st.at("jobs/k").state == "running" && st.at("a").state == "running";
        } catch (const std::exception&) {
            return false;  // not up yet
        }
    }));
    auto before = tree_status(run);
    std::ofstream(file) << tree("s2");
    auto r = sh(bin("seqctl") + " --run-dir " + run + " reload");
    CHECK(r.out == "OK restarted: holder, a; changed in place: jobs (restarted jobs/k)\n");
    CHECK(eventually([&] {
        auto st = tree_status(run);
        return st.count("a") && st.count("jobs/k") && st.at("a").pid != before.at("a").pid &&
               st.at("jobs/k").pid != before.at("jobs/k").pid && st.at("a").state == "running" &&
               st.at("jobs/k").state == "running";
    }));
    CHECK(tree_status(run).at("jobs").pid == before.at("jobs").pid);
    auto log = [&] { return sup.log(); };
    CHECK(eventually([&] { return log().find("a[" + std::to_string(tree_status(run).at("a").pid) + "]: stash=" + run + "/s2.sock") != std::string::npos; }));
    CHECK(eventually([&] { return log().find("jobs/k[" + std::to_string(tree_status(run).at("jobs/k").pid) + "]: stash=" + run + "/s2.sock") != std::string::npos; }));
    sup.signal(SIGTERM);
    CHECK(sup.exit_code() == 0);
}
