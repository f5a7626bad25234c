// seq-stash, seq-worker and seqctl as real processes, without a supervisor.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <memory>
#include <set>

#include "harness.hpp"
#include "socket.hpp"

using namespace seqtest;
using seq::resp::Value;

namespace {
std::string raw_exchange(const std::string& socket, std::string_view bytes, std::size_t replies) {
    seq::Client c(socket, 3000ms);
    c.send_raw(bytes);
    std::string out;
    for (std::size_t i = 0; i < replies; ++i) seq::resp::append_value(out, c.read_reply());
    return out;
}

// Every byte the server sends until it closes; nullopt if it has not closed
// within the deadline.
std::optional<std::string> read_to_close(int fd, Ms deadline = 5000ms) {
    std::string got;
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        auto left = std::chrono::duration_cast<Ms>(until - std::chrono::steady_clock::now()).count();
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return got;
        got.append(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace

TEST_CASE("the seed's session") {
    TempDir dir;
    Standalone t(dir);
    CHECK(call_int(t.worker_sock, {"INCREMENT", "12"}) == 12);
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 12);
    CHECK(call_int(t.worker_sock, {"INCREMENT", "3"}) == 16);
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 16);
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 17);
    CHECK(call_int(t.worker_sock, {"GET"}) == 18);
    auto held = call(t.stash_sock, {"GET", "sequence"});
    CHECK(held.type == Value::Type::bulk);
    CHECK(held.str == "18");
}

TEST_CASE("--initial and --key") {
    TempDir dir;
    Standalone t(dir, {"--initial", "1000", "--key", "orders"});
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 1000);
    CHECK(call(t.stash_sock, {"GET", "orders"}).str == "1001");
    CHECK(call(t.stash_sock, {"GET", "sequence"}).type == Value::Type::nil);
}

TEST_CASE("kill -9 of the worker: a new worker carries on from the stash") {
    TempDir dir;
    Standalone t(dir);
    for (int i = 0; i < 5; ++i) CHECK(call_int(t.worker_sock, {"NEXT"}) == i);
    t.worker->signal(SIGKILL);
    REQUIRE(t.worker->wait_exit());
    t.start_worker();
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 5);
}

TEST_CASE("kill -9 of the stash: the live worker re-seeds a fresh one, nothing lost") {
    TempDir dir;
    Standalone t(dir);
    CHECK(call_int(t.worker_sock, {"INCREMENT", "41"}) == 41);
    auto worker_pid = t.worker->pid();
    t.stash->signal(SIGKILL);
    REQUIRE(t.stash->wait_exit());
    t.start_stash();
    // The worker reconnects and writes its number into the empty stash.
    CHECK(eventually([&] {
        try {
            return call(t.stash_sock, {"GET", "sequence"}).str == "41";
        } catch (const std::exception&) {
            return false;
        }
    }));
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 41);
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 42);
    CHECK(t.worker->pid() == worker_pid);
    CHECK(t.worker->running());
}

TEST_CASE("while the stash is down, NEXT waits for it, then is served") {
    TempDir dir;
    Standalone t(dir);
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 0);
    t.stash->signal(SIGKILL);
    REQUIRE(t.stash->wait_exit());
    seq::Client c(t.worker_sock, 10000ms);
    c.send_raw("NEXT\r\n");
    t.start_stash();
    auto v = c.read_reply();
    CHECK(v.type == Value::Type::integer);
    CHECK(v.integer == 1);
}

TEST_CASE("while the stash stays down, NEXT fails after --stash-timeout and nothing is handed out") {
    TempDir dir;
    Standalone t(dir, {"--stash-timeout", "300"});
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 0);
    t.stash->signal(SIGKILL);
    REQUIRE(t.stash->wait_exit());
    auto v = call(t.worker_sock, {"NEXT"});
    CHECK(v.is_error());
    CHECK(v.str == "ERR stash unavailable");
    CHECK(call(t.worker_sock, {"PING"}).str == "PONG");  // still serving what needs no stash
    t.start_stash();
    CHECK(eventually([&] {
        try {
            return call_int(t.worker_sock, {"NEXT"}) == 1;
        } catch (const std::exception&) {
            return false;
        }
    }));
}

