// TCP sockets held by the supervisor: bound before any child starts, kept
// across kill -9 of their server (a client connecting meanwhile waits in the
// backlog and is served, never refused), shown in status with the port the
// kernel picked, handed over by socket activation by name; seq-worker and
// seq-stash serve on one they inherit.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "harness.hpp"
#include "held_sockets.hpp"
#include "listen_address.hpp"
#include "socket.hpp"

using namespace seqtest;

namespace {

std::string web_app() { return std::string(SEQ_SOURCE_DIR) + "/scripts/web-app.py"; }

// A tree of the stash and the web app on `listen`, with `more` keys on its socket.
std::string web_tree(const std::string& listen, const std::string& more = "") {
    return "stash = \"stash\"\nmax_restarts = 100\n"
           "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\"]\nreadiness = \"notify-fd\"\n"
           "sockets = [\"stash\"]\n"
           "[[child]]\nname = \"web\"\ncommand = [\"" + web_app() + "\"]\nreadiness = \"notify-fd\"\n"
           "start_timeout = 60000\n"
           "sockets = [{ name = \"http\", listen = \"" + listen + "\"" + more + " }]\n";
}

std::string address_of(const TreeSup& t, const std::string& child, const std::string& socket) {
    auto st = t.child(child);
    auto it = st.sockets.find(socket);
    return it == st.sockets.end() ? "" : it->second;
}

// Kills `child` `times` times with SIGKILL while `load` runs, each time
// waiting for its restart and for a request served by the new process.
void kill_under_load(const TreeSup& t, const std::string& child, HttpLoad& load, int times) {
    for (int i = 0; i < times; ++i) {
        auto old = pid_of(t.run, child);
        auto before = load.ok();
        REQUIRE(kill(old, SIGKILL) == 0);
        REQUIRE(restarted(t.run, child, old, python_starts));
        REQUIRE(eventually([&] { return load.ok() > before + 2; }, python_starts));
    }
}

}  // namespace

TEST_CASE("a TCP socket on port 0: the HTTP app answers on the port status shows, and kill -9 under a connect loop refuses no connection") {
    TempDir dir;
    TreeSup t(dir, web_tree("127.0.0.1:0"), true, {}, python_starts);
    auto addr = address_of(t, "web", "http");
    INFO("address ", addr, "\nsupervisor log:\n", t.proc->log());
    REQUIRE(std::regex_match(addr, std::regex("127\\.0\\.0\\.1:[1-9][0-9]*")));
    auto first = http_get(addr);
    REQUIRE(first.outcome == HttpResult::ok);
    CHECK(first.body.starts_with("hits 1 "));

    HttpLoad load(addr, 4);
    kill_under_load(t, "web", load, 5);
    load.stop();
    INFO(load.report());
    CHECK(load.refused() == 0);
    // Only a request the killed process had taken can fail: one per client at most, per kill.
    CHECK(load.failed() <= 5 * 4);
    CHECK(load.ok() > 10);
    // The count lives in the stash: every hit counted, across every kill.
    auto last = http_get(addr);
    REQUIRE(last.outcome == HttpResult::ok);
    CHECK(std::stoll(last.body.substr(5)) >= load.ok() + 2);
    // The same port across every restart.
    CHECK(address_of(t, "web", "http") == addr);
}

TEST_CASE("an IPv6 TCP socket on [::1]:0, and [::]:0 with ipv6_only = false taking IPv4 too") {
    if (!has_ipv6_loopback()) {
        MESSAGE("SKIPPED: this machine cannot bind [::1] (no IPv6 on loopback)");
        return;
    }
    TempDir dir;
    {
        TreeSup t(dir, web_tree("[::1]:0"), true, {}, python_starts);
        auto addr = address_of(t, "web", "http");
        INFO(t.proc->log());
        REQUIRE(std::regex_match(addr, std::regex("\\[::1\\]:[1-9][0-9]*")));
        CHECK(http_get(addr).outcome == HttpResult::ok);
    }
    TempDir dual;
    TreeSup t(dual, web_tree("[::]:0", ", ipv6_only = false"), true, {}, python_starts);
    auto addr = address_of(t, "web", "http");
    auto port = addr.substr(addr.rfind(':') + 1);
    INFO(addr, "\n", t.proc->log());
    CHECK(http_get("[::1]:" + port).outcome == HttpResult::ok);
    CHECK(http_get("127.0.0.1:" + port).outcome == HttpResult::ok);
}

