// The connection commands every RESP socket answers as Redis does, on the
// worker and the stash: HELLO 2 and 3 (and RESP3 replies after it), ECHO,
// SELECT, RESET, CLIENT, COMMAND and CONFIG GET, checked byte for byte; and
// the real clients that need them: redis-cli -3 and --pipe, redis-benchmark -3.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

// The raw bytes of the replies to `requests` (inline commands), read until
// `replies` have come.
std::string raw(const std::string& socket, const std::string& requests, std::size_t replies) {
    seq::Client c(socket, 5000ms);
    c.send_raw(requests);
    std::string all;
    for (std::size_t i = 0; i < replies; ++i) {
        auto v = c.read_reply();
        seq::resp::append_value(all, v);
    }
    return all;
}

// Exact bytes, as the server wrote them, read until they end with `end`.
std::string wire(const std::string& socket, const std::string& requests, const std::string& end) {
    seq::Client c(socket, 5000ms);
    c.send_raw(requests);
    std::string got;
    eventually([&] {
        char buf[4096];
        auto n = ::recv(c.fd(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
        return got.ends_with(end);
    });
    return got;
}

}  // namespace

TEST_CASE("connection commands on the worker and the stash, byte for byte, RESP2 and RESP3") {
    TempDir dir;
    Standalone t(dir);
    for (const auto& target : {std::pair{t.worker_sock, std::string("seq-worker")}, std::pair{t.stash_sock, std::string("seq-stash")}}) {
        const std::string& sock = target.first;  // named: clang 14 captures no structured binding
        const std::string& server = target.second;
        CAPTURE(server);
        // HELLO 3: a map; then RESP3 on that connection. HELLO 2: a flat array.
        std::string hello3 = "%7\r\n$6\r\nserver\r\n$" + std::to_string(server.size()) + "\r\n" + server +
                             "\r\n$7\r\nversion\r\n$5\r\n0.1.0\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:";
        auto got = wire(sock, "HELLO 3\r\n", "$7\r\nmodules\r\n*0\r\n");
        CHECK(got.substr(0, hello3.size()) == hello3);
        CHECK(got.ends_with("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"));
        auto two = raw(sock, "HELLO 2\r\n", 1);
        CHECK(two.substr(0, 4) == "*14\r");
        CHECK(raw(sock, "HELLO 4\r\n", 1) == "-NOPROTO unsupported protocol version\r\n");
        CHECK(raw(sock, "HELLO x\r\n", 1) == "-ERR Protocol version is not an integer or out of range\r\n");
        CHECK(raw(sock, "HELLO 3 AUTH someone secret\r\n", 1) ==
              "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
        CHECK(raw(sock, "HELLO 2 AUTH default anything SETNAME app1\r\nCLIENT GETNAME\r\n", 2).find("$4\r\napp1\r\n") !=
              std::string::npos);
        CHECK(raw(sock, "HELLO 3 BOGUS\r\n", 1) == "-ERR Syntax error in HELLO option 'bogus'\r\n");
        // After HELLO 3 a null is RESP3's.
        CHECK(wire(sock, "HELLO 3\r\nCLIENT GETNAME\r\n", "_\r\n").ends_with("*0\r\n_\r\n"));
        CHECK(raw(sock, "ECHO hi\r\nSELECT 0\r\nSELECT 1\r\nSELECT x\r\n", 4) ==
              "$2\r\nhi\r\n+OK\r\n-ERR DB index is out of range\r\n-ERR value is not an integer or out of range\r\n");
        CHECK(raw(sock, "CLIENT SETNAME my-app\r\nCLIENT GETNAME\r\nCLIENT SETNAME has\\ space\r\n", 3)
                  .find("+OK\r\n$6\r\nmy-app\r\n") == 0);
        CHECK(raw(sock, "CLIENT SETINFO LIB-NAME redis-py\r\nCLIENT SETINFO LIB-VER 5.0\r\nCLIENT INFO\r\n", 3)
                  .find("lib-name=redis-py lib-ver=5.0") != std::string::npos);
        CHECK(raw(sock, "CLIENT SETINFO COLOR red\r\n", 1) == "-ERR Unrecognized option 'COLOR'\r\n");
        auto id = call(sock, {"CLIENT", "ID"});
        CHECK(id.type == seq::resp::Value::Type::integer);
        CHECK(call(sock, {"CLIENT", "LIST"}).str.find("id=") == 0);
        CHECK(raw(sock, "HELLO 3\r\nRESET\r\nCLIENT GETNAME\r\n", 3).find("+RESET\r\n$-1\r\n") != std::string::npos);
        CHECK(call(sock, {"COMMAND", "COUNT"}).integer >= 13);
        auto info = call(sock, {"COMMAND", "INFO", "ping", "nosuch"});
        REQUIRE(info.elems.size() == 2);
        CHECK(info.elems[0].elems.at(0).str == "ping");
        CHECK(info.elems[0].elems.at(1).integer == -1);
        CHECK(info.elems[1].type == seq::resp::Value::Type::nil);
        CHECK(raw(sock, "COMMAND DOCS\r\n", 1) == "*0\r\n");
        CHECK(wire(sock, "HELLO 3\r\nCOMMAND DOCS\r\n", "%0\r\n").ends_with("*0\r\n%0\r\n"));
        auto config = call(sock, {"CONFIG", "GET", "*"});
        CHECK(config.elems.size() == 6);
        CHECK(raw(sock, "CONFIG GET databases\r\n", 1) == "*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n");
        CHECK(call(sock, {"CONFIG", "SET", "save", ""}).is_error());
    }
    // The stash's null and INFO in RESP3, and in RESP2.
    CHECK(wire(t.stash_sock, "HELLO 3\r\nGET none\r\n", "_\r\n").ends_with("*0\r\n_\r\n"));
    CHECK(wire(t.stash_sock, "GET none\r\n", "$-1\r\n") == "$-1\r\n");
    auto info = wire(t.stash_sock, "HELLO 3\r\nINFO\r\n", "aof_enabled:0\r\n\r\n");
    CHECK(info.find("*0\r\n=") != std::string::npos);
    CHECK(info.find("txt:# Server\r\nredis_version:7.0.0\r\n") != std::string::npos);
    CHECK(call(t.stash_sock, {"INFO"}).str.find("loading:0") != std::string::npos);
    CHECK(call(t.worker_sock, {"INFO"}).str.find("value:") != std::string::npos);
}

TEST_CASE("real clients with their defaults: redis-cli -3, redis-cli --pipe, redis-benchmark -3") {
    if (sh("command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null").code != 0)
        FAIL("redis-cli or redis-benchmark is missing: scripts/test installs redis-tools");
    TempDir dir;
    Standalone t(dir);
    auto r = sh("redis-cli -3 -s " + t.worker_sock + " NEXT");
    CHECK(r.code == 0);
    CHECK(r.out == "0\n");
    // --pipe ends with ECHO and a marker of its own, and waits for it.
    r = sh("printf 'NEXT\\r\\nNEXT\\r\\n' | timeout 10 redis-cli -s " + t.worker_sock + " --pipe 2>&1");
    CHECK(r.code == 0);
    CHECK(r.out.find("errors: 0, replies: 2") != std::string::npos);
    r = sh("timeout 20 redis-benchmark -3 -s " + t.worker_sock + " -n 2000 -c 4 -q NEXT 2>&1");
    CHECK(r.code == 0);
    CHECK(r.out.find("requests per second") != std::string::npos);
    // Every number above was handed out once: 0, then two by --pipe, then 2000.
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 2003);
    r = sh("redis-cli -3 -s " + t.stash_sock + " SET k v && redis-cli -3 -s " + t.stash_sock + " GET k");
    CHECK(r.out == "OK\nv\n");
}

TEST_CASE("MULTI/EXEC on the worker: queued commands run together, and a refused one burns no number") {
    TempDir dir;
    Standalone t(dir);
    auto& w = t.worker_sock;
    // Two consecutive numbers in one reply.
    CHECK(raw(w, "MULTI\r\nNEXT\r\nNEXT\r\nGET\r\nEXEC\r\n", 5) == "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:0\r\n:1\r\n:2\r\n");
    // A command refused while queuing: EXEC runs nothing.
    CHECK(raw(w, "MULTI\r\nNEXT\r\nBOGUS\r\nINCREMENT\r\nEXEC\r\n", 5) ==
          "+OK\r\n+QUEUED\r\n-ERR unknown command 'BOGUS'\r\n-ERR wrong number of arguments for 'increment' command\r\n"
          "-EXECABORT Transaction discarded because of previous errors.\r\n");
    // DISCARD: nothing ran either.
    CHECK(raw(w, "MULTI\r\nNEXT\r\nDISCARD\r\nNEXT\r\n", 4) == "+OK\r\n+QUEUED\r\n+OK\r\n:2\r\n");
    // An error at run time is that command's reply; the others run.
    CHECK(raw(w, "MULTI\r\nINCREMENT x\r\nNEXT\r\nPING\r\nEXEC\r\n", 5) ==
          "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n-ERR increment must be an integer\r\n:3\r\n+PONG\r\n");
    CHECK(raw(w, "EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nEXEC\r\n", 5) ==
          "-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n-ERR MULTI calls can not be nested\r\n*0\r\n");
    CHECK(call_int(w, {"NEXT"}) == 4);
    // CLIENT REPLY on the worker: a silenced NEXT still hands out its number.
    CHECK(raw(w, "CLIENT REPLY OFF\r\nNEXT\r\nCLIENT REPLY SKIP\r\nNEXT\r\nCLIENT REPLY ON\r\nNEXT\r\nCLIENT REPLY SKIP\r\nGET\r\nGET\r\n", 3) ==
          "+OK\r\n:7\r\n:8\r\n");
    // Held to NEXT's guarantee: what EXEC revealed survives kill -9 of the worker.
    CHECK(raw(w, "MULTI\r\nNEXT\r\nNEXT\r\nEXEC\r\n", 4).ends_with("*2\r\n:8\r\n:9\r\n"));
    t.start_worker();
    CHECK(call_int(w, {"NEXT"}) == 10);
}

TEST_CASE("a MULTI on the worker that would queue more than 16 MiB is refused there, and burns no number") {
    TempDir dir;
    Standalone t(dir);
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 0);
    seq::Client a(t.worker_sock, 10000ms);
    std::string big(1000000, 'p');
    std::string req = "MULTI\r\nNEXT\r\n";
    for (int i = 0; i < 17; ++i) req += "*2\r\n$4\r\nPING\r\n$" + std::to_string(big.size()) + "\r\n" + big + "\r\n";
    a.send_raw(req + "EXEC\r\nGET\r\n");
    CHECK(a.read_reply().str == "OK");
    for (int i = 0; i < 17; ++i) CHECK(a.read_reply().str == "QUEUED");  // NEXT and 16 PINGs of 1 MB
    auto refused = a.read_reply();
    CHECK(refused.is_error());
    CHECK(refused.str == "ERR transaction too large: its queued commands would pass 16777216 bytes");
    CHECK(a.read_reply().str.starts_with("EXECABORT"));
    CHECK(a.read_reply().integer == 1);  // GET: the queued NEXT never ran
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 1);
}

TEST_CASE("redis-py's default pipeline (a transaction) gets consecutive numbers from the worker") {
    if (sh("/usr/bin/python3 -c 'import redis' 2>/dev/null").code != 0)
        FAIL("redis-py is missing: scripts/test installs Debian's python3-redis");
    TempDir dir;
    Standalone t(dir);
    auto r = sh("/usr/bin/python3 -c \"\nimport redis\nr = redis.Redis(unix_socket_path='" + t.worker_sock +
                "')\np = r.pipeline()\nfor _ in range(3): p.execute_command('NEXT')\nprint(p.execute())\n"
                "print(r.execute_command('NEXT'))\n\" 2>&1");
    CHECK(r.code == 0);
    CHECK(r.out == "[0, 1, 2]\n3\n");
}