TEST_CASE("bad input gets an error, changes nothing, and the worker stays up") {
    TempDir dir;
    Standalone t(dir);
    CHECK(call_int(t.worker_sock, {"INCREMENT", "7"}) == 7);
    auto pid = t.worker->pid();
    struct Case {
        std::vector<std::string_view> args;
        std::string_view expect;
    };
    std::vector<Case> cases = {
        {{"INCREMENT", "-1"}, "ERR increment must not be negative"},
        {{"INCREMENT", "x"}, "ERR increment must be an integer"},
        {{"INCREMENT", "9223372036854775807"}, "ERR increment would overflow the 64-bit sequence"},
        {{"INCREMENT"}, "ERR wrong number of arguments for 'increment' command"},
        {{"NEXT", "now"}, "ERR wrong number of arguments for 'next' command"},
        {{"FLUSHALL"}, "ERR unknown command 'FLUSHALL'"},
    };
    for (auto& c : cases) {
        CAPTURE(c.expect);
        seq::Client client(t.worker_sock);
        auto v = client.call(std::span<const std::string_view>(c.args));
        CHECK(v.is_error());
        CHECK(v.str == c.expect);
    }
    // Protocol errors: an error reply, then the connection is closed.
    for (std::string_view bad : {"*-5\r\n", "*2\r\n$4\r\nNEXT\r\n:1\r\n", "*1\r\n$99999999\r\n", "*1\r\n$4\r\nNEXTxx",
                                 "*abc\r\n", "*2000\r\n"}) {
        CAPTURE(bad);
        seq::Client client(t.worker_sock);
        client.send_raw(bad);
        auto v = client.read_reply();
        CHECK(v.is_error());
        CHECK(v.str.rfind("ERR Protocol error: ", 0) == 0);
        CHECK(client.closed_by_peer());
    }
    {
        seq::Client client(t.worker_sock);  // an inline line over 64 KiB
        client.send_raw(std::string(70000, 'a'));
        auto v = client.read_reply();
        CHECK(v.str == "ERR Protocol error: too big inline request");
    }
    CHECK(call_int(t.worker_sock, {"GET"}) == 7);
    CHECK(t.worker->pid() == pid);
    CHECK(t.worker->running());
}

TEST_CASE("inline commands, any case, pipelined, and split at every byte") {
    TempDir dir;
    Standalone t(dir);
    CHECK(raw_exchange(t.worker_sock, "next\r\nNeXt\nget\r\nPING\r\n", 4) == ":0\r\n:1\r\n:2\r\n+PONG\r\n");
    std::string req = "*2\r\n$9\r\nINCREMENT\r\n$1\r\n5\r\n*1\r\n$4\r\nNEXT\r\n";
    seq::Client c(t.worker_sock);
    for (char ch : req) c.send_raw(std::string_view(&ch, 1));
    CHECK(c.read_reply().integer == 7);
    CHECK(c.read_reply().integer == 7);
    CHECK(call_int(t.worker_sock, {"GET"}) == 8);
}

TEST_CASE("many clients at once get distinct numbers") {
    TempDir dir;
    Standalone t(dir);
    std::vector<std::unique_ptr<seq::Client>> clients;
    for (int i = 0; i < 50; ++i) clients.push_back(std::make_unique<seq::Client>(t.worker_sock));
    std::string burst;
    for (int j = 0; j < 20; ++j) burst += "NEXT\r\n";
    for (auto& c : clients) c->send_raw(burst);
    std::set<std::int64_t> seen;
    for (auto& c : clients) {
        std::int64_t last = -1;
        for (int j = 0; j < 20; ++j) {
            auto v = c->read_reply();
            REQUIRE(v.type == Value::Type::integer);
            CHECK(v.integer > last);  // one client never sees the sequence go back
            last = v.integer;
            seen.insert(v.integer);
        }
    }
    CHECK(seen.size() == 1000);
    CHECK(*seen.begin() == 0);
    CHECK(*seen.rbegin() == 999);
    CHECK(call(t.stash_sock, {"GET", "sequence"}).str == "1000");
}

TEST_CASE("INFO names the pid, the number and the stash link") {
    TempDir dir;
    Standalone t(dir);
    call_int(t.worker_sock, {"NEXT"});
    auto info = call(t.worker_sock, {"INFO"}).str;
    CHECK(info.find("pid:" + std::to_string(t.worker->pid()) + "\r\n") != std::string::npos);
    CHECK(info.find("value:1\r\n") != std::string::npos);
    CHECK(info.find("stash_link:up\r\n") != std::string::npos);
    CHECK(info.find("uptime_in_seconds:") != std::string::npos);
    CHECK(info.find("clients:1\r\n") != std::string::npos);
}

