// seq-supervisor as systemd runs it, with the test in systemd's place: the
// worker's socket handed over by socket activation (LISTEN_FDS, matched by
// name) and kept by the test across a kill -9 of the supervisor; READY=1,
// STOPPING=1 and WATCHDOG=1 on $NOTIFY_SOCKET; log lines without our own
// stamp when stderr is the journal ($JOURNAL_STREAM). And the shipped units,
// checked by systemd-analyze.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <fstream>
#include <regex>
#include <sstream>

#include "harness.hpp"
#include "socket.hpp"

using namespace seqtest;

#ifndef SEQ_BUILD_DIR
#error "SEQ_BUILD_DIR must name the build tree"
#endif

namespace {

// The test's own $NOTIFY_SOCKET: what the supervisor tells systemd.
struct NotifyListener {
    explicit NotifyListener(std::string p) : path(std::move(p)) {
        fd = seq::Fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
        REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    }
    // The next message, within the deadline; empty if none came.
    std::string next(Ms deadline = 5000ms) {
        pollfd p{fd.get(), POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(deadline.count())) <= 0) return "";
        char buf[4096];
        auto n = recv(fd.get(), buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    }
    // Waits for a message holding `line`, skipping others; false past the deadline.
    bool wait_for(const std::string& line, Ms deadline = 5000ms) {
        auto until = std::chrono::steady_clock::now() + deadline;
        while (std::chrono::steady_clock::now() < until) {
            auto m = next(std::chrono::duration_cast<Ms>(until - std::chrono::steady_clock::now()));
            if (("\n" + m + "\n").find("\n" + line + "\n") != std::string::npos) return true;
        }
        return false;
    }
    std::string path;
    seq::Fd fd;
};

// seq-supervisor started the way systemd starts it: the listening socket at
// fd 3 named "worker", our NOTIFY_SOCKET, a watchdog, and a log file that
// $JOURNAL_STREAM names as the journal.
std::unique_ptr<Process> activate(const std::string& run, int listener, const std::string& notify,
                                  const std::string& log) {
    std::ofstream(log, std::ios::app).flush();
    struct stat st{};
    REQUIRE(stat(log.c_str(), &st) == 0);
    std::string journal = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    std::string script = "exec 3<&" + std::to_string(listener) + "; LISTEN_FDS=1 LISTEN_FDNAMES=worker LISTEN_PID=$$ " +
                         "NOTIFY_SOCKET=" + notify + " WATCHDOG_USEC=300000 JOURNAL_STREAM=" + journal + " exec " +
                         bin("seq-supervisor") + " --run-dir " + run;
    return std::make_unique<Process>(std::vector<std::string>{"/bin/sh", "-c", script}, log);
}

}  // namespace

TEST_CASE("under systemd: socket activation, READY=1, WATCHDOG=1, STOPPING=1, journal lines, and no connection refused across kill -9") {
    TempDir dir;
    std::string run = dir / "run";
    REQUIRE(mkdir(run.c_str(), 0700) == 0);
    // What systemd's sequence.socket does: bind the worker's socket, and keep it.
    auto listener = seq::listen_unix(run + "/sequence.sock");
    REQUIRE(fcntl(listener.get(), F_SETFD, 0) == 0);  // handed down to the supervisor
    NotifyListener notify(dir / "notify.sock");
    std::string log = dir / "supervisor.log";
    auto sup = activate(run, listener.get(), notify.path, log);
    INFO("supervisor log:\n", slurp(log));

    CHECK(notify.wait_for("READY=1"));
    CHECK(tree_running(run));
    CHECK(call_int(run + "/sequence.sock", {"NEXT"}) == 0);
    CHECK(notify.wait_for("WATCHDOG=1", 2000ms));
    CHECK(notify.wait_for("WATCHDOG=1", 2000ms));
    // The journal stamps lines itself: ours carry no time.
    REQUIRE(eventually([&] { return slurp(log).find("worker ready") != std::string::npos; }));
    auto lines = slurp(log);
    CHECK(lines.find("socket 'worker': inherited (fd 3), not bound here") != std::string::npos);
    CHECK(std::regex_search(lines, std::regex("(^|\n)run dir " + run + "; stash in memory\n")));
    CHECK(std::regex_search(lines, std::regex("(^|\n)stash\\[[0-9]+\\]: serving on inherited socket 'stash'")));
    CHECK_FALSE(std::regex_search(lines, std::regex("(^|\n)[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\\.")));

    // kill -9 of the supervisor: the socket lives on in its owner, so a
    // client that connects now waits in the backlog, and the next tree
    // answers it.
    sup->signal(SIGKILL);
    REQUIRE(sup->wait_exit());
    seq::Client waiting(run + "/sequence.sock", 10000ms);  // connect() succeeds: nothing refused
    std::string request;
    std::vector<std::string_view> next{"NEXT"};
    seq::resp::append_command(request, next);
    waiting.send_raw(request);
    auto again = activate(run, listener.get(), notify.path, log);
    CHECK(notify.wait_for("READY=1"));
    auto reply = waiting.read_reply();
    CHECK(reply.type == seq::resp::Value::Type::integer);

    // An orderly stop says STOPPING=1, and leaves the socket it did not bind.
    again->signal(SIGTERM);
    CHECK(notify.wait_for("STOPPING=1"));
    CHECK(again->exit_code() == 0);
    struct stat st{};
    CHECK(stat((run + "/sequence.sock").c_str(), &st) == 0);
    CHECK(stat((run + "/control.sock").c_str(), &st) != 0);
    CHECK(stat((run + "/stash.sock").c_str(), &st) != 0);
}

