// Standby instances: a worker's restart by activating an idle instance
// started ahead (its socket handed over), not by fork and exec; after the
// dependencies under rest_for_one; a program that ignores the protocol never
// becomes a second active instance; nothing outlives the tree.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "harness.hpp"

using namespace seqtest;

namespace {

pid_t wait_standby(const std::string& run, const std::string& name, pid_t other_than = 0) {
    pid_t got = 0;
    REQUIRE(eventually([&] {
        auto sb = standby_of(run, name);
        if (!sb || *sb == other_than) return false;
        got = *sb;
        return true;
    }));
    return got;
}

// A tree file in `dir` of one child, `name`, run as `sh -c script`, ready on
// $SEQ_NOTIFY_FD, with a socket of its own and a standby, and `more` keys.
std::string shell_child_tree(const TempDir& dir, const std::string& name, const std::string& script,
                             const std::string& more = "") {
    std::string quoted;  // a TOML basic string
    for (char ch : script) {
        if (ch == '"' || ch == '\\') quoted += '\\';
        quoted += ch;
    }
    auto tree = dir / "tree.toml";
    std::ofstream(tree) << "[[child]]\nname = \"" << name << "\"\ncommand = [\"/bin/sh\", \"-c\", \"" << quoted
                        << "\"]\nreadiness = \"notify-fd\"\nsockets = [\"" << name << "\"]\nstandby = true\n" << more;
    return tree;
}

// The log says the standby was refused for not knowing the protocol, and
// only the active instance is left: the supervisor's children are one.
bool standby_refused(const TempDir& dir, const Process& sup) {
    return eventually([&] {
               return slurp(dir / "supervisor.log").find("the program does not implement the standby protocol") !=
                      std::string::npos;
           }) &&
           eventually([&] { return sh("ps -o pid= --ppid " + std::to_string(sup.pid()) + " | wc -l").out == "1\n"; });
}

// The RLIMIT_NOFILE under which `pid` has exactly `spare` fd numbers free.
rlim_t limit_leaving(pid_t pid, int spare) {
    std::set<int> open;
    for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
        open.insert(std::stoi(e.path().filename().string()));
    for (int fd = 0, free = 0;; ++fd)
        if (!open.contains(fd) && ++free > spare) return static_cast<rlim_t>(fd);
}

// The built-in tree, up, with its worker's standby idle.
struct IdleStandby {
    TempDir dir;
    std::string run = dir / "run";
    std::string log = dir / "supervisor.log";
    Process sup{{bin("seq-supervisor"), "--run-dir", run}, log};
    pid_t worker = 0, standby = 0;
    IdleStandby() {
        REQUIRE(tree_running(run));
        worker = pid_of(run, "worker");
        standby = wait_standby(run, "worker");
    }
};

// The worker has not been touched (same pid, no restart); at its kill -9 its
// standby `next` takes over and serves `number`.
void next_takes_over(const std::string& run, pid_t worker, pid_t next, std::int64_t number) {
    auto st = tree_status(run).at("worker");
    CHECK(st.pid == worker);
    CHECK(st.restarts == 0);  // not a restart of the worker, nor counted against the intensity
    kill(worker, SIGKILL);
    CHECK(eventually([&] { return tree_status(run).at("worker").pid == next; }));
    CHECK(call_int(run + "/sequence.sock", {"NEXT"}) == number);
}

}  // namespace

TEST_CASE("--standby: kill -9 of the worker activates its standby (that very pid), then a new standby follows") {
    TempDir dir;
    auto run = dir / "run";
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--standby"}, dir / "supervisor.log");
    REQUIRE(tree_running(run));
    auto sock = run + "/sequence.sock";
    auto standby = wait_standby(run, "worker");
    CHECK(alive(standby));
    // seqctl status shows it under its child.
    auto table = sh(bin("seqctl") + " --run-dir " + run + " status").out;
    CHECK(table.find("  (standby) " + std::to_string(standby)) != std::string::npos);
    CHECK(call_int(sock, {"NEXT"}) == 0);
    CHECK(call_int(sock, {"NEXT"}) == 1);
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        auto worker = pid_of(run, "worker");
        kill(worker, SIGKILL);
        // The standby is the worker now: no fork, no exec.
        REQUIRE(eventually([&] {
            auto st = tree_status(run);
            return st.at("worker").pid == standby && st.at("worker").state == "running";
        }));
        CHECK(call_int(sock, {"NEXT"}) == 2 + round);
        CHECK(tree_status(run).at("worker").restarts == round + 1);  // counted as any restart
        standby = wait_standby(run, "worker", standby);
    }
    auto log = slurp(dir / "supervisor.log");
    CHECK(log.find("worker: activated its standby (pid") != std::string::npos);
    // An orderly stop takes the standby too: nothing is left.
    sup.signal(SIGTERM);
    CHECK(sup.exit_code() == 0);
    CHECK(eventually([&] { return !alive(standby); }));
}

