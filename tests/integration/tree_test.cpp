// Trees of any programs from a tree file (--config), as real processes:
// restart types, the environment each child gets, its output in the log,
// what a killed child leaves behind, the shell worker of scripts/ keeping its
// count in the stash across kill -9, and --check on broken files.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "harness.hpp"

using namespace seqtest;

#ifndef SEQ_SOURCE_DIR
#error "SEQ_SOURCE_DIR must name the source tree"
#endif

namespace {

// The number after the `nth` (from 0) `prefix` in the log, once it is there; -1 if never.
long long number_after(const TreeSup& t, const std::string& prefix, int nth = 0) {
    long long n = -1;
    eventually([&] {
        auto log = t.proc->log();
        auto at = log.find(prefix);
        for (int i = 0; i < nth && at != std::string::npos; ++i) at = log.find(prefix, at + 1);
        if (at == std::string::npos) return false;
        n = std::atoll(log.c_str() + at + prefix.size());
        return true;
    });
    return n;
}

// Zombies whose parent is `parent`: none, once a subreaper has done its work.
int zombies_of(pid_t parent) {
    int n = 0;
    for (auto& e : std::filesystem::directory_iterator("/proc")) {
        auto stat = slurp(e.path().string() + "/stat");
        auto close = stat.rfind(')');
        if (close == std::string::npos || close + 4 >= stat.size()) continue;
        char state = stat[close + 2];
        long ppid = std::atol(stat.c_str() + close + 4);
        if (state == 'Z' && ppid == parent) ++n;
    }
    return n;
}

// A process's parent, or -1.
pid_t process_parent(pid_t pid) {
    auto stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) return -1;
    return static_cast<pid_t>(std::atol(stat.c_str() + close + 4));
}


}  // namespace

TEST_CASE("tree file: a temporary child is never restarted, a transient one only after an abnormal exit") {
    TempDir dir;
    std::string count = dir / "count";
    // `flaky` fails twice, then stays up: a transient child restarted twice.
    TreeSup t(dir,
              "strategy = \"one_for_one\"\nmax_restarts = 10\nmax_seconds = 30\n" +
                  sh_child("keeper", "exec sleep 1000") +
                  sh_child("temp", "echo temp ran; exit 1", "restart = \"temporary\"") +
                  sh_child("done", "exit 0", "restart = \"transient\"") +
                  sh_child("flaky",
                           "n=$(cat " + count + " 2>/dev/null || echo 0); echo $((n + 1)) > " + count +
                               "; [ $n -ge 2 ] && exec sleep 1000; exit 3",
                           "restart = \"transient\""),
              false);
    INFO("supervisor log:\n", t.proc->log());
    REQUIRE(eventually([&] {
        try {
            auto st = tree_status(t.run);
            return st.at("flaky").state == "running" && st.at("flaky").restarts == 2 &&
                   st.at("temp").state == "stopped" && st.at("done").state == "stopped";
        } catch (const std::exception&) {
            return false;
        }
    }));
    auto st = tree_status(t.run);
    CHECK(st.at("temp").restarts == 0);
    CHECK(st.at("temp").last_exit == "exit status 1");
    CHECK(st.at("done").restarts == 0);
    CHECK(st.at("done").last_exit == "exit status 0");
    CHECK(st.at("flaky").last_exit == "exit status 3");
    CHECK(st.at("keeper").restarts == 0);
    auto log = t.proc->log();
    CHECK(log.find("temp (pid") != std::string::npos);
    CHECK(log.find("exit status 1 after") != std::string::npos);
    CHECK(log.find("temporary child: not restarted") != std::string::npos);
    CHECK(log.find("transient child: not restarted") != std::string::npos);
    CHECK(eventually([&] { return slurp(count) == "3\n"; }));  // started three times, no more
}

TEST_CASE("tree file: each child gets its name, the stash, its env, cwd and sockets, and its output is logged") {
    TempDir dir;
    TreeSup t(dir,
              "stash = \"state\"\n" + sh_child("store", "exec sleep 1000", "sockets = [\"state\"]") +
                  sh_child("show",
                           "echo \"name=$SEQ_NAME stash=$SEQ_STASH greeting=$GREETING cwd=$(pwd) "
                           "fds=$LISTEN_FDS:$LISTEN_FDNAMES\"; echo to-stderr >&2; printf 'no newline'; "
                           "touch " + (dir / "written") + "; exec sleep 1000",
                           "env = { GREETING = \"hello there\" }\ncwd = \"/tmp\"\n"
                           "sockets = [{ name = \"web\", path = \"web.sock\" }]"));
    INFO("supervisor log:\n", t.proc->log());
    pid_t show = t.child("show").pid;
    std::string prefix = "show[" + std::to_string(show) + "]: ";
    CHECK(log_has(t, prefix + "name=show stash=" + t.run + "/state.sock greeting=hello there cwd=/tmp fds=1:web"));
    CHECK(log_has(t, prefix + "to-stderr"));
    // A last line without a newline is logged when the child goes: once
    // it has written it (a kill before would find nothing to log).
    REQUIRE(eventually([&] { return access((dir / "written").c_str(), F_OK) == 0; }));
    kill(show, SIGKILL);
    CHECK(log_has(t, prefix + "no newline"));
}

