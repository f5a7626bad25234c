// seq-supervisor with the in-memory stash, as real processes: what each
// strategy restarts when a child is killed and what the number survives, the
// restart intensity, orderly stops, kill -9 of the supervisor itself, a second
// supervisor on the same run dir, and seqctl's supervisor commands.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace seqtest;
using seq::resp::Value;

namespace {

// A supervisor on `dir`/run, started and waited for.
struct Sup {
    Sup(const TempDir& dir, std::vector<std::string> extra = {})
        : run(dir / "run"), log(dir / "supervisor.log") {
        std::vector<std::string> argv{bin("seq-supervisor"), "--run-dir", run};
        argv.insert(argv.end(), extra.begin(), extra.end());
        proc.emplace(argv, log);
        INFO("supervisor log:\n", proc->log());
        REQUIRE(tree_running(run));
    }
    std::string sock() const { return run + "/sequence.sock"; }
    std::string ctl(const std::string& args) const {
        return bin("seqctl") + " --run-dir " + run + " " + args;
    }
    pid_t pid(const std::string& name) const { return pid_of(run, name); }
    std::string run, log;
    std::optional<Process> proc;
};

// Every child running, and `name`'s pid no longer `old`.
bool running_with_new(const std::string& run, const std::string& name, pid_t old, Ms deadline = 5000ms) {
    return eventually(
        [&] {
            try {
                auto st = tree_status(run);
                if (st.size() != 2) return false;
                for (auto& [n, c] : st)
                    if (c.state != "running" || c.pid <= 0) return false;
                return st.at(name).pid != old;
            } catch (const std::exception&) {
                return false;
            }
        },
        deadline);
}

bool gone(pid_t pid, Ms deadline = 2000ms) {
    return eventually([&] { return !alive(pid); }, deadline);
}

// What is left in a directory, for messages.
std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (auto& e : v) s += (s.empty() ? "" : " ") + e;
    return s;
}

}  // namespace

TEST_CASE("kill -9 of a child: each strategy restarts what OTP says, and the number survives or not") {
    struct Case {
        std::string strategy, killed;
        bool stash_restarts, worker_restarts, number_kept;
    };
    const std::vector<Case> cases = {
        {"one_for_one", "worker", false, true, true},  {"rest_for_one", "worker", false, true, true},
        {"one_for_all", "worker", true, true, false},  {"one_for_one", "stash", true, false, true},
        {"one_for_all", "stash", true, true, false},   {"rest_for_one", "stash", true, true, false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.strategy);
        CAPTURE(c.killed);
        TempDir dir;
        Sup t(dir, {"--strategy", c.strategy});
        INFO("supervisor log:\n", t.proc->log());
        for (int i = 0; i < 3; ++i) CHECK(call_int(t.sock(), {"NEXT"}) == i);
        auto before = tree_status(t.run);
        pid_t stash = before.at("stash").pid, worker = before.at("worker").pid;
        CHECK(before.at("stash").restarts == 0);
        CHECK(before.at("worker").restarts == 0);
        pid_t victim = c.killed == "stash" ? stash : worker;
        REQUIRE(kill(victim, SIGKILL) == 0);
        REQUIRE(running_with_new(t.run, c.killed, victim));
        auto after = tree_status(t.run);
        CHECK((after.at("stash").pid != stash) == c.stash_restarts);
        CHECK((after.at("worker").pid != worker) == c.worker_restarts);
        CHECK(after.at("stash").restarts == (c.stash_restarts ? 1 : 0));
        CHECK(after.at("worker").restarts == (c.worker_restarts ? 1 : 0));
        CHECK(after.at(c.killed).last_exit.find("SIGKILL") != std::string::npos);
        // What was restarted is gone for good, not left behind.
        if (c.stash_restarts) CHECK(gone(stash));
        if (c.worker_restarts) CHECK(gone(worker));
        CHECK(call_int(t.sock(), {"NEXT"}) == (c.number_kept ? 3 : 0));
        CHECK(call_int(t.sock(), {"NEXT"}) == (c.number_kept ? 4 : 1));
    }
}

