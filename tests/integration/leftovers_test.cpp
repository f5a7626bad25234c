// Nothing of a tree outlives a kill -9 of its supervisor for long: what its
// children left running in sessions of their own carries the tree's marker
// ($SEQ_TREE), and the next supervisor on the run dir stops it all.
#include <doctest/doctest.h>
#include <dirent.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

// Every process whose environment has SEQ_TREE=`marker`.
std::set<pid_t> carrying(const std::string& marker) {
    std::set<pid_t> found;
    auto want = "SEQ_TREE=" + marker;
    for (auto& e : std::filesystem::directory_iterator("/proc")) {
        auto name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        auto env = slurp("/proc/" + name + "/environ");
        for (std::size_t at = 0; at < env.size();) {
            auto end = env.find('\0', at);
            if (env.compare(at, end - at, want) == 0) found.insert(std::atoi(name.c_str()));
            if (end == std::string::npos) break;
            at = end + 1;
        }
    }
    return found;
}

pid_t pid_in(const std::string& file) {
    auto text = slurp(file);
    return text.empty() ? 0 : std::atoi(text.c_str());
}

}  // namespace

TEST_CASE("kill -9 of the top supervisor after a reload: the next one on the run dir stops what its children left in sessions of their own, SIGKILL for what ignores SIGTERM") {
    TempDir dir;
    // A background job, a daemon double-forked into its own session, and
    // one in its own session that ignores SIGTERM; then the child itself.
    const auto tree = sh_child("job",
                               "sleep 1000 & echo $! > job.pid\n"
                               "(setsid sleep 1000 & echo $! > daemon.pid) &\n"
                               "setsid sh -c 'trap \"\" TERM; echo $$ > stubborn.pid; exec sleep 1000' &\n"
                               "exec sleep 1000",
                               "shutdown = 300");
    // Started from another spec, then reloaded to this one: what runs was
    // started after a reload, which must carry the marker as well.
    std::optional<TreeSup> first(std::in_place, dir, tree + "env = { BEFORE = \"reload\" }\n");
    INFO(first->proc->log());
    const auto marker = first->run;
    // All three written by the first instance, before they are cleared for the second.
    REQUIRE(eventually([&] {
        return pid_in(dir / "job.pid") && pid_in(dir / "daemon.pid") && pid_in(dir / "stubborn.pid");
    }));
    for (auto f : {"job.pid", "daemon.pid", "stubborn.pid"}) std::filesystem::remove(dir / f);
    std::ofstream(first->file) << tree;
    REQUIRE(sh(bin("seqctl") + " --run-dir " + first->run + " reload").code == 0);
    REQUIRE(eventually([&] {
        return pid_in(dir / "job.pid") && pid_in(dir / "daemon.pid") && pid_in(dir / "stubborn.pid") &&
               alive(pid_in(dir / "stubborn.pid"));
    }));
    const pid_t job = pid_in(dir / "job.pid"), daemon = pid_in(dir / "daemon.pid"), stubborn = pid_in(dir / "stubborn.pid");
    const pid_t child = first->child("job").pid;
    // Each one's environment reads empty while it is in the middle of its
    // exec (the sh before the sleep): looked at until all are seen.
    auto old_tree = carrying(marker);
    eventually([&] {
        old_tree = carrying(marker);
        return old_tree.count(child) && old_tree.count(job) && old_tree.count(daemon) && old_tree.count(stubborn);
    });
    CHECK(old_tree.count(child));
    CHECK(old_tree.count(job));
    CHECK(old_tree.count(daemon));
    CHECK(old_tree.count(stubborn));

    REQUIRE(kill(first->proc->pid(), SIGKILL) == 0);
    first->proc->wait_exit(5000ms);
    // The child went with it (its death signal); what it left did not.
    CHECK(eventually([&] { return !alive(child); }));
    CHECK(alive(job));
    CHECK(alive(daemon));
    CHECK(alive(stubborn));

    TreeSup second(dir, tree);
    INFO(second.proc->log());
    CHECK(eventually([&] {
        for (pid_t p : old_tree)
            if (alive(p)) return false;
        return true;
    }));
    for (pid_t p : {job, daemon, stubborn})
        CHECK(log_has(second, "stopping pid " + std::to_string(p) + " (sleep), left running by a supervisor of this run dir that is gone"));
    CHECK(log_has(second, "killing pid " + std::to_string(stubborn) + " (sleep): still running 300 ms after SIGTERM"));
    // What carries the marker now is the new tree's alone.
    for (pid_t p : carrying(marker)) CHECK(old_tree.count(p) == 0);
}