TEST_CASE("--standby under rest_for_one: a stash crash stops the worker, and the standby is activated only once the stash is back") {
    TempDir dir;
    auto run = dir / "run";
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--standby", "--data-dir", dir / "data"},
                dir / "supervisor.log");
    REQUIRE(tree_running(run));
    auto sock = run + "/sequence.sock";
    auto standby = wait_standby(run, "worker");
    CHECK(call_int(sock, {"INCREMENT", "41"}) == 41);
    auto before = tree_status(run);
    kill(before.at("stash").pid, SIGKILL);
    REQUIRE(eventually([&] {
        auto st = tree_status(run);
        return st.at("stash").pid != before.at("stash").pid && st.at("worker").pid == standby &&
               st.at("worker").state == "running";
    }));
    CHECK(call_int(sock, {"NEXT"}) == 41);  // read back from the stash on disk
    auto log = slurp(dir / "supervisor.log");
    auto stash_ready = log.rfind("stash ready");
    auto activated = log.rfind("worker: activated its standby");
    REQUIRE(stash_ready != std::string::npos);
    REQUIRE(activated != std::string::npos);
    CHECK(stash_ready < activated);
}

TEST_CASE("a program that does not implement the standby protocol is stopped as a standby, and never serves twice") {
    TempDir dir;
    // It says ready (a bare newline) whenever it starts, standby or not.
    auto tree = shell_child_tree(dir, "plain", "echo >&$SEQ_NOTIFY_FD; exec sleep 1000");
    Process sup({bin("seq-supervisor"), "--run-dir", dir / "run", "--config", tree}, dir / "supervisor.log");
    REQUIRE(tree_running(dir / "run"));
    CHECK(standby_refused(dir, sup));
    CHECK(!standby_of(dir / "run", "plain"));
    // And no standby is tried again for it.
    auto pid = pid_of(dir / "run", "plain");
    kill(pid, SIGKILL);
    REQUIRE(eventually([&] { return tree_status(dir / "run").at("plain").pid != pid && tree_running(dir / "run"); }));
    auto log = slurp(dir / "supervisor.log");
    CHECK(log.find("activated its standby") == std::string::npos);
}

TEST_CASE("--check refuses standby where the protocol cannot work: no notify-fd readiness, no socket") {
    TempDir dir;
    auto tree = dir / "tree.toml";
    std::ofstream(tree) << "[[child]]\nname = \"a\"\ncommand = [\"/bin/true\"]\nstandby = true\n"
                           "[[child]]\nname = \"b\"\ncommand = [\"/bin/true\"]\nreadiness = \"notify-fd\"\n"
                           "standby = true\n";
    auto r = sh(bin("seq-supervisor") + " --check " + tree + " 2>&1");
    CHECK(r.code == 2);
    CHECK(r.out.find("child \"a\", key \"standby\": needs readiness = \"notify-fd\"") != std::string::npos);
    CHECK(r.out.find("child \"b\", key \"standby\": needs sockets") != std::string::npos);
}

TEST_CASE("seqctl reload that removes a child with a standby stops both, and forgets the child only once both are gone") {
    TempDir dir;
    auto tree = dir / "tree.toml";
    auto worker = [&](const std::string& name) {
        return "[[child]]\nname = \"" + name + "\"\ncommand = [\"" + bin("seq-worker") +
               "\", \"--stash\", \"" + dir / "stash.sock" + "\"]\nreadiness = \"notify-fd\"\nsockets = [\"" + name +
               "\"]\nstandby = true\n";
    };
    std::ofstream(tree) << "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\", \"--socket\", \"" +
                               dir / "stash.sock" + "\"]\nreadiness = \"notify-fd\"\n" + worker("a") + worker("b");
    auto run = dir / "run";
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--config", tree}, dir / "supervisor.log");
    REQUIRE(tree_running(run));
    auto a = pid_of(run, "a");
    auto standby_a = wait_standby(run, "a");
    wait_standby(run, "b");
    std::ofstream(tree) << "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\", \"--socket\", \"" +
                               dir / "stash.sock" + "\"]\nreadiness = \"notify-fd\"\n" + worker("b");
    CHECK(sh(bin("seqctl") + " --run-dir " + run + " reload").code == 0);
    CHECK(eventually([&] { return !alive(a) && !alive(standby_a); }));
    CHECK(eventually([&] { return tree_status(run).count("a") == 0; }));
    CHECK(standby_of(run, "b").has_value());
    auto log = slurp(dir / "supervisor.log");
    CHECK(log.find("a: standby (pid " + std::to_string(standby_a) + ") stopped") != std::string::npos);
}