TEST_CASE("tree file: an overlong line is logged in pieces, and a flood of output holds up no restart") {
    TempDir dir;
    std::string go = dir / "go";
    TreeSup t(dir,
              sh_child("flood", "head -c 3000 /dev/zero | tr '\\0' x; echo; while [ ! -e " + go +
                                    " ]; do sleep 0.01; done; exec yes flooding") +
                  sh_child("victim", "exec sleep 1000"));
    INFO("supervisor log:\n", t.proc->log().substr(0, 4000));
    pid_t flood = t.child("flood").pid;
    std::string prefix = "flood[" + std::to_string(flood) + "]: ";
    CHECK(log_has(t, prefix + std::string(900, 'x') + "\n"));
    CHECK(log_has(t, prefix + std::string(300, 'x') + "\n"));
    std::ofstream(go) << "";
    REQUIRE(eventually([&] { return std::filesystem::file_size(t.log) > (4 << 20); }));
    // While `yes` floods, a killed sibling comes back as quickly as ever.
    pid_t victim = t.child("victim").pid;
    REQUIRE(kill(victim, SIGKILL) == 0);
    CHECK(eventually([&] {
        auto c = t.child("victim");
        return c.state == "running" && c.pid != victim;
    }, 2000ms));
    t.proc->signal(SIGTERM);
    CHECK(t.proc->exit_code(10000ms) == 0);
    CHECK(!alive(flood));
}

TEST_CASE("tree file: kill -9 of a shell child takes its background jobs with it, even one in its own session") {
    TempDir dir;
    TreeSup t(dir, sh_child("shell", "sleep 1000 & echo \"job $!\"; setsid sleep 1001 & echo \"escaped $!\"; wait"));
    INFO("supervisor log:\n", t.proc->log());
    auto job = static_cast<pid_t>(number_after(t, "job "));
    auto escaped = static_cast<pid_t>(number_after(t, "escaped "));
    REQUIRE(job > 0);
    REQUIRE(escaped > 0);
    REQUIRE(alive(job));
    REQUIRE(alive(escaped));
    pid_t shell = t.child("shell").pid;
    REQUIRE(kill(shell, SIGKILL) == 0);
    CHECK(eventually([&] { return !alive(job); }));
    CHECK(eventually([&] { return !alive(escaped); }));
    // Both were adopted by the supervisor when their shell died, and reaped.
    CHECK(eventually([&] { return zombies_of(t.proc->pid()) == 0; }));
    CHECK(eventually([&] {
        auto c = t.child("shell");
        return c.state == "running" && c.pid != shell;
    }));
    // And an orderly stop leaves none of the new ones behind either.
    auto job2 = static_cast<pid_t>(number_after(t, "job ", 1));
    REQUIRE(job2 > 0);
    REQUIRE(alive(job2));
    t.proc->signal(SIGTERM);
    CHECK(t.proc->exit_code() == 0);
    CHECK(!alive(job2));
}

TEST_CASE("scripts/counter.sh keeps its count in the stash across kill -9") {
    if (sh("command -v redis-cli >/dev/null").code != 0) FAIL("redis-cli is missing: scripts/test installs redis-tools");
    TempDir dir;
    // The shipped example is a valid tree...
    auto check = sh(bin("seq-supervisor") + " --check " SEQ_SOURCE_DIR "/scripts/counter-tree.toml 2>&1");
    CHECK_MESSAGE(check.code == 0, check.out);
    // ...and its worker, counting faster here, under the same tree.
    TreeSup t(dir,
              "stash = \"stash\"\n[[child]]\nname = \"stash\"\ncommand = [\"seq-stash\"]\nreadiness = \"notify-fd\"\n"
              "sockets = [\"stash\"]\n[[child]]\nname = \"counter\"\ncommand = [\"" SEQ_SOURCE_DIR
              "/scripts/counter.sh\"]\nreadiness = \"notify-fd\"\nenv = { INTERVAL = \"0.01\" }\n");
    INFO("supervisor log:\n", t.proc->log());
    auto stash = t.run + "/stash.sock";
    auto count = [&]() -> std::int64_t {
        try {
            auto v = call(stash, {"GET", "counter:count"});
            return v.type == seq::resp::Value::Type::bulk ? std::stoll(v.str) : 0;
        } catch (const std::exception&) {
            return -1;
        }
    };
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        REQUIRE(eventually([&] { return count() >= 5 * (round + 1); }));
        pid_t counter = t.child("counter").pid;
        REQUIRE(kill(counter, SIGKILL) == 0);
        auto before = count();
        REQUIRE(eventually([&] {
            auto c = t.child("counter");
            return c.state == "running" && c.pid != counter;
        }));
        // The new one starts from what the stash holds, not from 0.
        pid_t fresh = t.child("counter").pid;
        auto line = "counter[" + std::to_string(fresh) + "]: counter: starting from ";
        auto from = number_after(t, line);
        CHECK(from >= before);
        CHECK(from <= before + 1);  // the kill may land between its SET and our GET
        CHECK(log_has(t, "counter[" + std::to_string(fresh) + "]: count " + std::to_string(from + 1)));
    }
}