TEST_CASE("seq-worker serves NEXT on an inherited TCP socket: redis-cli -h 127.0.0.1 -p PORT NEXT") {
    if (sh("command -v redis-cli >/dev/null").code != 0) FAIL("redis-cli is missing: scripts/test installs redis-tools");
    TempDir dir;
    TreeSup t(dir, "stash = \"stash\"\n"
                   "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\"]\nreadiness = \"notify-fd\"\n"
                   "sockets = [{ name = \"stash\", listen = \"127.0.0.1:0\" }, { name = \"state\", path = \"stash.sock\" }]\n"
                   "[[child]]\nname = \"worker\"\ncommand = [\"" + bin("seq-worker") + "\"]\nreadiness = \"notify-fd\"\nstash_keys = [\"sequence\"]\n"
                   "sockets = [{ name = \"worker\", listen = \"127.0.0.1:0\" }]\n",
              false);
    // $SEQ_STASH names a Unix socket's path: a TCP one as `stash` is refused, naming it.
    CHECK(t.proc->exit_code() == 2);
    CHECK(t.proc->log().find("\"stash\" is a TCP socket; $SEQ_STASH names a Unix socket's path") != std::string::npos);

    TempDir ok;
    TreeSup w(ok, "stash = \"stash\"\n"
                  "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\"]\nreadiness = \"notify-fd\"\n"
                  "sockets = [\"stash\"]\n"
                  "[[child]]\nname = \"worker\"\ncommand = [\"" + bin("seq-worker") + "\"]\nreadiness = \"notify-fd\"\nstash_keys = [\"sequence\"]\n"
                  "sockets = [{ name = \"worker\", listen = \"127.0.0.1:0\" }]\n");
    auto addr = address_of(w, "worker", "worker");
    INFO(addr, "\n", w.proc->log());
    auto port = addr.substr(addr.rfind(':') + 1);
    CHECK(sh("redis-cli -h 127.0.0.1 -p " + port + " NEXT").out == "0\n");
    CHECK(sh("redis-cli -h 127.0.0.1 -p " + port + " NEXT").out == "1\n");
    REQUIRE(kill(pid_of(w.run, "worker"), SIGKILL) == 0);
    // Asked at once: the connection waits in the backlog for the new worker.
    CHECK(sh("redis-cli -h 127.0.0.1 -p " + port + " NEXT").out == "2\n");
}

TEST_CASE("seq-stash serves on an inherited TCP socket: SET and GET with redis-cli") {
    if (sh("command -v redis-cli >/dev/null").code != 0) FAIL("redis-cli is missing: scripts/test installs redis-tools");
    TempDir dir;
    TreeSup t(dir, "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\"]\nreadiness = \"notify-fd\"\n"
                   "sockets = [{ name = \"stash\", listen = \"127.0.0.1:0\" }]\n");
    auto addr = address_of(t, "stash", "stash");
    INFO(addr, "\n", t.proc->log());
    auto cli = "redis-cli -h 127.0.0.1 -p " + addr.substr(addr.rfind(':') + 1);
    CHECK(sh(cli + " SET k v").out == "OK\n");
    CHECK(sh(cli + " GET k").out == "v\n");
}