TEST_CASE("a standby that ends before it is idle (its exec failed, it crashed at start) is tried again a second later, not in a loop") {
    TempDir dir;
    // Serves as the active instance; as a standby it exits at once.
    auto tree = shell_child_tree(dir, "once", R"([ -z "$SEQ_STANDBY_FD" ] || exit 3; echo >&$SEQ_NOTIFY_FD; exec sleep 1000)");
    Process sup({bin("seq-supervisor"), "--run-dir", dir / "run", "--config", tree}, dir / "supervisor.log");
    REQUIRE(tree_running(dir / "run"));
    auto pid = pid_of(dir / "run", "once");
    // The clock of each such end, from its log line (HH:MM:SS.mmm).
    auto ends = [&] {
        std::vector<double> at;
        std::istringstream log(slurp(dir / "supervisor.log"));
        for (std::string line; std::getline(log, line);)
            if (line.find("exit status 3 before it was idle; another in 1000 ms") != std::string::npos)
                at.push_back(std::stod(line.substr(0, 2)) * 3600 + std::stod(line.substr(3, 2)) * 60 +
                             std::stod(line.substr(6, 6)));
        return at;
    };
    REQUIRE(eventually([&] { return ends().size() >= 2; }, 5000ms));
    auto at = ends();
    CHECK(at[1] - at[0] >= 0.9);  // a second apart: not a loop of forks
    auto st = tree_status(dir / "run").at("once");
    CHECK(st.pid == pid);  // the active instance is not touched
    CHECK(st.restarts == 0);
}

TEST_CASE("a standby that closes its notify fd and stays is killed at its start timeout, and tried again a second later") {
    TempDir dir;
    auto tree = shell_child_tree(
        dir, "mute",
        R"([ -z "$SEQ_STANDBY_FD" ] || { eval "exec $SEQ_NOTIFY_FD>&-"; exec sleep 1000; }; echo >&$SEQ_NOTIFY_FD; exec sleep 1000)",
        "start_timeout = 300\n");
    Process sup({bin("seq-supervisor"), "--run-dir", dir / "run", "--config", tree}, dir / "supervisor.log");
    REQUIRE(tree_running(dir / "run"));
    auto pid = pid_of(dir / "run", "mute");
    REQUIRE(eventually([&] {
        auto l = slurp(dir / "supervisor.log");
        return l.find("mute: standby (pid ") != std::string::npos &&
               l.find(") not idle after 300 ms; killing it") != std::string::npos &&
               l.find(") killed by SIGKILL before it was idle; another in 1000 ms") != std::string::npos;
    }));
    auto st = tree_status(dir / "run").at("mute");
    CHECK(st.pid == pid);  // the active instance is not touched
    CHECK(st.restarts == 0);
}

TEST_CASE("a standby killed while idle is replaced a second later, and the child it stands for is not touched") {
    IdleStandby t;
    kill(t.standby, SIGKILL);
    auto next = wait_standby(t.run, "worker", t.standby);
    CHECK(next != t.standby);
    CHECK(slurp(t.log).find("worker: standby (pid " + std::to_string(t.standby) +
                              ") killed by SIGKILL while idle; another in 1000 ms") != std::string::npos);
    next_takes_over(t.run, t.worker, next, 0);  // and the new one works
}

TEST_CASE("a standby that cannot be started is tried again each second, while the worker serves, and comes back") {
    IdleStandby t;
    kill(t.standby, SIGKILL);
    // Its death is handled (its fds closed) a second before the next try,
    // and the fds are counted only then: counted before the kill, the next
    // spawn still succeeded in 5 runs of 6 here (by hand it failed).
    REQUIRE(eventually(
        [&] { return slurp(t.log).find("killed by SIGKILL while idle; another in 1000 ms") != std::string::npos; }));
    // Two fds left to the supervisor: too few for a standby's pipes (so its
    // spawn fails), enough for what a sanitizer's checks open meanwhile.
    rlimit was{};
    REQUIRE(prlimit(t.sup.pid(), RLIMIT_NOFILE, nullptr, &was) == 0);
    rlimit scarce = was;
    scarce.rlim_cur = limit_leaving(t.sup.pid(), 2);
    REQUIRE(prlimit(t.sup.pid(), RLIMIT_NOFILE, &scarce, nullptr) == 0);
    REQUIRE(eventually([&] {
        auto l = slurp(t.log);
        auto at = l.find("worker: cannot start a standby: ");
        // Twice: it went on trying.
        return at != std::string::npos && l.find("worker: cannot start a standby: ", at + 1) != std::string::npos;
    }, 10000ms));
    CHECK(slurp(t.log).find("; trying again in 1000 ms") != std::string::npos);
    CHECK(call_int(t.run + "/sequence.sock", {"NEXT"}) == 0);  // the worker is not touched
    CHECK(alive(t.sup.pid()));
    REQUIRE(prlimit(t.sup.pid(), RLIMIT_NOFILE, &was, nullptr) == 0);
    next_takes_over(t.run, t.worker, wait_standby(t.run, "worker", t.standby), 1);
}