TEST_CASE("--check and --config refuse a broken tree file with exit 2, naming file:line:column and the key") {
    TempDir dir;
    std::string file = dir / "broken.toml";
    std::ofstream(file) << "strategy = \"one_for_some\"\n[[child]]\nname = \"a\"\ncommand = [\"/bin/true\"]\n"
                           "restat = \"permanent\"\n[[child]]\nname = \"a\"\ncommand = []\n";
    auto r = sh(bin("seq-supervisor") + " --check " + file + " 2>&1");
    CHECK(r.code == 2);
    CHECK(r.out.find(file + ":1:12: key \"strategy\": \"one_for_some\" is not one of one_for_one, one_for_all, "
                            "rest_for_one") != std::string::npos);
    CHECK(r.out.find(file + ":5:1: child \"a\", key \"restat\": unknown key; did you mean \"restart\"?") !=
          std::string::npos);
    CHECK(r.out.find(file + ":6:1: key \"name\": two children named \"a\"") != std::string::npos);
    CHECK(r.out.find(file + ":8:11: child \"a\", key \"command\": empty") != std::string::npos);
    // Running it is refused the same way, before anything starts.
    auto run = sh(bin("seq-supervisor") + " --run-dir " + (dir / "run") + " --config " + file + " 2>&1");
    CHECK(run.code == 2);
    CHECK(run.out.find("key \"restat\"") != std::string::npos);
    CHECK(sh("test -e " + (dir / "run") + "/control.sock").code != 0);
    // A valid one passes, and --config with a flag of the built-in tree is a usage error.
    std::ofstream(dir / "good.toml") << "[[child]]\nname = \"a\"\ncommand = [\"sleep\", \"1\"]\n";
    CHECK(sh(bin("seq-supervisor") + " --check " + (dir / "good.toml") + " >/dev/null").code == 0);
    CHECK(sh(bin("seq-supervisor") + " --config " + (dir / "good.toml") + " --initial 5 2>/dev/null").code == 2);
    // Given, even empty, the file is what is checked or run: never the built-in tree instead.
    for (auto opt : {" --check ''", " --config ''"}) {
        CAPTURE(opt);
        auto empty = sh(bin("seq-supervisor") + " --run-dir " + (dir / "run") + opt + " 2>&1");
        CHECK(empty.code == 2);
        CHECK(empty.out.find(": cannot read: No such file or directory") != std::string::npos);
        CHECK(sh("test -e " + (dir / "run")).code != 0);
    }
}

TEST_CASE("--check and --config refuse a socket that could not be bound: a missing folder, a path too long for sun_path") {
    TempDir dir;
    std::string file = dir / "tree.toml";
    std::string run = dir / "run";
    auto with_socket = [&](const std::string& path) {
        std::ofstream(file) << "[[child]]\nname = \"a\"\ncommand = [\"sleep\", \"100\"]\nsockets = [{ name = \"s\", path = \"" +
                                   path + "\" }]\n";
    };
    with_socket(dir / "missing/s.sock");
    for (auto opt : {" --check ", " --config "}) {
        CAPTURE(opt);
        auto r = sh(bin("seq-supervisor") + " --run-dir " + run + opt + file + " 2>&1");
        CHECK(r.code == 2);
        CHECK(r.out.find(file + ":4:12: child \"a\", key \"sockets\": \"" + (dir / "missing/s.sock") +
                         "\": its folder " + (dir / "missing") + " does not exist") != std::string::npos);
        CHECK(sh("test -e " + run).code != 0);  // nothing started, not even the run dir
    }
    // Relative to the run dir, as --run-dir gives it: fits there, not in a deeper one.
    auto name = std::string(60, 'x') + ".sock";
    with_socket(name);
    CHECK(sh(bin("seq-supervisor") + " --run-dir " + run + " --check " + file + " >/dev/null").code == 0);
    auto deep = run + "/" + std::string(60, 'd');
    auto r = sh(bin("seq-supervisor") + " --run-dir " + deep + " --check " + file + " 2>&1");
    CHECK(r.code == 2);
    CHECK(r.out.find("too long for a socket: " + std::to_string(deep.size() + 1 + name.size()) + " bytes as bound") !=
          std::string::npos);
}