TEST_CASE("a TCP port in use is exit 3, naming the socket, the address and the process holding it") {
    TempDir dir;
    seq::sup::SocketSpec held;
    held.name = "other";
    held.listen = "127.0.0.1:0";
    auto fd = seq::sup::listen_tcp(held);  // this test's process holds it
    auto addr = seq::bound_address(fd.get());
    TreeSup t(dir, web_tree(addr), false);
    CHECK(t.proc->exit_code() == 3);
    auto log = t.proc->log();
    INFO(log);
    CHECK(log.find("socket 'http' (" + addr + "): binding: Address already in use (held by pid " +
                   std::to_string(getpid()) + " (") != std::string::npos);
    // Nothing was started, nothing is left.
    CHECK(log.find("web-app") == std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir / "run/control.sock"));
}

TEST_CASE("a reload keeps a TCP socket bound at the same address (port 0 keeps its port), and moves one whose address changed") {
    TempDir dir;
    TreeSup t(dir, web_tree("127.0.0.1:0"), true, {}, python_starts);
    auto addr = address_of(t, "web", "http");
    auto pid = pid_of(t.run, "web");
    // The same tree again: same port, same process.
    REQUIRE(call(t.run + "/control.sock", {"RELOAD"}).type != seq::resp::Value::Type::error);
    CHECK(address_of(t, "web", "http") == addr);
    CHECK(pid_of(t.run, "web") == pid);
    // A backlog changed in place: the socket is kept, the child restarted for its new spec.
    std::ofstream(t.file) << web_tree("127.0.0.1:0", ", backlog = 16");
    REQUIRE(call(t.run + "/control.sock", {"RELOAD"}).type != seq::resp::Value::Type::error);
    REQUIRE(restarted(t.run, "web", pid, python_starts));
    CHECK(address_of(t, "web", "http") == addr);
    CHECK(http_get(addr).outcome == HttpResult::ok);
    // A new address: bound, and the old one closed once nothing holds it.
    std::ofstream(t.file) << web_tree("127.0.0.2:0");
    REQUIRE(call(t.run + "/control.sock", {"RELOAD"}).type != seq::resp::Value::Type::error);
    REQUIRE(eventually([&] { return address_of(t, "web", "http").starts_with("127.0.0.2:"); }));
    REQUIRE(tree_running(t.run, python_starts));
    CHECK(http_get(address_of(t, "web", "http")).outcome == HttpResult::ok);
    CHECK(eventually([&] { return http_get(addr).outcome == HttpResult::refused; }));
}

TEST_CASE("a TCP socket handed over by socket activation is matched by name, whatever address the tree gives it") {
    TempDir dir;
    std::string run = dir / "run";
    seq::sup::SocketSpec spec;
    spec.name = "http";
    spec.listen = "127.0.0.1:0";
    auto listener = seq::sup::listen_tcp(spec);
    REQUIRE(fcntl(listener.get(), F_SETFD, 0) == 0);
    auto addr = seq::bound_address(listener.get());
    std::ofstream(dir / "tree.toml") << web_tree("127.0.0.1:1");  // port 1: binding it would fail
    std::string script = "exec 3<&" + std::to_string(listener.get()) + "; LISTEN_FDS=1 LISTEN_FDNAMES=http LISTEN_PID=$$ exec " +
                         bin("seq-supervisor") + " --run-dir " + run + " --config " + (dir / "tree.toml");
    Process sup({"/bin/sh", "-c", script}, dir / "supervisor.log");
    INFO(sup.log());
    REQUIRE(tree_running(run, python_starts));
    CHECK(tree_status(run).at("web").sockets.at("http") == addr);
    CHECK(http_get(addr).outcome == HttpResult::ok);
    CHECK(sup.log().find("socket 'http': inherited (fd 3), not bound here") != std::string::npos);
    sup.signal(SIGTERM);
    CHECK(sup.exit_code() == 0);
    // Its owner keeps it: still listening (a connection waits, not refused).
    CHECK(http_get(addr, "/", 200ms).outcome == HttpResult::failed);
}