TEST_CASE("restart intensity exceeded: the supervisor stops every child and exits 1") {
    TempDir dir;
    Sup t(dir, {"--max-restarts", "2", "--max-seconds", "30"});
    INFO("supervisor log:\n", t.proc->log());
    int kills = 0;
    pid_t stash = 0, worker = 0;
    for (; kills < 10; ++kills) {
        std::map<std::string, ChildStatus> st;
        try {
            st = tree_status(t.run);
        } catch (const std::exception&) {
            break;  // the control socket went: the supervisor is stopping
        }
        stash = st.at("stash").pid;
        worker = st.at("worker").pid;
        REQUIRE(kill(worker, SIGKILL) == 0);
        // Either it restarts the worker, or it gives up and exits.
        bool settled = eventually([&] {
            if (!t.proc->running()) return true;
            try {
                auto now = tree_status(t.run);
                return now.at("worker").state == "running" && now.at("worker").pid != worker &&
                       now.at("stash").state == "running";
            } catch (const std::exception&) {
                return false;
            }
        });
        REQUIRE(settled);
        if (!t.proc->running()) {
            ++kills;
            break;
        }
    }
    CHECK(kills == 3);  // two restarts allowed; the third death exceeds the intensity
    CHECK(t.proc->exit_code() == 1);
    CHECK(gone(stash));
    CHECK(gone(worker));
    auto log = t.proc->log();
    CHECK(log.find("giving up") != std::string::npos);
    CHECK(log.find("more than 2 restarts in 30s") != std::string::npos);
}

TEST_CASE("orderly stop by SIGTERM, seqctl stop, SIGINT or SIGHUP: exit 0, children gone, run dir clean") {
    for (std::string how : {"SIGTERM", "seqctl stop", "SIGINT", "SIGHUP"}) {
        CAPTURE(how);
        TempDir dir;
        Sup t(dir);
        INFO("supervisor log:\n", t.proc->log());
        CHECK(call_int(t.sock(), {"NEXT"}) == 0);
        pid_t stash = t.pid("stash"), worker = t.pid("worker");
        if (how == "SIGTERM") {
            t.proc->signal(SIGTERM);
        } else if (how == "SIGINT") {
            t.proc->signal(SIGINT);
        } else if (how == "SIGHUP") {  // the terminal it ran in was closed
            t.proc->signal(SIGHUP);
        } else {
            auto r = sh(t.ctl("stop") + " 2>&1");
            CAPTURE(r.out);
            CHECK(r.code == 0);
        }
        CHECK(t.proc->exit_code() == 0);
        CHECK(gone(stash));
        CHECK(gone(worker));
        auto left = entries(t.run);
        CAPTURE(joined(left));
        for (auto name : {"stash.sock", "sequence.sock", "control.sock", "supervisor.lock"})
            CHECK(std::find(left.begin(), left.end(), name) == left.end());
        for (auto& e : left) {
            struct stat st{};
            CHECK(lstat((t.run + "/" + e).c_str(), &st) == 0);
            CHECK_FALSE(S_ISSOCK(st.st_mode));
        }
        CHECK(t.proc->log().find("all children stopped") != std::string::npos);
    }
}

TEST_CASE("kill -9 of the supervisor takes its children with it, and the run dir can be reused") {
    TempDir dir;
    pid_t stash = 0, worker = 0;
    {
        Sup t(dir);
        INFO("supervisor log:\n", t.proc->log());
        stash = t.pid("stash");
        worker = t.pid("worker");
        t.proc->signal(SIGKILL);
        REQUIRE(t.proc->wait_exit());
        CHECK(gone(stash, 2000ms));
        CHECK(gone(worker, 2000ms));
    }
    // The lock and the sockets it left behind are stale, not in use.
    Sup again(dir);
    INFO("second supervisor log:\n", again.proc->log());
    CHECK(again.pid("stash") != stash);
    CHECK(call_int(again.sock(), {"NEXT"}) == 0);
}