TEST_CASE("the stash speaks Redis: GET, SET, DEL, PING") {
    TempDir dir;
    Process stash({bin("seq-stash"), "--socket", dir / "s.sock"}, dir / "stash.log");
    REQUIRE(eventually([&] { return answers(dir / "s.sock"); }));
    auto s = dir / "s.sock";
    CHECK(call(s, {"GET", "k"}).type == Value::Type::nil);
    CHECK(call(s, {"SET", "k", "v1"}).str == "OK");
    CHECK(call(s, {"get", "k"}).str == "v1");
    CHECK(call(s, {"DEL", "k", "other"}).integer == 1);
    CHECK(call(s, {"DEL", "k"}).integer == 0);
    CHECK(call(s, {"PING", "hi"}).str == "hi");
    CHECK(call(s, {"SET", "k"}).str == "ERR wrong number of arguments for 'set' command");
    CHECK(call(s, {"NEXT"}).str == "ERR unknown command 'NEXT'");
    struct stat st{};
    REQUIRE(stat(s.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("the stash's CLIENT REPLY ON|OFF|SKIP silences one connection's replies, as Redis's does") {
    TempDir dir;
    Process stash({bin("seq-stash"), "--socket", dir / "s.sock"}, dir / "stash.log");
    REQUIRE(eventually([&] { return answers(dir / "s.sock"); }));
    auto s = dir / "s.sock";
    auto got = raw_exchange(s,
                            "CLIENT REPLY SKIP\r\nSET a 1\r\nGET a\r\n"
                            "client reply off\r\nSET b 2\r\nGET b\r\nNEXT\r\n"
                            "CLIENT REPLY ON\r\nGET b\r\n",
                            3);
    CHECK(got == "$1\r\n1\r\n+OK\r\n$1\r\n2\r\n");
    // Silenced writes took effect; other connections were never silenced.
    CHECK(call(s, {"GET", "b"}).str == "2");
    CHECK(call(s, {"CLIENT", "REPLY", "MAYBE"}).str == "ERR syntax error: CLIENT REPLY takes ON, OFF or SKIP");
    CHECK(call(s, {"CLIENT", "KILL", "ID", "1"}).str == "ERR unknown subcommand 'KILL'. Try CLIENT HELP.");
    CHECK(call(s, {"PING"}).str == "PONG");
}

TEST_CASE("a stale socket file is replaced, a live one is refused, naming the path") {
    TempDir dir;
    auto path = dir / "stash.sock";
    {
        Process first({bin("seq-stash"), "--socket", path}, dir / "first.log");
        REQUIRE(eventually([&] { return answers(path); }));
        Process second({bin("seq-stash"), "--socket", path}, dir / "second.log");
        CHECK(second.exit_code() == 3);
        CHECK(second.log().find("another process is already serving on " + path) != std::string::npos);
        CHECK(answers(path));
        first.signal(SIGKILL);  // leaves its socket file behind
        REQUIRE(first.wait_exit());
    }
    struct stat st{};
    REQUIRE(stat(path.c_str(), &st) == 0);
    Process third({bin("seq-stash"), "--socket", path}, dir / "third.log");
    CHECK(eventually([&] { return answers(path); }));
    third.signal(SIGTERM);
    CHECK(third.exit_code() == 0);
    CHECK(stat(path.c_str(), &st) != 0);  // removed on an orderly stop
}

TEST_CASE("the worker without a stash exits 4 after --stash-timeout") {
    TempDir dir;
    Process w({bin("seq-worker"), "--socket", dir / "w.sock", "--stash", dir / "none.sock", "--stash-timeout", "200"},
              dir / "w.log");
    CHECK(w.exit_code() == 4);
    CHECK(w.log().find(dir / "none.sock") != std::string::npos);
}

TEST_CASE("a stash holding garbage at the key is refused, not overwritten") {
    TempDir dir;
    Process stash({bin("seq-stash"), "--socket", dir / "s.sock"}, dir / "stash.log");
    REQUIRE(eventually([&] { return answers(dir / "s.sock"); }));
    call(dir / "s.sock", {"SET", "sequence", "twelve"});
    Process w({bin("seq-worker"), "--socket", dir / "w.sock", "--stash", dir / "s.sock"}, dir / "w.log");
    CHECK(w.exit_code() == 6);
    CHECK(w.log().find("non-integer at key 'sequence'") != std::string::npos);
    CHECK(call(dir / "s.sock", {"GET", "sequence"}).str == "twelve");
}

TEST_CASE("usage errors exit 2") {
    TempDir dir;
    CHECK(sh(bin("seq-worker") + " --socket " + (dir / "w.sock") + " 2>/dev/null").code == 2);  // no --stash
    CHECK(sh(bin("seq-stash") + " --bogus 2>/dev/null").code == 2);
    auto none = sh(bin("seqctl") + " 2>&1");
    CHECK(none.code == 2);
    CHECK(none.out.find("a command is needed: one of next, increment, get,") != std::string::npos);
    auto unknown = sh(bin("seqctl") + " frobnicate 2>&1");
    CHECK(unknown.code == 2);
    CHECK(unknown.out.find("not expected: frobnicate") != std::string::npos);
    // Checked before anything is asked of the tree (none runs here).
    auto nan = sh(bin("seqctl") + " --run-dir " + (dir / "run") + " increment abc 2>&1");
    CHECK(nan.code == 2);
    CHECK(nan.out.find("'abc' is not a whole number from 0 to") != std::string::npos);
    CHECK(sh(bin("seq-supervisor") + " --strategy one_for_none 2>/dev/null").code == 2);
    // --fsync means nothing without a store on disk: said, not ignored.
    auto r = sh(bin("seq-stash") + " --socket " + (dir / "s.sock") + " --fsync always 2>&1");
    CHECK(r.code == 2);
    CHECK(r.out.find("--fsync requires --data-dir") != std::string::npos);
    CHECK(sh(bin("seq-supervisor") + " --run-dir " + (dir / "run") + " --fsync no 2>/dev/null").code == 2);
    auto both = sh(bin("seq-supervisor") + " --print-config --standby --no-standby 2>&1");
    CHECK(both.code == 2);
    CHECK(both.out.find("--standby excludes --no-standby") != std::string::npos);
    CHECK(sh(bin("seq-supervisor") + " --print-config --no-standby").out.find("standby = true") == std::string::npos);
    CHECK(sh(bin("seq-supervisor") + " --print-config").out.find("standby = true") != std::string::npos);
    for (auto prog : {"seq-stash", "seq-worker", "seq-supervisor", "seqctl"}) {
        auto r = sh(bin(prog) + " --help");
        CAPTURE(prog);
        CHECK(r.code == 0);
        CHECK(r.out.find("Exit codes:") != std::string::npos);
    }
}

TEST_CASE("a number out of its range on a command line exits 2, naming the option and the range") {
    TempDir dir;
    std::string w = " --stash " + (dir / "s.sock") + " --socket " + (dir / "w.sock");
    struct Case {
        std::string line, says;
    };
    for (const auto& c : std::vector<Case>{
             {bin("seq-supervisor") + " --print-config --reserve -1", "--reserve: '-1' is not a whole number from 1 to 1000000000 (0: off)"},
             {bin("seq-supervisor") + " --print-config --shutdown-timeout -1", "--shutdown-timeout: '-1' is not a whole number from 0 to 86400000"},
             {bin("seq-supervisor") + " --print-config --watchdog 1", "--watchdog: '1' is not a whole number from 10 to"},
             {bin("seq-supervisor") + " --print-config --max-restarts 5000000", "--max-restarts: '5000000' is not"},
             {bin("seq-supervisor") + " --print-config --max-seconds 0", "--max-seconds: '0' is not a whole number from 1 to"},
             {bin("seq-worker") + w + " --reserve 9223372036854775807", "--reserve: '9223372036854775807' is not"},
             {"SEQ_RESERVE=18446744073709551615 " + bin("seq-worker") + w, "--reserve: '18446744073709551615' is not"},
             {bin("seq-worker") + w + " --stash-timeout 1.5", "--stash-timeout: '1.5' is not a whole number"},
             {bin("seq-stash") + " --max-clients 0", "--max-clients: '0' is not a whole number from 1 to"},
             {bin("seqctl") + " --run-dir " + (dir / "run") + " --timeout 0 next", "--timeout: '0' is not a whole number from 1 to"},
             // A closed readiness fd: the newline would go to whatever opens there later.
             {bin("seq-stash") + " --socket " + (dir / "s.sock") + " --notify-fd 1000", "--notify-fd: fd 1000 is not open"},
             {"SEQ_NOTIFY_FD=1000 " + bin("seq-worker") + w, "--notify-fd: fd 1000 is not open"},
             {bin("seq-supervisor") + " --print-config --notify-fd 1000", "--notify-fd: fd 1000 is not open"},
             {bin("seq-supervisor") + " --print-config --notify-fd -1", "--notify-fd: '-1' is not a whole number from 0 to"},
         }) {
        CAPTURE(c.line);
        auto r = sh(c.line + " 2>&1");
        CHECK(r.code == 2);
        CHECK(r.out.find(c.says) != std::string::npos);
    }
    // What the flags take, --print-config prints as a tree file that loads.
    auto printed = sh(bin("seq-supervisor") + " --print-config --reserve 1000000000 --watchdog 10 --max-restarts 1000000 "
                      "--max-seconds 31536000 --shutdown-timeout 86400000 --start-timeout 1 > " + (dir / "t.toml"));
    REQUIRE(printed.code == 0);
    CHECK(sh(bin("seq-supervisor") + " --check " + (dir / "t.toml")).code == 0);
    auto full = sh(bin("seq-supervisor") + " --print-config 2>&1 >/dev/full");
    CHECK(full.code == 1);
    CHECK(full.out.find("cannot write the tree to standard output: No space left on device") != std::string::npos);
}

TEST_CASE("seqctl: bare numbers for scripts, and its exit codes") {
    TempDir dir;
    Standalone t(dir);
    auto ctl = bin("seqctl") + " --socket " + t.worker_sock;
    auto r = sh(ctl + " next");
    CHECK(r.code == 0);
    CHECK(r.out == "0\n");
    CHECK(sh(ctl + " increment 10").out == "11\n");
    CHECK(sh(ctl + " get").out == "11\n");
    CHECK(sh(ctl + " ping").out == "PONG\n");
    // A bad N is a bad command line, refused before the worker is asked.
    r = sh(ctl + " increment -- -3 2>&1");
    CHECK(r.code == 2);
    CHECK(r.out.find("'-3' is not a whole number from 0 to") != std::string::npos);
    CHECK(sh(ctl + " get").out == "11\n");
    r = sh(bin("seqctl") + " --socket " + (dir / "nobody.sock") + " next 2>&1");
    CHECK(r.code == 3);
    CHECK(r.out.find(dir / "nobody.sock") != std::string::npos);
    r = sh("SEQUENCE_RUN_DIR=" + dir.path() + " " + bin("seqctl") + " next");
    CHECK(r.code == 0);
    CHECK(r.out == "11\n");
    CHECK(sh(ctl + " get").out == "12\n");
    // A number that cannot be printed is not a success: the script must know.
    r = sh(ctl + " next 2>&1 >/dev/full");
    CHECK(r.code == 5);
    CHECK(r.out.find("cannot write the reply to standard output") != std::string::npos);
    CHECK(sh(ctl + " get").out == "13\n");  // handed out, and never again
    // With stdout closed it asks for nothing; with stderr closed too, no fd
    // of its connection stands in for them.
    r = sh("exec 3>&1; " + ctl + " next 2>&3 >&-");
    CHECK(r.code == 5);
    CHECK(r.out.find("standard output is closed") != std::string::npos);
    CHECK(sh(ctl + " next 2>&-").out == "13\n");
    CHECK(sh(ctl + " next <&- 2>&-").out == "14\n");
    {  // a reader that has gone: EPIPE, not death by SIGPIPE
        int p[2];
        REQUIRE(pipe(p) == 0);
        close(p[0]);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        std::vector<std::string> args{bin("seqctl"), "--socket", t.worker_sock, "next"};
        std::vector<char*> argv;
        for (auto& s : args) argv.push_back(s.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        REQUIRE(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0);
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        int st = 0;
        REQUIRE(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st));
        CHECK(WEXITSTATUS(st) == 5);
    }
    CHECK(sh(ctl + " get").out == "16\n");
    r = sh(ctl + " status 2>&1");
    CHECK(r.code == 2);
    CHECK(r.out.find("--socket names a worker's socket") != std::string::npos);
}

TEST_CASE("redis-cli and seqctl in a shell pipeline") {
    TempDir dir;
    Standalone t(dir);
    if (sh("command -v redis-cli >/dev/null").code != 0) {
        FAIL("redis-cli is missing: scripts/test installs redis-tools");
    }
    auto r = sh("redis-cli -s " + t.worker_sock + " NEXT && n=$(" + bin("seqctl") + " --socket " + t.worker_sock +
                " next) && echo \"got $n\" && redis-cli -s " + t.worker_sock + " INCREMENT 5 | tr -d '\\n'");
    CHECK(r.code == 0);
    CHECK(r.out == "0\ngot 1\n7");
}

TEST_CASE("a reply held for a stash that never comes back: the call fails, the number is skipped, never reused") {
    TempDir dir;
    Standalone t(dir, {"--wait-for-ack", "--stash-timeout", "300"});
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 0);
    t.stash->signal(SIGSTOP);  // the SET below is written, but never acknowledged
    seq::Client c(t.worker_sock, 5000ms);
    c.send_raw("NEXT\r\n");
    CHECK(eventually([&] {
        auto info = call(t.worker_sock, {"INFO"}).str;
        return info.find("commits_issued:3\r\n") != std::string::npos;  // seed, NEXT, NEXT
    }));
    CHECK(call(t.worker_sock, {"PING"}).str == "PONG");  // another client is not held behind it
    t.stash->signal(SIGKILL);
    REQUIRE(t.stash->wait_exit());
    CHECK(c.closed_by_peer());  // after --stash-timeout, not before the reply could be given
    t.start_stash();
    CHECK(eventually([&] {
        try {
            return call_int(t.worker_sock, {"NEXT"}) == 2;  // 1 was never seen by anyone, and is skipped
        } catch (const std::exception&) {
            return false;
        }
    }));
}

TEST_CASE("what a client sent before it vanished still runs, even with our replies unread") {
    // The worker killed with the stash's "+OK"s unread is this client: its
    // hang-up reaches the stash as a reset (EPOLLERR), and its last SET, still
    // queued, must land all the same.
    TempDir dir;
    Process stash({bin("seq-stash"), "--socket", dir / "s.sock"}, dir / "stash.log");
    REQUIRE(eventually([&] { return answers(dir / "s.sock"); }));
    {
        seq::Client c(dir / "s.sock");
        c.send_raw("PING\r\n");
        pollfd p{c.fd(), POLLIN, 0};
        REQUIRE(poll(&p, 1, 5000) == 1);  // the PONG waits, unread, in our queue
        stash.signal(SIGSTOP);
        c.send_raw("SET sequence 99\r\n");
    }  // hung up with the PONG unread
    stash.signal(SIGCONT);
    CHECK(eventually([&] {
        try {
            return call(dir / "s.sock", {"GET", "sequence"}).str == "99";
        } catch (const std::exception&) {
            return false;
        }
    }));
}

TEST_CASE("a stash that is alive but stuck: held calls fail after --stash-timeout, and nothing repeats once it resumes") {
    TempDir dir;
    Standalone t(dir, {"--wait-for-ack", "--stash-timeout", "300"});
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 0);
    t.stash->signal(SIGSTOP);  // the link stays up; the SET below is never acknowledged
    seq::Client held(t.worker_sock, 5000ms);
    held.send_raw("NEXT\r\n");
    CHECK(call(t.worker_sock, {"PING"}).str == "PONG");  // another client is not held behind it
    CHECK(held.closed_by_peer());  // by --stash-timeout, with the stash still stopped
    CHECK(t.stash->running());
    t.stash->signal(SIGCONT);
    CHECK(eventually([&] {
        try {
            return call_int(t.worker_sock, {"NEXT"}) == 2;  // 1 was never seen by anyone, and is skipped
        } catch (const std::exception&) {
            return false;
        }
    }));
    CHECK(call(dir / "stash.sock", {"GET", "sequence"}).str == "3");
}

TEST_CASE("a malformed request after a held one: the error waits its turn, and never carries out the held reply") {
    for (bool ack : {false, true}) {
        CAPTURE(ack);
        TempDir dir;
        std::vector<std::string> mode{"--stash-timeout", "300"};
        if (ack) mode.push_back("--wait-for-ack");
        Standalone t(dir, mode);
        {  // in order, once the stash has the number
            seq::Client c(t.worker_sock);
            c.send_raw("NEXT\r\n*x\r\n");
            auto got = read_to_close(c.fd());
            REQUIRE(got);
            CHECK(got->rfind(":0\r\n-ERR Protocol error: ", 0) == 0);
        }
        // A stash that takes nothing: the reply to NEXT may never go, and the
        // error behind it must not push it out.
        t.stash->signal(SIGSTOP);
        if (ack) {  // hand-off mode holds only once the stash's socket is full
            seq::Client c(t.worker_sock);
            c.send_raw("NEXT\r\n*x\r\n");
            auto got = read_to_close(c.fd());
            REQUIRE(got);
            CHECK(*got == "");  // closed at --stash-timeout, nothing said
        }
        t.stash->signal(SIGCONT);
        CHECK(t.worker->running());
    }
}

TEST_CASE("a client that half-closes after its request still gets every reply, held ones included") {
    for (std::vector<std::string> mode : {std::vector<std::string>{}, {"--wait-for-ack"}}) {
        CAPTURE(mode.size());
        TempDir dir;
        Standalone t(dir, mode);
        seq::Client c(t.worker_sock);
        c.send_raw("NEXT\r\nINCREMENT 5\r\nPING\r\n");
        REQUIRE(shutdown(c.fd(), SHUT_WR) == 0);  // as `printf ... | socat - UNIX:...` does
        auto got = read_to_close(c.fd());
        REQUIRE(got);
        CHECK(*got == ":0\r\n:6\r\n+PONG\r\n");
        CHECK(call_int(t.worker_sock, {"GET"}) == 6);
    }
    // The same through a shell pipeline.
    if (sh("command -v socat >/dev/null").code == 0) {
        TempDir dir;
        Standalone t(dir, {"--wait-for-ack"});
        auto r = sh("printf 'NEXT\\r\\n' | socat - UNIX-CONNECT:" + t.worker_sock);
        CHECK(r.out == ":0\r\n");
    }
}

TEST_CASE("INFO never shows a number the stash does not hold") {
    TempDir dir;
    Standalone t(dir, {"--wait-for-ack", "--stash-timeout", "20000"});
    CHECK(call_int(t.worker_sock, {"INCREMENT", "7"}) == 7);
    t.stash->signal(SIGSTOP);
    seq::Client held(t.worker_sock, 20000ms);
    held.send_raw("INCREMENT 100\r\n");  // applied, held until the stash takes it
    CHECK(eventually([&] { return info_field(t.worker_sock, "commits_issued") == "3"; }));
    CHECK(info_field(t.worker_sock, "value") == "7");
    t.stash->signal(SIGCONT);
    CHECK(held.read_reply().integer == 107);
    CHECK(info_field(t.worker_sock, "value") == "107");
}

TEST_CASE("a stash that accepts the link and then refuses it is retried with a growing backoff, not in a spin") {
    TempDir dir;
    Process stash({bin("seq-stash"), "--socket", dir / "s.sock", "--max-clients", "1"}, dir / "stash.log");
    REQUIRE(eventually([&] { return answers(dir / "s.sock"); }));
    Process worker({bin("seq-worker"), "--socket", dir / "w.sock", "--stash", dir / "s.sock"}, dir / "worker.log");
    REQUIRE(eventually([&] { return answers(dir / "w.sock"); }));
    auto base = std::stoll(info_field(dir / "w.sock", "stash_connects"));
    // While the worker is stopped, the stash is replaced by one whose only
    // client slot is taken: it accepts the worker's link, answers "max
    // clients reached" and closes it.
    worker.signal(SIGSTOP);
    stash.signal(SIGKILL);
    REQUIRE(stash.wait_exit());
    Process second({bin("seq-stash"), "--socket", dir / "s.sock", "--max-clients", "1"}, dir / "stash2.log");
    std::optional<seq::Client> squatter;
    REQUIRE(eventually([&] {
        try {
            squatter.emplace(dir / "s.sock");
            return squatter->call({"PING"}).str == "PONG";
        } catch (const std::exception&) {
            return false;
        }
    }));
    auto t0 = std::chrono::steady_clock::now();
    worker.signal(SIGCONT);
    REQUIRE(eventually([&] { return std::stoll(info_field(dir / "w.sock", "stash_connects")) >= base + 6; }));
    auto took = std::chrono::steady_clock::now() - t0;
    // Five waits at least, each double the last: 5+10+20+40+80 ms (less a
    // little: libuv's timers count from a loop clock read a moment before).
    CHECK(took >= 150ms);
    CHECK(worker.running());
    squatter.reset();  // the slot is free: the link comes up at the next try
    CHECK(eventually([&] { return info_field(dir / "w.sock", "stash_link") == "up"; }));
    CHECK(call_int(dir / "w.sock", {"NEXT"}) == 0);
}

namespace {
// The test plays the stash: one accepted link at a time, read and written by hand.
struct FakeStash {
    explicit FakeStash(const std::string& path) : listener(seq::listen_unix(path)) {}
    seq::Fd accept_link() {
        pollfd p{listener.get(), POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) throw std::runtime_error("the worker did not connect");
        return seq::Fd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    }
    // Reads one request (the worker sends whole ones) and returns its bytes.
    static std::string read_request(int fd) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) throw std::runtime_error("the worker sent nothing");
        char buf[4096];
        auto n = recv(fd, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    }
    static void reply(int fd, std::string_view bytes) { REQUIRE(send(fd, bytes.data(), bytes.size(), 0) > 0); }
    seq::Fd listener;
};

// A worker (--wait-for-ack, --stash-timeout 1000) whose fake stash served
// its first link (holding 5) and dropped it; the new link is accepted and
// its GET read, not yet answered, so the link is not up.
struct Relinked {
    explicit Relinked(const TempDir& dir)
        : stash(dir / "s.sock"),
          worker({bin("seq-worker"), "--socket", dir / "w.sock", "--stash", dir / "s.sock", "--wait-for-ack",
                  "--stash-timeout", "1000"},
                 dir / "worker.log") {
        {
            auto first = stash.accept_link();
            CHECK(FakeStash::read_request(first.get()).find("GET") != std::string::npos);
            FakeStash::reply(first.get(), "$1\r\n5\r\n");
            REQUIRE(eventually([&] { return answers(dir / "w.sock"); }));
        }  // the link is lost
        link = stash.accept_link();
        CHECK(FakeStash::read_request(link.get()).find("GET") != std::string::npos);
    }
    FakeStash stash;
    Process worker;
    seq::Fd link;
};
}  // namespace