TEST_CASE("a tree started from another folder runs each child beside the tree file: its script and its data dir") {
    TempDir dir;
    std::filesystem::create_directories(dir / "app");
    std::ofstream(dir / "app/web.py") << "import os, time\nprint('web in', os.getcwd(), flush=True)\ntime.sleep(1000)\n";
    std::string file = dir / "app/tree.toml";
    std::ofstream(file) << "stash = \"state\"\n"
                           "[[child]]\nname = \"store\"\ncommand = [\"seq-stash\", \"--data-dir\", \"data\"]\n"
                           "readiness = \"notify-fd\"\nsockets = [\"state\"]\n"
                           "[[child]]\nname = \"web\"\ncommand = [\"python3\", \"web.py\"]\n"
                           "[[child]]\nname = \"elsewhere\"\ncommand = [\"/bin/sh\", \"-c\", \"echo elsewhere in $(pwd); exec sleep 1000\"]\n"
                           "cwd = \"..\"\n";
    std::string run = dir / "run", log = dir / "supervisor.log";
    // Started from / : nothing there is the tree's.
    Process sup({"/bin/sh", "-c", "cd / && exec " + bin("seq-supervisor") + " --run-dir " + run + " --config " + file}, log);
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    CHECK(eventually([&] { return sup.log().find("web in " + (dir / "app") + "\n") != std::string::npos; },
                     python_starts));
    CHECK(eventually([&] { return sup.log().find("elsewhere in " + dir.path() + "\n") != std::string::npos; }));
    CHECK(call(run + "/state.sock", {"SET", "k", "v"}).str == "OK");
    CHECK(std::filesystem::exists(dir / "app/data/stash.db"));
    CHECK_FALSE(std::filesystem::exists("/data"));
    sup.signal(SIGTERM);
    CHECK(sup.exit_code(10000ms) == 0);
}

TEST_CASE("no variable of the supervisor's own reaches a child from the supervisor's environment, others do") {
    TempDir dir;
    TreeSup t(dir, sh_child("a", "env | grep -E '^(SEQ_|KEPT=)' | sort | tr '\\n' ' '; echo; exec sleep 1000"), true,
              {"SEQ_RESERVE=7", "SEQ_STASH=/elsewhere.sock", "SEQ_STANDBY_FOR=1", "SEQ_GENERATION=9", "SEQ_TREE=/elsewhere", "KEPT=yes"});
    INFO("supervisor log:\n", t.proc->log());
    CHECK(eventually([&] {
        return std::regex_search(t.proc->log(), std::regex("a\\[[0-9]+\\]: KEPT=yes (SEQ_CGROUP=[^ ]+ )?SEQ_GENERATION=1 SEQ_INSTANCE=1 SEQ_LOG=bare SEQ_NAME=a SEQ_TREE=" + t.run + " \n"));
    }));
}

namespace {
// A child that tells $NOTIFY_SOCKET "READY=1" once `go` exists, then sleeps.
std::string sd_notify_child(const std::string& name, const std::string& go, const std::string& more = "") {
    return "[[child]]\nname = \"" + name + "\"\ncommand = [\"/usr/bin/python3\", \"-c\", '''\n"
           "import os, socket, time\n"
           "while not os.path.exists(\"" + go + "\"): time.sleep(0.005)\n"
           "a = os.environ[\"NOTIFY_SOCKET\"]\n"
           "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
           "s.sendto(b\"STATUS=starting\\nREADY=1\\n\", \"\\0\" + a[1:] if a.startswith(\"@\") else a)\n"
           "print(\"sent\", flush=True)\n"
           "time.sleep(1000)\n"
           "''']\nreadiness = \"sd_notify\"\n" + more + "\n";
}

// The NOTIFY_SOCKET a process was given, from its environment.
std::string notify_socket_of(pid_t pid) {
    auto env = slurp("/proc/" + std::to_string(pid) + "/environ");
    auto at = env.find(std::string("NOTIFY_SOCKET=", 14));
    if (at == std::string::npos) return "";
    auto start = at + 14;
    return env.substr(start, env.find('\0', start) - start);
}
}  // namespace