TEST_CASE("the run dir lock dies with the supervisor, even while another process shares its open lock file") {
    // What a supervisor forks holds a copy of its descriptors until its exec
    // closes them; one forked as the supervisor is killed outlives it for a
    // moment. The test takes such a copy of the lock file's descriptor
    // itself (pidfd_getfd), keeps it across the kill, and starts again.
    TempDir dir;
    auto run = dir / "run";
    std::optional<Process> first;
    first.emplace(std::vector<std::string>{bin("seq-supervisor"), "--run-dir", run}, dir / "first.log");
    REQUIRE(tree_running(run));
    int lock_fd = -1;
    for (auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(first->pid()) + "/fd")) {
        std::error_code ec;
        auto target = std::filesystem::read_symlink(e.path(), ec);
        if (!ec && target.filename() == "supervisor.lock") lock_fd = std::stoi(e.path().filename().string());
    }
    REQUIRE(lock_fd >= 0);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, first->pid(), 0));
    REQUIRE(pidfd >= 0);
    int copy = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, lock_fd, 0));
    close(pidfd);
    REQUIRE(copy >= 0);
    auto stash = pid_of(run, "stash"), worker = pid_of(run, "worker");
    first->signal(SIGKILL);
    REQUIRE(first->wait_exit());
    CHECK(eventually([&] { return !alive(stash) && !alive(worker); }));
    // The copy is still open here: the lock is not.
    Process second({bin("seq-supervisor"), "--run-dir", run}, dir / "second.log");
    CHECK(tree_running(run));
    CHECK(slurp(dir / "second.log").find("in use") == std::string::npos);
    close(copy);
}

TEST_CASE("a second supervisor on the same run dir exits 3 and leaves the first one alone") {
    TempDir dir;
    Sup first(dir);
    INFO("first supervisor log:\n", first.proc->log());
    CHECK(call_int(first.sock(), {"NEXT"}) == 0);
    auto before = tree_status(first.run);
    Process second({bin("seq-supervisor"), "--run-dir", first.run}, dir / "second.log");
    CHECK(second.exit_code() == 3);
    auto out = slurp(dir / "second.log");
    CAPTURE(out);
    CHECK(out.find(first.run) != std::string::npos);
    CHECK(out.find("pid " + std::to_string(first.proc->pid())) != std::string::npos);
    CHECK(first.proc->running());
    auto after = tree_status(first.run);
    CHECK(after.at("stash").pid == before.at("stash").pid);
    CHECK(after.at("worker").pid == before.at("worker").pid);
    CHECK(after.at("stash").restarts == 0);
    CHECK(after.at("worker").restarts == 0);
    CHECK(call_int(first.sock(), {"NEXT"}) == 1);
    CHECK(call_int(first.sock(), {"NEXT"}) == 2);
}

TEST_CASE("connections made right after kill -9 of the worker are all served") {
    TempDir dir;
    Sup t(dir);
    INFO("supervisor log:\n", t.proc->log());
    for (int i = 0; i < 3; ++i) CHECK(call_int(t.sock(), {"NEXT"}) == i);
    pid_t worker = t.pid("worker");
    REQUIRE(kill(worker, SIGKILL) == 0);
    // kill() returns before the process is gone; a client the dying worker
    // accepted in that instant would see its call fail, which is allowed.
    // What must hold is that no connection made once it is dead is lost.
    REQUIRE(eventually([&] { return !alive(worker); }));
    constexpr int n = 20;
    std::vector<std::unique_ptr<seq::Client>> clients;
    int refused = 0;
    for (int i = 0; i < n; ++i) {
        try {
            clients.push_back(std::make_unique<seq::Client>(t.sock(), 5000ms));
            clients.back()->send_raw("NEXT\r\n");
        } catch (const std::exception& e) {
            ++refused;
            MESSAGE("connection ", i, " failed: ", e.what());
        }
    }
    CHECK(refused == 0);
    std::set<std::int64_t> got;
    for (auto& c : clients) {
        try {
            auto v = c->read_reply();
            CHECK(v.type == Value::Type::integer);
            if (v.type == Value::Type::integer) got.insert(v.integer);
            else MESSAGE("reply: ", v.str);
        } catch (const std::exception& e) {
            FAIL_CHECK("no reply: ", e.what());
        }
    }
    CHECK(got.size() == static_cast<std::size_t>(n));
    if (!got.empty()) {
        CHECK(*got.begin() == 3);
        CHECK(*got.rbegin() == 3 + n - 1);
    }
    CHECK(t.pid("worker") != worker);
    CHECK(call_int(t.sock(), {"NEXT"}) == 3 + n);
}