TEST_CASE("a request that waited for a lost stash waits no longer once the link is back: one --stash-timeout in all") {
    TempDir dir;
    Relinked t(dir);
    auto& link = t.link;
    // The reconnected link is not up until its GET is answered: NEXT waits.
    seq::Client c(dir / "w.sock", 5000ms);
    auto t0 = std::chrono::steady_clock::now();
    c.send_raw("NEXT\r\n");
    CHECK_FALSE(read_to_close(c.fd(), 800ms));  // still waiting, nothing said
    FakeStash::reply(link.get(), "$1\r\n5\r\n");  // up; the SET that follows is never acknowledged
    auto got = read_to_close(c.fd());
    auto waited = std::chrono::steady_clock::now() - t0;
    REQUIRE(got);
    CHECK(*got == "");  // closed, the number never revealed
    CHECK(waited < 1500ms);  // 1000 ms from the start of its wait, not 1000 more from the link's return
    CHECK(t.worker.running());
}

TEST_CASE("requests that waited for a lost stash for different times each keep their own deadline") {
    TempDir dir;
    Relinked t(dir);
    auto& link = t.link;
    seq::Client a(dir / "w.sock", 5000ms), b(dir / "w.sock", 5000ms);
    a.send_raw("NEXT\r\n");
    CHECK_FALSE(read_to_close(a.fd(), 600ms));
    b.send_raw("NEXT\r\n");  // 600 ms after a's
    CHECK_FALSE(read_to_close(b.fd(), 200ms));
    // The link comes up: both NEXTs run, in one commit the stash holds back.
    FakeStash::reply(link.get(), "$1\r\n5\r\n");
    CHECK(FakeStash::read_request(link.get()).find("SET") != std::string::npos);
    auto got = read_to_close(a.fd());
    REQUIRE(got);
    CHECK(*got == "");  // a's wait is over: closed, its number skipped
    FakeStash::reply(link.get(), "+OK\r\n");  // within b's wait
    auto number = b.read_reply().integer;
    CHECK((number == 5 || number == 6));  // the parked run in no set order
    CHECK(t.worker.running());
}