TEST_CASE("the shipped systemd units pass systemd-analyze verify and match the built-in tree") {
    if (sh("command -v systemd-analyze >/dev/null").code != 0)
        FAIL("systemd-analyze is missing: scripts/test installs Debian's systemd package");
    std::string units = std::string(SEQ_BUILD_DIR) + "/test-units";
    auto r = sh("cd " + units + " && systemd-analyze verify sequence.socket sequence.service 2>&1");
    CAPTURE(r.out);
    CHECK(r.code == 0);
    CHECK(r.out.empty());
    auto socket = slurp(units + "/sequence.socket");
    auto service = slurp(units + "/sequence.service");
    // The socket's name is the one the built-in tree gives the worker's socket.
    CHECK(socket.find("\nFileDescriptorName=worker\n") != std::string::npos);
    CHECK(socket.find("\nListenStream=%t/sequence/sequence.sock\n") != std::string::npos);
    CHECK(socket.find("\nDirectoryMode=0700\n") != std::string::npos);
    CHECK(service.find("\nType=notify\n") != std::string::npos);
    CHECK(service.find("/seq-supervisor --run-dir %t/sequence\n") != std::string::npos);
    auto printed = sh(bin("seq-supervisor") + " --print-config");
    CHECK(printed.out.find("sockets = [{ name = \"worker\", path = \"sequence.sock\" }]") != std::string::npos);
}

TEST_CASE("a socket handed over under a name the tree does not have is logged with its name and closed") {
    TempDir dir;
    std::string run = dir / "run";
    REQUIRE(mkdir(run.c_str(), 0700) == 0);
    auto listener = seq::listen_unix(dir / "stray.sock");
    // Never at 3, where the shell below lays it down: so that it can be closed at its own number.
    if (listener.get() == 3) listener = seq::Fd(fcntl(listener.get(), F_DUPFD_CLOEXEC, 4));
    REQUIRE(fcntl(listener.get(), F_SETFD, 0) == 0);
    struct stat st{};
    REQUIRE(fstat(listener.get(), &st) == 0);
    std::string log = dir / "supervisor.log";
    Process sup({"/bin/sh", "-c",
                 "exec 3<&" + std::to_string(listener.get()) + " " + std::to_string(listener.get()) +
                     "<&-; LISTEN_FDS=1 LISTEN_FDNAMES=stray LISTEN_PID=$$ exec " +
                     bin("seq-supervisor") + " --run-dir " + run},
                log);
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    CHECK(sup.log().find("socket 'stray': inherited (fd 3), but the tree has no socket of that name; closing it") !=
          std::string::npos);
    // No fd of the supervisor's is that socket any more.
    auto inode = "socket:[" + std::to_string(st.st_ino) + "]";
    bool held = false;
    for (auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(sup.pid()) + "/fd")) {
        std::error_code ec;
        held = held || std::filesystem::read_symlink(e.path(), ec).string() == inode;
    }
    CHECK_FALSE(held);
    sup.signal(SIGTERM);
    CHECK(sup.exit_code(10000ms) == 0);
}