TEST_CASE("tree file: sd_notify readiness: READY=1 from the child starts the next one, from anyone else it counts for nothing") {
    if (sh("test -x /usr/bin/python3").code != 0) FAIL("python3 is missing: scripts/test installs it");
    TempDir dir;
    std::string go = dir / "go";
    TreeSup t(dir, sd_notify_child("first", go, "start_timeout = 20000") + sh_child("second", "exec sleep 1000"),
              false);
    INFO("supervisor log:\n", t.proc->log());
    REQUIRE(eventually([&] {
        try {
            return t.child("first").state == "starting";
        } catch (const std::exception&) {
            return false;
        }
    }));
    pid_t first = t.child("first").pid;
    // Not ready yet: the second waits its turn.
    CHECK(t.child("second").state == "down");
    // A READY=1 from a process that is not the child (this test) is ignored.
    std::string address;
    // Once it has exec'd: until then its environment is still ours.
    REQUIRE(eventually([&] { return (address = notify_socket_of(first)).size() > 1; }));
    REQUIRE(address[0] == '@');
    {
        seq::Fd s(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path + 1, address.data() + 1, address.size() - 1);
        auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
        REQUIRE(sendto(s.get(), "READY=1", 7, 0, reinterpret_cast<sockaddr*>(&sa), len) == 7);
    }
    CHECK(log_has(t, "ignored a notification from pid " + std::to_string(getpid()) + ": not a child"));
    CHECK(t.child("first").state == "starting");
    CHECK(t.child("second").state == "down");
    // From the child itself, it counts.
    std::ofstream(go) << "";
    CHECK(tree_running(t.run));
    CHECK(t.child("first").pid == first);
    CHECK(log_has(t, "first ready (pid " + std::to_string(first) + ")"));
}

TEST_CASE("tree file: a child that never says READY=1 is killed at its start timeout, and that counts as a failed start") {
    if (sh("test -x /usr/bin/python3").code != 0) FAIL("python3 is missing: scripts/test installs it");
    TempDir dir;
    TreeSup t(dir, "max_restarts = 1\nmax_seconds = 60\n" +
                       sd_notify_child("mute", dir / "never", "start_timeout = 300"), false);
    INFO("supervisor log:\n", t.proc->log());
    CHECK(log_has(t, "mute (pid "));
    CHECK(log_has(t, "not ready after 300 ms; killing it"));
    CHECK(log_has(t, "having never become ready"));
    // Twice in 60 s is more than max_restarts = 1: the supervisor gives up.
    CHECK(t.proc->exit_code(10000ms) == 1);
}

TEST_CASE("tree file: a supervisor can be a child like any program: ready (--notify-fd) once its whole tree runs") {
    TempDir dir;
    std::ofstream(dir / "inner.toml") << sh_child("leaf", "exec sleep 1000");
    TreeSup t(dir,
              "[[child]]\nname = \"inner\"\ncommand = [\"seq-supervisor\", \"--run-dir\", \"" + (dir / "inner-run") +
                  "\", \"--config\", \"" + (dir / "inner.toml") + "\"]\nreadiness = \"notify-fd\"\n" +
                  sh_child("after", "exec sleep 1000"));
    INFO("supervisor log:\n", t.proc->log());
    auto inner = tree_status(dir / "inner-run");
    CHECK(inner.at("leaf").state == "running");
    CHECK(log_has(t, "inner ready (pid " + std::to_string(t.child("inner").pid) + ")"));
    // Its own log lines come through ours, under its name.
    CHECK(log_has(t, "inner[" + std::to_string(t.child("inner").pid) + "]: leaf started (pid "));
}