TEST_CASE("cgroups: a daemon that cleared its environment in a session of its own is in its child's cgroup, goes with it at a stop, and after a kill -9 of the top is found there by the next supervisor") {
    TempDir dir;
    const auto tree = sh_child("job",
                               "env -i setsid sh -c 'echo $$ > daemon.pid; exec sleep 1000' &\n"
                               "exec sleep 1000",
                               "shutdown = 300");
    std::optional<TreeSup> first(std::in_place, dir, tree);
    INFO(first->proc->log());
    REQUIRE(eventually([&] { return first->proc->log().find("cgroups: ") != std::string::npos; }));
    if (first->proc->log().find("cgroups: off") != std::string::npos) {
        auto log = first->proc->log();
        auto at = log.find("cgroups: off");
        const auto why = "SKIPPED: this supervisor may not make cgroups here: " + log.substr(at, log.find('\n', at) - at);
        MESSAGE(why);
        return;
    }
    auto daemon_of = [&](pid_t not_this) {
        pid_t p = 0;
        eventually([&] {
            p = pid_in(dir / "daemon.pid");
            return p && p != not_this && alive(p);
        });
        return p;
    };
    pid_t daemon = daemon_of(0);
    REQUIRE(daemon);
    auto job = first->child("job");
    REQUIRE_FALSE(job.cgroup.empty());
    auto in_cgroup = [](pid_t pid) { return lines_of(slurp("/proc/" + std::to_string(pid) + "/cgroup")).back(); };
    CHECK(in_cgroup(job.pid).ends_with(job.cgroup.substr(job.cgroup.find("/seq-"))));
    CHECK(in_cgroup(daemon) == in_cgroup(job.pid));
    CHECK(carrying(first->run).count(daemon) == 0);  // no marker: only its cgroup knows it

    // A stop takes it along, and its cgroup goes.
    REQUIRE(sh(bin("seqctl") + " --run-dir " + first->run + " stop job").code == 0);
    CHECK(eventually([&] { return !alive(daemon) && !std::filesystem::exists(job.cgroup); }));

    REQUIRE(sh(bin("seqctl") + " --run-dir " + first->run + " start job").code == 0);
    daemon = daemon_of(daemon);
    REQUIRE(daemon);
    REQUIRE(kill(first->proc->pid(), SIGKILL) == 0);
    first->proc->wait_exit(5000ms);
    CHECK(alive(daemon));
    TreeSup second(dir, tree);
    INFO(second.proc->log());
    CHECK(eventually([&] { return !alive(daemon); }));
    CHECK(log_has(second, "stopping pid " + std::to_string(daemon) + " (sleep), left running"));
}

namespace {

// What the supervisor logged about cgroups at its start: "" if they are on.
std::string cgroups_off(const TreeSup& t) {
    std::string log;
    eventually([&] { return (log = t.proc->log()).find("cgroups: ") != std::string::npos; });
    auto at = log.find("cgroups: off");
    return at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
}

}  // namespace

TEST_CASE("cpu_max and pids_max: written into the child's cgroup where their controllers are, and its start refused, saying why, where they are not") {
    TempDir dir;
    TreeSup t(dir, "max_restarts = 100\nmax_seconds = 60\n[[child]]\nname = \"capped\"\ncommand = [\"/bin/sleep\", \"1000\"]\n"
                   "cpu_max = \"50%\"\npids_max = 64\n",
              false);
    INFO(t.proc->log());
    // Refused, said in its last exit; or (its controllers there) running,
    // and never refused.
    std::string exit;
    eventually([&] {
        try {
            auto all = tree_status(t.run);
            exit = all.count("capped") ? all.at("capped").last_exit : "";
        } catch (const std::exception&) {
            return false;  // not serving yet
        }
        return !exit.empty();
    }, 2000ms);
    auto off = cgroups_off(t);
    if (!off.empty()) {
        CHECK(exit.starts_with("cpu_max needs a cgroup of its own, and there is none ("));
        MESSAGE((std::string("cgroups are off here, and the start is refused: ") + exit));
        return;
    }
    auto s = t.child("capped");
    if (exit.empty()) {
        REQUIRE(s.state == "running");
        CHECK(slurp(s.cgroup + "/cpu.max") == "50000 100000\n");
        CHECK(slurp(s.cgroup + "/pids.max") == "64\n");
    } else {
        // The controller is missing (a host that keeps it on cgroup v1, or did not delegate it).
        CHECK(std::regex_search(exit, std::regex("^cpu_max needs the cpu controller, which .* does not have")));
        CHECK(log_has(t, "capped: cpu_max needs the cpu controller"));
        MESSAGE((std::string("no cpu controller here: the start is refused, as it should be: ") + exit));
    }
}

TEST_CASE("memory_max held by the kernel where the memory controller is: a child past it is killed by the kernel, and its last exit says so") {
    TempDir dir;
    TreeSup t(dir, "max_restarts = 100\nmax_seconds = 60\n[[child]]\nname = \"hog\"\nmemory_max = \"32M\"\n"
                   "command = [\"/usr/bin/python3\", \"-c\", \"import time\\nx = b'x' * (64 << 20)\\ntime.sleep(1000)\\n\"]\n");
    INFO(t.proc->log());
    if (auto off = cgroups_off(t); !off.empty()) {
        MESSAGE((std::string("SKIPPED: ") + off));
        return;
    }
    // The tree's cgroup, as the log names it: has it the memory controller?
    auto log = t.proc->log();
    auto at = log.find(" below ") + 7;
    auto base = log.substr(at, log.find('\n', at) - at);
    if (slurp(base + "/cgroup.controllers").find("memory") == std::string::npos) {
        MESSAGE("SKIPPED: no memory controller in the supervisor's cgroups here (it is on cgroup v1, or not "
                "delegated): memory_max is the supervisor's RSS watch, tested in identity_test");
        return;
    }
    // Its cgroup while it runs (a kill and its restart are quick).
    std::string cgroup;
    REQUIRE(eventually([&] { return !(cgroup = t.child("hog").cgroup).empty() && std::filesystem::exists(cgroup); }));
    CHECK(slurp(cgroup + "/memory.max") == std::to_string(32 << 20) + "\n");
    std::string exit;
    CHECK(eventually([&] { return (exit = t.child("hog").last_exit).starts_with("killed by the kernel: out of memory (memory_max 32 MiB)"); }, 10000ms));
}