TEST_CASE("a standby asks the stash as soon as the instance it stands for has ended, and serves only once activated") {
    TempDir dir;
    auto tree = dir / "tree.toml";
    auto stash = dir / "stash.sock";
    // The restart waits 1.5 s, so what the standby does before it is seen.
    std::ofstream(tree) << "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\", \"--socket\", \"" +
                               stash + "\"]\nreadiness = \"notify-fd\"\n[[child]]\nname = \"worker\"\ncommand = [\"" +
                               bin("seq-worker") + "\", \"--stash\", \"" + stash +
                               "\"]\nreadiness = \"notify-fd\"\nsockets = [\"worker\"]\nstandby = true\n"
                               "backoff = { initial = 1500 }\n";
    auto run = dir / "run";
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--config", tree}, dir / "supervisor.log");
    REQUIRE(tree_running(run));
    auto sock = run + "/worker.sock";
    auto standby = wait_standby(run, "worker");
    CHECK(call_int(sock, {"NEXT"}) == 0);
    CHECK(call_int(sock, {"NEXT"}) == 1);
    // Idle, it has no link: the stash counts only the worker's and ours.
    CHECK(info_field(stash, "connected_clients") == "2");
    auto accepted = [&] { return std::stoll(info_field(stash, "total_connections_received")); };
    auto seen = accepted();
    kill(pid_of(run, "worker"), SIGKILL);
    // Each look is a connection of its own; the standby's link is one more.
    CHECK(eventually([&] {
        auto now = accepted();
        bool linked = now - seen == 2;
        seen = now;
        return linked;
    }));
    auto st = tree_status(run).at("worker");
    CHECK(st.state == "waiting");
    CHECK(st.pid == 0);
    CHECK(alive(standby));
    REQUIRE(eventually([&] {
        auto w = tree_status(run).at("worker");
        return w.pid == standby && w.state == "running";
    }));
    CHECK(call_int(sock, {"NEXT"}) == 2);
}

TEST_CASE("a standby that dies at its activation, before it serves, is a restart that failed: the next start is a fork and exec") {
    TempDir dir;
    auto tree = dir / "tree.toml";
    // Started plainly it serves; as a standby it says so, and exits 3 the
    // moment its activation arrives.
    std::ofstream(tree) << R"([[child]]
name = "p"
command = ["/bin/sh", "-c", "if [ -n \"$SEQ_STANDBY_FD\" ]; then echo standby >&$SEQ_NOTIFY_FD; head -c 1 <&$SEQ_STANDBY_FD >/dev/null; exit 3; fi; echo >&$SEQ_NOTIFY_FD; exec sleep 1000"]
readiness = "notify-fd"
sockets = ["p"]
standby = true
)";
    auto run = dir / "run";
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--config", tree}, dir / "supervisor.log");
    REQUIRE(tree_running(run));
    auto first = pid_of(run, "p");
    auto standby = wait_standby(run, "p");
    kill(first, SIGKILL);
    REQUIRE(eventually([&] {
        auto st = tree_status(run).at("p");
        return st.state == "running" && st.pid != 0 && st.pid != first && st.pid != standby;
    }));
    auto st = tree_status(run).at("p");
    CHECK(st.restarts == 2);  // the kill, and the activation that failed
    auto log = slurp(dir / "supervisor.log");
    auto activated = log.find("p: activated its standby (pid " + std::to_string(standby) + ")");
    auto failed = log.find("p (pid " + std::to_string(standby) + ") exit status 3");
    CHECK(activated != std::string::npos);
    CHECK(failed != std::string::npos);
    CHECK(activated < failed);
    // And the new instance gets a standby of its own.
    CHECK(wait_standby(run, "p", standby) != standby);
}

TEST_CASE("a standby refused for not knowing the protocol, that ignores SIGTERM, is killed at once under brutal_kill") {
    TempDir dir;
    // brutal_kill has no grace: a SIGTERM it ignored would be waited on for ever.
    auto tree = shell_child_tree(dir, "deaf", "trap '' TERM; echo >&$SEQ_NOTIFY_FD; exec sleep 1000",
                                 "shutdown = \"brutal_kill\"\n");
    Process sup({bin("seq-supervisor"), "--run-dir", dir / "run", "--config", tree}, dir / "supervisor.log");
    REQUIRE(tree_running(dir / "run"));
    CHECK(standby_refused(dir, sup));
    sup.signal(SIGTERM);
    CHECK(sup.exit_code(5000ms) == 0);
}