TEST_CASE("an orderly stop of the worker waits until a stash that answers holds its number") {
    {
        // A stash restarted a moment ago has not been re-seeded yet: the
        // worker's new link has asked it (GET) and waits for its answer.
        TempDir dir;
        Relinked t(dir);
        t.worker.signal(SIGTERM);
        FakeStash::reply(t.link.get(), "$-1\r\n");  // "I hold nothing"
        CHECK(FakeStash::read_request(t.link.get()).find("$1\r\n5\r\n") != std::string::npos);  // SET sequence 5
        FakeStash::reply(t.link.get(), "+OK\r\n");
        CHECK(t.worker.exit_code() == 0);
    }
    // With no stash at all, it stops after a short grace and says so.
    TempDir dir;
    Standalone t(dir);
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 0);
    t.stash->signal(SIGKILL);
    REQUIRE(t.stash->wait_exit());
    t.worker->signal(SIGTERM);
    CHECK(t.worker->exit_code() == 0);
    CHECK(t.worker->log().find("stopping with the stash") != std::string::npos);
}

TEST_CASE("hand-off to a stuck stash: once its socket is full, calls fail instead of hanging") {
    TempDir dir;
    Standalone t(dir, {"--stash-timeout", "300"});
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 0);
    t.stash->signal(SIGSTOP);
    // Each NEXT hands a SET to the stash's socket; the kernel takes them until
    // its buffer is full, and from then on a reply has nowhere to wait but the
    // worker, for at most --stash-timeout.
    std::int64_t last = 0;
    bool failed = false;
    {
        seq::Client c(t.worker_sock, 5000ms);
        for (int i = 0; i < 200000 && !failed; ++i) {
            try {
                auto v = c.call({"NEXT"});
                REQUIRE(v.type == Value::Type::integer);
                REQUIRE(v.integer == last + 1);
                last = v.integer;
            } catch (const seq::IoError&) {
                failed = true;
            }
        }
    }
    REQUIRE(failed);
    CHECK(last > 100);  // the socket did take a good many first
    CHECK(call(t.worker_sock, {"PING"}).str == "PONG");
    t.stash->signal(SIGCONT);
    CHECK(eventually([&] {
        try {
            return call_int(t.worker_sock, {"NEXT"}) > last + 1;  // the failed call's number is skipped
        } catch (const std::exception&) {
            return false;
        }
    }));
}