TEST_CASE("LISTEN_FDS naming an fd that is not open is logged and ignored: its number is not taken when reused") {
    TempDir dir;
    std::string run = dir / "run", log = dir / "supervisor.log";
    // Before the fix, fd 3 was the run dir's lock by then; taken as the
    // socket and closed, the supervisor died on its own control socket.
    Process sup({"/bin/sh", "-c", "exec 3<&-; LISTEN_FDS=1 LISTEN_FDNAMES=ghost LISTEN_PID=$$ exec " +
                                      bin("seq-supervisor") + " --run-dir " + run},
                log);
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    CHECK(sup.log().find("LISTEN_FDS: fd 3 ('ghost') is not an open socket; ignoring it") != std::string::npos);
    CHECK(call_int(run + "/sequence.sock", {"NEXT"}) == 0);
    sup.signal(SIGTERM);
    CHECK(sup.exit_code(10000ms) == 0);
}

namespace {

// A unit's `Key=` line, with the specifiers systemd would fill in: %t the
// runtime dir, %E the configuration dir, %i the instance.
std::string unit_line(const std::string& unit, const std::string& key, const std::map<char, std::string>& given) {
    auto at = unit.find("\n" + key + "=");
    REQUIRE(at != std::string::npos);
    at += key.size() + 2;
    auto line = unit.substr(at, unit.find('\n', at) - at);
    std::string out;
    for (std::size_t k = 0; k < line.size(); ++k) {
        if (line[k] == '%' && k + 1 < line.size() && given.count(line[k + 1])) out += given.at(line[++k]);
        else out += line[k];
    }
    return out;
}

}  // namespace

TEST_CASE("sequence@.service: verified for the system and a user, and its commands, as systemd runs them, start, reload and stop your own tree") {
    if (sh("command -v systemd-analyze >/dev/null").code != 0)
        FAIL("systemd-analyze is missing: scripts/test installs Debian's systemd package");
    TempDir dir;
    std::string units = std::string(SEQ_BUILD_DIR) + "/test-units";
    std::string runtime = dir / "runtime";
    REQUIRE(mkdir(runtime.c_str(), 0700) == 0);
    for (std::string manager : {"", "--user "}) {
        CAPTURE(manager);
        auto r = sh("cd " + units + " && XDG_RUNTIME_DIR=" + runtime + " systemd-analyze " + manager +
                    "verify sequence@myapp.service 2>&1");
        CAPTURE(r.out);
        CHECK(r.code == 0);
        CHECK(r.out.empty());
    }
    auto unit = slurp(units + "/sequence@.service");
    for (auto line : {"\nType=notify\n", "\nKillMode=mixed\n", "\nWatchdogSec=10\n", "\nWantedBy=default.target\n"}) {
        CAPTURE(line);
        CHECK(unit.find(line) != std::string::npos);
    }
    // As a user's unit: %E is ~/.config, where the tree file is.
    std::string config = dir / "config";
    std::filesystem::create_directories(config + "/sequence");
    auto tree = config + "/sequence/myapp.toml";
    std::ofstream(tree) << "[[child]]\nname = \"one\"\ncommand = [\"sleep\", \"100000\"]\n";
    const std::map<char, std::string> given{{'t', runtime}, {'E', config}, {'i', "myapp"}};
    auto start = unit_line(unit, "ExecStart", given);
    auto reload = unit_line(unit, "ExecReload", given);
    std::string run = runtime + "/sequence-myapp";
    CHECK(start.find("--config " + tree) != std::string::npos);
    NotifyListener notify(dir / "notify.sock");
    std::string log = dir / "supervisor.log";
    Process sup({"/bin/sh", "-c", "NOTIFY_SOCKET=" + notify.path + " WATCHDOG_USEC=300000 exec " + start}, log);
    INFO("supervisor log:\n", slurp(log));
    CHECK(notify.wait_for("READY=1"));
    CHECK(tree_status(run)["one"].state == "running");
    CHECK(notify.wait_for("WATCHDOG=1", 2000ms));
    // systemctl reload: the file read again, what is new started.
    std::ofstream(tree, std::ios::app) << "[[child]]\nname = \"two\"\ncommand = [\"sleep\", \"100000\"]\n";
    auto reloaded = sh(reload + " 2>&1");
    CAPTURE(reloaded.out);
    CHECK(reloaded.code == 0);
    CHECK(eventually([&] { return tree_status(run)["two"].state == "running"; }));
    // KillMode=mixed: SIGTERM to the supervisor alone, which stops its children in order.
    auto one = pid_of(run, "one");
    sup.signal(SIGTERM);
    CHECK(notify.wait_for("STOPPING=1"));
    CHECK(sup.exit_code() == 0);
    CHECK_FALSE(alive(one));
}