TEST_CASE("seqctl status --json, restart and stop") {
    TempDir dir;
    Sup t(dir);
    INFO("supervisor log:\n", t.proc->log());
    pid_t stash = t.pid("stash"), worker = t.pid("worker");

    auto status = sh(t.ctl("status --json") + " 2>&1");
    CAPTURE(status.out);
    CHECK(status.code == 0);
    CHECK(status.out.rfind("{", 0) == 0);
    CHECK(status.out.find("\"strategy\": \"rest_for_one\"") != std::string::npos);
    CHECK(status.out.find("\"children\": [") != std::string::npos);
    CHECK(status.out.find("\"name\": \"stash\"") != std::string::npos);
    CHECK(status.out.find("\"name\": \"worker\"") != std::string::npos);
    CHECK(status.out.find("\"pid\": " + std::to_string(stash) + ",") != std::string::npos);
    CHECK(status.out.find("\"pid\": " + std::to_string(worker) + ",") != std::string::npos);
    CHECK(status.out.find("\"pid\": " + std::to_string(t.proc->pid()) + ",") != std::string::npos);

    CHECK(call_int(t.sock(), {"NEXT"}) == 0);
    CHECK(call_int(t.sock(), {"NEXT"}) == 1);
    auto restart = sh(t.ctl("restart worker") + " 2>&1");
    CAPTURE(restart.out);
    CHECK(restart.code == 0);
    REQUIRE(running_with_new(t.run, "worker", worker));
    auto st = tree_status(t.run);
    CHECK(st.at("stash").pid == stash);
    CHECK(st.at("worker").restarts == 1);
    CHECK(st.at("stash").restarts == 0);
    CHECK(gone(worker));
    CHECK(call_int(t.sock(), {"NEXT"}) == 2);

    // Only stderr: the message for a child that does not exist.
    auto nosuch = sh(t.ctl("restart nosuch") + " 2>&1 >/dev/null");
    CAPTURE(nosuch.out);
    CHECK(nosuch.code == 1);
    CHECK(nosuch.out.find("nosuch") != std::string::npos);
    st = tree_status(t.run);
    CHECK(st.at("stash").pid == stash);
    CHECK(st.at("worker").restarts == 1);

    auto stop = sh(t.ctl("stop") + " 2>&1");
    CAPTURE(stop.out);
    CHECK(stop.code == 0);
    CHECK(t.proc->exit_code() == 0);
    CHECK(gone(stash));
    CHECK(gone(st.at("worker").pid));
}

TEST_CASE("seqctl restart returns once the child runs again, so restarts in a script never lose the number") {
    TempDir dir;
    Sup t(dir);
    INFO("supervisor log:\n", t.proc->log());
    CHECK(call_int(t.sock(), {"INCREMENT", "100"}) == 100);
    for (int round = 0; round < 10; ++round) {
        CAPTURE(round);
        pid_t worker = t.pid("worker");
        // Back to back: the stash's restart must not catch the worker while
        // it starts, before it holds the number again; the worker's must not
        // take it away before it has re-seeded the new stash.
        std::string first = round % 2 ? "stash" : "worker", second = round % 2 ? "worker" : "stash";
        auto r = sh(t.ctl("restart " + first) + " 2>&1 && " + t.ctl("restart " + second) + " 2>&1");
        CAPTURE(r.out);
        CHECK(r.code == 0);
        auto st = tree_status(t.run);  // no waiting: the reply came once it ran
        CHECK(st.at("worker").state == "running");
        CHECK(st.at("worker").pid != worker);
        CHECK(st.at("stash").state == "running");
        CHECK(call_int(t.sock(), {"GET"}) == 100);
    }
    // Two clients at once are served one after the other.
    auto r = sh("(" + t.ctl("restart stash") + " & " + t.ctl("restart worker") + " & wait) 2>&1");
    CHECK(r.out == "OK\nOK\n");
    CHECK(call_int(t.sock(), {"GET"}) == 100);
}