TEST_CASE("tree file: backoff: a child that crashes at once waits longer each time, and status shows the wait") {
    TempDir dir;
    // Crashes at once, every time; intensity wide enough not to give up.
    TreeSup t(dir,
              "max_restarts = 100\nmax_seconds = 60\n" +
                  sh_child("crashy", "echo up; exit 1", "backoff = { initial = 100, factor = 2.0, max = 400, reset_after = 60000 }") +
                  sh_child("steady", "exec sleep 1000"),
              false);
    INFO("supervisor log:\n", t.proc->log());
    // The supervisor says each delay as it decides it.
    for (auto said : {"restarting crashy in 0.1s", "restarting crashy in 0.2s", "restarting crashy in 0.4s"})
        CHECK(log_has(t, said));
    // While it waits, status says so, and how long is left.
    bool seen_waiting = eventually([&] {
        auto r = sh(bin("seqctl") + " --run-dir " + t.run + " status");
        return r.out.find(" waiting ") != std::string::npos && r.out.find("restart in 0.") != std::string::npos;
    });
    CHECK(seen_waiting);
    // The delays hold: starts are at least 100, 200, 400, 400 ms apart.
    REQUIRE(eventually([&] {
        auto log = t.proc->log();
        std::size_t n = 0;
        for (auto at = log.find("crashy started"); at != std::string::npos; at = log.find("crashy started", at + 1)) ++n;
        return n >= 5;
    }));
    std::vector<long> starts;
    std::istringstream lines(t.proc->log());
    for (std::string line; std::getline(lines, line);)
        if (line.find("crashy started") != std::string::npos) {
            int h, m, s, ms;
            REQUIRE(std::sscanf(line.c_str(), "%d:%d:%d.%d", &h, &m, &s, &ms) == 4);
            starts.push_back(((h * 60L + m) * 60L + s) * 1000L + ms);
        }
    const long expected[] = {100, 200, 400, 400};
    for (std::size_t i = 0; i < 4; ++i) {
        CAPTURE(i);
        CAPTURE(starts[i + 1] - starts[i]);
        CHECK(starts[i + 1] - starts[i] >= expected[i] - 1);  // the log's stamps are whole milliseconds
    }
    // Its sibling never waited for it.
    CHECK(t.child("steady").restarts == 0);
    CHECK(t.child("steady").state == "running");
}

TEST_CASE("watchdog: a child that says READY=1 but never WATCHDOG=1 is killed as hung, and restarted") {
    if (sh("test -x /usr/bin/python3").code != 0) FAIL("python3 is missing: scripts/test installs it");
    TempDir dir;
    std::ofstream(dir / "go") << "";
    TreeSup t(dir, "max_restarts = 100\nmax_seconds = 60\n" + sd_notify_child("silent", dir / "go", "watchdog = 200"),
              false);
    INFO("supervisor log:\n", t.proc->log());
    CHECK(log_has(t, "silent ready (pid "));
    CHECK(log_has(t, "watchdog timeout: no WATCHDOG=1 for 200 ms; sending SIGABRT"));
    CHECK(log_has(t, "killed by SIGABRT"));
    CHECK(log_has(t, ", after a watchdog timeout after "));
    CHECK(eventually([&] { return t.child("silent").restarts >= 1; }));
}

TEST_CASE("notify-fd: ready at the first newline, however many writes come before it") {
    TempDir dir;
    TreeSup t(dir,
              sh_child("slow", "printf ok >&$SEQ_NOTIFY_FD; sleep 0.1; printf ' still' >&$SEQ_NOTIFY_FD; sleep 0.1; "
                               "echo >&$SEQ_NOTIFY_FD; exec sleep 1000",
                       "readiness = \"notify-fd\"") +
                  sh_child("after", "exec sleep 1000"));
    INFO("supervisor log:\n", t.proc->log());
    CHECK(t.child("slow").restarts == 0);
    CHECK(log_has(t, "slow ready (pid " + std::to_string(t.child("slow").pid) + ")"));
}

TEST_CASE("a child the restart plan was about to stop, dying first, is part of that restart, not a new crash") {
    TempDir dir;
    // a fails once; b fails once, while c (slow to stop) is being stopped for
    // a's restart. One restart in all: max_restarts = 1 is not exceeded.
    std::string once = dir / "once-";
    TreeSup t(dir,
              "strategy = \"rest_for_one\"\nmax_restarts = 1\nmax_seconds = 60\n" +
                  sh_child("a", "if [ -e " + once + "a ]; then exec sleep 1000; fi; touch " + once + "a; sleep 0.3; exit 1") +
                  sh_child("b", "if [ -e " + once + "b ]; then exec sleep 1000; fi; touch " + once + "b; sleep 0.6; exit 1") +
                  sh_child("c", "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done"),
              false);
    INFO("supervisor log:\n", t.proc->log());
    REQUIRE(log_has(t, "a (pid "));
    // Everything runs again, and the supervisor did not give up.
    CHECK(eventually([&] {
        try {
            auto st = tree_status(t.run);
            return st.at("a").restarts == 1 && st.at("a").state == "running" && st.at("b").state == "running" &&
                   st.at("c").state == "running" && slurp(dir / "supervisor.log").find("b (pid") != std::string::npos;
        } catch (const std::exception&) {
            return false;
        }
    }, 8000ms));
    CHECK(t.proc->running());
    CHECK(t.proc->log().find("giving up") == std::string::npos);
}