TEST_CASE("a new worker's first read of a stopped stash comes after the dead worker's last update, whatever epoll's order") {
    // Hand-off mode: a reply leaves once its SET is in the stash's socket.
    // The stash is stopped, so that SET waits there, unread, when the worker
    // dies and a new one connects: the stash must read it before it answers
    // the new one's GET, or the new worker would hand out the same numbers.
    // It does because epoll reports in the order things became ready (the
    // old connection's data, then the new connection) and the server takes
    // them in that order; this holds it to that.
    for (int round = 0; round < 10; ++round) {
        CAPTURE(round);
        TempDir dir;
        Standalone t(dir);
        CHECK(call_int(t.worker_sock, {"INCREMENT", "100"}) == 100);
        t.stash->signal(SIGSTOP);
        CHECK(call_int(t.worker_sock, {"NEXT"}) == 100);  // its SET is in the stopped stash's socket
        t.worker->signal(SIGKILL);
        t.worker->wait_exit();
        t.worker.reset();
        Process worker({bin("seq-worker"), "--socket", dir / "w2.sock", "--stash", t.stash_sock}, dir / "w2.log");
        // Its connect is taken by the backlog and its GET queued behind.
        REQUIRE(eventually([&] {
            auto q = sh("ss -xlH src " + t.stash_sock + " | awk '{ print $3 }'");
            return q.code == 0 && q.out == "1\n";
        }));
        t.stash->signal(SIGCONT);
        REQUIRE(eventually([&] { return answers(dir / "w2.sock"); }));
        CHECK(call_int(dir / "w2.sock", {"NEXT"}) == 101);
    }
}