TEST_CASE("a restart asked for while the tree is stopping is refused, and says why") {
    TempDir dir;
    Sup t(dir, {"--shutdown-timeout", "20000"});
    INFO("supervisor log:\n", t.proc->log());
    pid_t worker = t.pid("worker");
    // A stopped worker holds its SIGTERM, so the tree stays "stopping".
    REQUIRE(kill(worker, SIGSTOP) == 0);
    t.proc->signal(SIGTERM);
    REQUIRE(eventually([&] {
        try {
            return tree_status(t.run).at("worker").state == "stopping";
        } catch (const std::exception&) {
            return false;
        }
    }));
    auto r = sh(t.ctl("restart worker") + " 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("ERR the supervisor is stopping") != std::string::npos);
    REQUIRE(kill(worker, SIGCONT) == 0);
    CHECK(t.proc->exit_code() == 0);
    CHECK(gone(worker));
    CHECK(t.proc->log().find("restart requested") == std::string::npos);
}

TEST_CASE("a low limit on open files does not keep the children from starting") {
    TempDir dir;
    auto run = dir / "run";
    Process sup({"/bin/sh", "-c", "ulimit -n 48 && exec \"$0\" --run-dir \"$1\"", bin("seq-supervisor"), run},
                dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    CHECK(call_int(run + "/sequence.sock", {"NEXT"}) == 0);
}

TEST_CASE("a run dir open to other users is refused with exit 3") {
    TempDir dir;
    auto run = dir / "run";
    REQUIRE(mkdir(run.c_str(), 0755) == 0);
    REQUIRE(chmod(run.c_str(), 0755) == 0);  // whatever the umask
    Process sup({bin("seq-supervisor"), "--run-dir", run}, dir / "supervisor.log");
    CHECK(sup.exit_code() == 3);
    auto out = slurp(dir / "supervisor.log");
    CAPTURE(out);
    CHECK(out.find(run) != std::string::npos);
    CHECK(out.find("open to other users") != std::string::npos);
    CHECK(entries(run).empty());  // no socket bound, no lock taken
}

TEST_CASE("the control socket refuses a peer of another uid, and says why") {
    if (geteuid() != 0) {
        MESSAGE("not run: becoming another uid needs root");
        return;
    }
    TempDir dir;
    Sup t(dir);
    INFO("supervisor log:\n", t.proc->log());
    pid_t stash = t.pid("stash"), worker = t.pid("worker");
    // A peer whose effective uid (what SO_PEERCRED reports) is nobody's, but
    // whose filesystem uid stays root, so it can reach the 0700 run dir: the
    // supervisor's own check is the only thing left to stop it.
    int out[2];
    REQUIRE(pipe(out) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(out[0]);
        if (setresuid(0, 65534, 0) != 0) _exit(10);
        setfsuid(0);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        auto path = t.run + "/control.sock";
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(11);
        static constexpr char stop[] = "STOP\r\n";
        [[maybe_unused]] auto w = send(fd, stop, sizeof stop - 1, MSG_NOSIGNAL);
        char buf[512];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            if (write(out[1], buf, static_cast<std::size_t>(n)) != n) _exit(12);
        _exit(0);
    }
    close(out[1]);
    std::string reply;
    char buf[512];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0) reply.append(buf, static_cast<std::size_t>(n));
    close(out[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CAPTURE(reply);
    CHECK(reply.rfind("-ERR permission denied: uid 65534 ", 0) == 0);
    CHECK(reply.find("\r\n") == reply.size() - 2);  // then closed: STOP never ran
    CHECK(t.proc->running());
    auto st = tree_status(t.run);  // the same user still may
    CHECK(st.at("stash").pid == stash);
    CHECK(st.at("worker").pid == worker);
    CHECK(sh(t.ctl("stop")).code == 0);
    CHECK(t.proc->exit_code() == 0);
}

TEST_CASE("one_for_one: kill -9 of the stash under load, numbers keep increasing and never repeat") {
    TempDir dir;
    Sup t(dir, {"--strategy", "one_for_one"});
    INFO("supervisor log:\n", t.proc->log());
    pid_t stash = t.pid("stash"), worker = t.pid("worker");

    constexpr int threads = 4;
    std::atomic<bool> stop{false};
    std::atomic<int> calls{0};
    std::vector<std::vector<std::int64_t>> seen(threads);
    std::vector<std::string> errors(threads);
    std::atomic<bool> failed{false};
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back([&, i] {
            try {
                // Even threads keep one connection; odd ones connect for every call.
                std::optional<seq::Client> kept;
                while (!stop) {
                    Value v;
                    if (i % 2 == 0) {
                        if (!kept) kept.emplace(t.sock(), 5000ms);
                        v = kept->call({"NEXT"});
                    } else {
                        v = call(t.sock(), {"NEXT"});
                    }
                    if (v.type != Value::Type::integer) throw std::runtime_error("reply: " + v.str);
                    seen[i].push_back(v.integer);
                    ++calls;
                }
            } catch (const std::exception& e) {
                errors[i] = e.what();
                failed = true;
            }
        });
    auto wait_calls = [&](int n) {
        int target = calls + n;
        return eventually([&] { return calls >= target || failed; });
    };
    CHECK(wait_calls(200));
    CHECK(kill(stash, SIGKILL) == 0);  // no REQUIRE: the threads must be joined
    bool restarted = running_with_new(t.run, "stash", stash);
    CHECK(restarted);
    CHECK(wait_calls(200));
    stop = true;
    for (auto& th : pool) th.join();

    for (int i = 0; i < threads; ++i) {
        CAPTURE(i);
        CHECK(errors[i] == "");
        CHECK(std::adjacent_find(seen[i].begin(), seen[i].end(), std::greater_equal<>()) == seen[i].end());
    }
    std::vector<std::int64_t> all;
    for (auto& s : seen) all.insert(all.end(), s.begin(), s.end());
    std::sort(all.begin(), all.end());
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // none handed out twice
    if (!all.empty()) {
        CHECK(all.front() == 0);
        CHECK(all.back() == static_cast<std::int64_t>(all.size()) - 1);  // and none skipped
    }
    auto st = tree_status(t.run);
    CHECK(st.at("worker").pid == worker);
    CHECK(st.at("worker").restarts == 0);
    CHECK(st.at("stash").restarts == 1);
    CHECK(call_int(t.sock(), {"NEXT"}) == static_cast<std::int64_t>(all.size()));
}

TEST_CASE("the stash dies while the worker is starting: one_for_one restarts it at once, rest_for_one restarts both") {
    for (std::string strategy : {"one_for_one", "rest_for_one"}) {
        CAPTURE(strategy);
        TempDir dir;
        Sup t(dir, {"--strategy", strategy, "--start-timeout", "20000"});
        INFO("supervisor log:\n", t.proc->log());
        auto stash = t.pid("stash");
        auto worker = t.pid("worker");
        // A stopped stash answers nobody, so a new worker stays "starting".
        REQUIRE(kill(stash, SIGSTOP) == 0);
        REQUIRE(kill(worker, SIGKILL) == 0);
        pid_t starting = 0;
        REQUIRE(eventually([&] {
            try {
                auto st = tree_status(t.run);
                starting = st.at("worker").pid;
                return st.at("worker").state == "starting" && starting != worker && starting > 0;
            } catch (const std::exception&) {
                return false;
            }
        }));
        REQUIRE(kill(stash, SIGKILL) == 0);
        // The supervisor was not blocked waiting for the worker's readiness.
        REQUIRE(running_with_new(t.run, "stash", stash));
        if (strategy == "one_for_one")
            CHECK(t.pid("worker") == starting);  // it became ready with the new stash
        else
            CHECK(t.pid("worker") != starting);  // stopped, and started again after the stash
        CHECK(call_int(t.sock(), {"NEXT"}) >= 0);
    }
}

TEST_CASE("watchdog: a SIGSTOPped stash under load is replaced within about one interval, and calls succeed again") {
    TempDir dir;
    // one_for_one: the worker keeps the number and seeds the new stash.
    Sup t(dir, {"--strategy", "one_for_one", "--watchdog", "300"});
    INFO("supervisor log:\n", t.proc->log());
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> last{-1};
    std::atomic<int> failed{0};
    std::thread load([&] {
        while (!stop) {
            try {
                auto n = call_int(t.sock(), {"NEXT"});
                if (n <= last) failed += 1000;  // never twice, never backwards
                last = n;
            } catch (const std::exception&) {
                ++failed;  // while the stash is stopped, calls fail after --stash-timeout
            }
        }
    });
    REQUIRE(eventually([&] { return last >= 50; }));
    pid_t stash = t.pid("stash");
    pid_t worker = t.pid("worker");
    REQUIRE(kill(stash, SIGSTOP) == 0);
    // Without the watchdog it would stay stopped, and every call fail, for ever.
    REQUIRE(running_with_new(t.run, "stash", stash));
    auto before = last.load();
    CHECK(eventually([&] { return last > before + 50; }));
    stop = true;
    load.join();
    CHECK(failed < 1000);
    CHECK(t.pid("worker") == worker);
    CHECK(gone(stash));
    auto log = t.proc->log();
    CHECK(log.find("stash (pid " + std::to_string(stash) + ") watchdog timeout") != std::string::npos);
    CHECK(log.find("after a watchdog timeout") != std::string::npos);
}