TEST_CASE("backoff holds up neither a restart asked for nor, under one_for_one, a sibling's restart") {
    TempDir dir;
    TreeSup t(dir,
              "strategy = \"one_for_one\"\nmax_restarts = 100\nmax_seconds = 60\n" +
                  sh_child("crashy", "sleep 0.3; exit 1", "backoff = { initial = 4000, max = 4000, reset_after = 60000 }") +
                  sh_child("b", "exec sleep 1000"),
              false);
    INFO("supervisor log:\n", t.proc->log());
    REQUIRE(eventually([&] {
        try {
            return t.child("crashy").state == "waiting" && t.child("b").state == "running";
        } catch (const std::exception&) {
            return false;
        }
    }));
    // A sibling killed now comes back at once, not after crashy's 4 s.
    pid_t b = t.child("b").pid;
    REQUIRE(kill(b, SIGKILL) == 0);
    CHECK(eventually([&] {
        auto c = t.child("b");
        return c.state == "running" && c.pid != b;
    }, 2000ms));
    CHECK(t.child("crashy").state == "waiting");
    // seqctl restart answers at once, for the sibling and for crashy itself.
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " --timeout 2000 restart ";
    auto r = sh(ctl + "b 2>&1");
    CHECK(r.code == 0);
    CHECK(r.out == "OK\n");
    REQUIRE(eventually([&] { return t.child("crashy").state == "waiting"; }));
    r = sh(ctl + "crashy 2>&1");
    CHECK(r.code == 0);
    CHECK(r.out == "OK\n");
}

TEST_CASE("a standard error nobody reads holds up no restart: lines are dropped and counted, never waited for") {
    TempDir dir;
    std::string fifo = dir / "stderr.fifo";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    // The reader that never reads: the pipe fills, and stays full.
    seq::Fd reader(open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    REQUIRE(reader);
    std::string run = dir / "run";
    std::ofstream(dir / "tree.toml") << sh_child("chatty", "while :; do echo chatter chatter chatter; done") +
                                            sh_child("victim", "exec sleep 1000");
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--config", dir / "tree.toml"}, fifo);
    REQUIRE(tree_running(run));
    // Far more than the pipe holds has been said by now.
    pid_t victim = pid_of(run, "victim");
    REQUIRE(kill(victim, SIGKILL) == 0);
    CHECK(eventually([&] {
        try {
            auto c = tree_status(run).at("victim");
            return c.state == "running" && c.pid != victim;
        } catch (const std::exception&) {
            return false;
        }
    }));
    CHECK(sh(bin("seqctl") + " --run-dir " + run + " --timeout 2000 status >/dev/null").code == 0);
    // Once read again, the log says what it lost.
    std::string got;
    CHECK(eventually([&] {
        char buf[65536];
        auto n = read(reader.get(), buf, sizeof buf);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
        if (got.size() > (1 << 20)) got.erase(0, got.size() - 4096);
        return got.find("log lines dropped: standard error was not writable") != std::string::npos;
    }));
    sup.signal(SIGTERM);
    CHECK(eventually([&] {
        char buf[65536];
        while (read(reader.get(), buf, sizeof buf) > 0) {
        }
        return !sup.running();
    }));
}

TEST_CASE("what a running child put in a session of its own is left alone, and goes once that child is gone") {
    TempDir dir;
    TreeSup t(dir, sh_child("a", "(setsid sleep 1001 & echo \"detached $!\"); exec sleep 100000") +
                       sh_child("brief", "exit 0", "restart = \"temporary\""),
              false);
    INFO("supervisor log:\n", t.proc->log());
    auto detached = static_cast<pid_t>(number_after(t, "detached "));
    REQUIRE(detached > 0);
    // brief's exit makes the supervisor look for orphans; a still runs.
    REQUIRE(log_has(t, "temporary child: not restarted"));
    REQUIRE(eventually([&] { return process_parent(detached) == t.proc->pid(); }));
    // Looks happen 20 ms after each death: give one the time to be wrong.
    CHECK_FALSE(eventually([&] { return !alive(detached); }, 300ms));
    pid_t a = t.child("a").pid;
    REQUIRE(kill(a, SIGKILL) == 0);
    CHECK(eventually([&] { return !alive(detached); }));
}

TEST_CASE("an orderly stop leaves nothing behind, however deep in sessions of their own a child's jobs hid") {
    TempDir dir;
    // outer: a session of its own, left when deep stops; inner: one more,
    // left when outer is killed, and handed to the supervisor only then.
    TreeSup t(dir, sh_child("deep", "setsid sh -c 'setsid sleep 1011 & echo \"inner $!\"; exec sleep 1012' & "
                                    "echo \"outer $!\"; exec sleep 1013"));
    INFO("supervisor log:\n", t.proc->log());
    auto inner = static_cast<pid_t>(number_after(t, "inner "));
    auto outer = static_cast<pid_t>(number_after(t, "outer "));
    REQUIRE(inner > 0);
    REQUIRE(outer > 0);
    REQUIRE(alive(inner));
    t.proc->signal(SIGTERM);
    CHECK(t.proc->exit_code(10000ms) == 0);
    CHECK_FALSE(alive(outer));
    CHECK_FALSE(alive(inner));
}

TEST_CASE("a program gone after the tree was loaded: each start fails (cannot exec), within intensity, then the supervisor gives up") {
    TempDir dir;
    std::string prog = dir / "prog.sh";
    std::ofstream(prog) << "#!/bin/sh\nexec sleep 1000\n";
    chmod(prog.c_str(), 0755);
    TreeSup t(dir, "max_restarts = 2\nmax_seconds = 60\n[[child]]\nname = \"p\"\ncommand = [\"" + prog + "\"]\n");
    INFO("supervisor log:\n", t.proc->log());
    pid_t p = t.child("p").pid;
    REQUIRE(unlink(prog.c_str()) == 0);
    REQUIRE(kill(p, SIGKILL) == 0);
    // Said by the supervisor, from the child's report on its exec-status
    // pipe: a failed start, not a crash with exit status 127.
    CHECK(log_has(t, "p: cannot exec " + prog + ": No such file or directory; trying again in"));
    CHECK(t.proc->exit_code(10000ms) == 1);
    CHECK(t.proc->log().find("more than 2 restarts in 60s: giving up") != std::string::npos);
    CHECK(t.proc->log().find("exit status 127") == std::string::npos);
}

TEST_CASE("an exec that fails (no execute permission) is a failed start: logged, in status, backed off, and no sibling is touched") {
    TempDir dir;
    std::string prog = dir / "prog.sh";
    std::ofstream(prog) << "#!/bin/sh\nexec sleep 1000\n";
    chmod(prog.c_str(), 0755);
    TreeSup t(dir, "strategy = \"one_for_all\"\nmax_restarts = 100\nmax_seconds = 60\n" +
                       sh_child("sibling", "exec sleep 1000") + "[[child]]\nname = \"p\"\ncommand = [\"" + prog +
                       "\"]\nbackoff = { initial = 300, max = 300 }\n");
    INFO("supervisor log:\n", t.proc->log());
    // A crash of p restarts both (one_for_all); the sibling is started
    // first, then p, whose exec now fails. Were each failure a crash, the
    // sibling would be restarted again each time.
    REQUIRE(chmod(prog.c_str(), 0644) == 0);
    pid_t old_sibling = t.child("sibling").pid;
    REQUIRE(kill(pid_of(t.run, "p"), SIGKILL) == 0);
    CHECK(log_has(t, "p: cannot exec " + prog + ": Permission denied; trying again in 300 ms"));
    CHECK(eventually([&] { return t.child("p").last_exit == "cannot exec " + prog + ": Permission denied"; }));
    auto sibling = t.child("sibling");
    CHECK(sibling.pid != old_sibling);
    CHECK(sibling.restarts == 1);
    // A second failure, 300 ms later: the sibling still untouched.
    CHECK(eventually([&] {
        auto log = t.proc->log();
        auto first = log.find("Permission denied; trying again");
        return first != std::string::npos && log.find("Permission denied; trying again", first + 1) != std::string::npos;
    }));
    CHECK(t.child("sibling").pid == sibling.pid);
    REQUIRE(chmod(prog.c_str(), 0755) == 0);
    CHECK(eventually([&] { return t.child("p").state == "running"; }));
    CHECK(t.child("sibling").pid == sibling.pid);
    CHECK(t.child("sibling").restarts == 1);
}

TEST_CASE("the supervisor raises its own fd limit to the hard limit, and each child gets back the soft limit it was given") {
    TempDir dir;
    std::ofstream(dir / "tree.toml") << sh_child("a", "echo \"child limit $(ulimit -Sn)\"; exec sleep 1000");
    std::string run = dir / "run";
    Process sup({"/bin/sh", "-c", "ulimit -Sn 256 && exec " + bin("seq-supervisor") + " --run-dir " + run +
                                      " --config " + (dir / "tree.toml")},
                dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    CHECK(eventually([&] { return sup.log().find("child limit 256\n") != std::string::npos; }));
    std::smatch m;
    auto limits = slurp("/proc/" + std::to_string(sup.pid()) + "/limits");
    REQUIRE(std::regex_search(limits, m, std::regex("Max open files +([0-9]+|unlimited) +([0-9]+|unlimited)")));
    CHECK(m[1] == m[2]);
    sup.signal(SIGTERM);
    CHECK(sup.exit_code(10000ms) == 0);
}
