// The stash as a program's state store, as a real client uses it: redis-py
// with INCR, MSET/MGET, SET EX and WATCH/MULTI/EXEC; expiry that survives
// kill -9 with --data-dir and is swept without any access; FLUSHDB only with
// --allow-flush; MONITOR on both sockets.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <csignal>
#include <fstream>
#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

struct Stash {
    Stash(const TempDir& dir, std::vector<std::string> extra = {}) : dir(dir), extra(std::move(extra)) { start(); }
    void start() {
        p.reset();
        std::vector<std::string> argv{bin("seq-stash"), "--socket", sock};
        argv.insert(argv.end(), extra.begin(), extra.end());
        p.emplace(argv, dir / "stash.log");
        REQUIRE(eventually([&] { return answers(sock); }));
    }
    void kill9() {
        p->signal(SIGKILL);
        p->wait_exit();
    }
    const TempDir& dir;
    std::vector<std::string> extra;
    std::string sock = dir / "stash.sock";
    std::optional<Process> p;
};

std::string raw(const std::string& socket, const std::string& requests, std::size_t replies) {
    seq::Client c(socket, 5000ms);
    c.send_raw(requests);
    std::string all;
    for (std::size_t i = 0; i < replies; ++i) seq::resp::append_value(all, c.read_reply());
    return all;
}

}  // namespace

TEST_CASE("redis-py keeps a program's state in the stash as it would in Redis: INCR, MSET, SET EX, GETEX, check-and-set") {
    if (sh("/usr/bin/python3 -c 'import redis' 2>/dev/null").code != 0)
        FAIL("redis-py is missing: scripts/test installs Debian's python3-redis");
    TempDir dir;
    Stash s(dir, {"--data-dir", dir / "data"});
    // A second connection writes between WATCH and EXEC once: the first
    // EXEC must fail (WatchError) and the retry must succeed.
    auto program = R"(
import redis
r = redis.Redis(unix_socket_path=')" + s.sock + R"(')
other = redis.Redis(unix_socket_path=')" + s.sock + R"(')
print(r.incr('visits'), r.incrby('visits', 10), r.decr('visits'))
print(r.mset({'a': 1, 'b': 2}), r.mget('a', 'b', 'missing'))
print(r.set('session', 'token', ex=100), r.ttl('session'), r.exists('session', 'a', 'missing'))
print(r.getex('session', ex=300), r.ttl('session'), r.getex('session', persist=True), r.ttl('session'))
tries = 0
with r.pipeline() as p:
    while True:
        tries += 1
        try:
            p.watch('balance')
            v = int(p.get('balance') or 0)
            if tries == 1:
                other.set('balance', 50)
            p.multi()
            p.set('balance', v + 10)
            p.execute()
            break
        except redis.WatchError:
            continue
print(tries, r.get('balance'))
p = r.pipeline()
p.incr('visits'); p.get('a'); p.expire('a', 50)
print(p.execute())
print(sorted(r.scan_iter(match='[ab]')), r.dbsize(), r.type('a'), r.info('keyspace'))
)";
    {
        std::ofstream f(dir / "program.py");
        f << program;
    }
    auto r = sh("/usr/bin/python3 " + dir / "program.py" + " 2>&1");
    CHECK(r.code == 0);
    CHECK(r.out ==
          "1 11 10\n"
          "True [b'1', b'2', None]\n"
          "True 100 2\n"
          "b'token' 300 b'token' -1\n"
          "2 b'60'\n"
          "[11, b'1', True]\n"
          "[b'a', b'b'] 5 b'string' {'db0': {'keys': 5, 'expires': 1, 'avg_ttl': 0}}\n");
    // All of it is on disk: kill -9, restart, read back.
    s.kill9();
    s.start();
    CHECK(call(s.sock, {"GET", "balance"}).str == "60");
    CHECK(call(s.sock, {"GET", "visits"}).str == "11");
    CHECK(call_int(s.sock, {"TTL", "session"}) == -1);  // GETEX PERSIST, on disk too
}

TEST_CASE("MULTI/EXEC on the stash: queued, run together, EXECABORT runs nothing, WATCH spoiled gives a null array") {
    TempDir dir;
    Stash s(dir, {"--data-dir", dir / "data", "--fsync", "always"});
    CHECK(raw(s.sock, "MULTI\r\nINCR n\r\nINCR n\r\nSET k v\r\nEXEC\r\n", 5) ==
          "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:1\r\n:2\r\n+OK\r\n");
    CHECK(raw(s.sock, "MULTI\r\nINCR n\r\nINCR\r\nBOGUS\r\nEXEC\r\nGET n\r\n", 6) ==
          "+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'incr' command\r\n-ERR unknown command 'BOGUS'\r\n"
          "-EXECABORT Transaction discarded because of previous errors.\r\n$1\r\n2\r\n");
    CHECK(raw(s.sock, "MULTI\r\nINCR n\r\nDISCARD\r\nGET n\r\n", 4) == "+OK\r\n+QUEUED\r\n+OK\r\n$1\r\n2\r\n");
    // A run-time error is that command's reply; the rest still run.
    CHECK(raw(s.sock, "MULTI\r\nINCR k\r\nINCR n\r\nEXEC\r\n", 4) ==
          "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-ERR value is not an integer or out of range\r\n:3\r\n");
    // WATCH: a write from another connection spoils the transaction.
    {
        seq::Client a(s.sock, 5000ms);
        a.send_raw("WATCH n\r\n");
        CHECK(a.read_reply().str == "OK");
        CHECK(call_int(s.sock, {"INCR", "n"}) == 4);
        a.send_raw("MULTI\r\nSET n 100\r\nEXEC\r\nGET n\r\n");
        CHECK(a.read_reply().str == "OK");
        CHECK(a.read_reply().str == "QUEUED");
        CHECK(a.read_reply().type == seq::resp::Value::Type::nil);  // *-1: nothing ran
        CHECK(a.read_reply().str == "4");
        std::string got;
        // EXEC unwatched: the next transaction runs.
        a.send_raw("MULTI\r\nSET n 100\r\nEXEC\r\n");
        got.clear();
        for (int i = 0; i < 3; ++i) seq::resp::append_value(got, a.read_reply());
        CHECK(got == "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
    }
    // As Redis 7.0.15 answers, byte for byte: WATCH inside MULTI is refused
    // and the transaction goes on; UNWATCH is queued and runs; WATCH needs a key.
    CHECK(raw(s.sock, "WATCH n\r\nUNWATCH\r\nMULTI\r\nWATCH n\r\nEXEC\r\n", 5) ==
          "+OK\r\n+OK\r\n+OK\r\n-ERR WATCH inside MULTI is not allowed\r\n*0\r\n");
    CHECK(raw(s.sock, "MULTI\r\nUNWATCH\r\nEXEC\r\nWATCH\r\nUNWATCH x\r\n", 5) ==
          "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n-ERR wrong number of arguments for 'watch' command\r\n"
          "-ERR wrong number of arguments for 'unwatch' command\r\n");
    // RESP3: a spoiled EXEC is a null.
    {
        seq::Client a(s.sock, 5000ms);
        a.send_raw("HELLO 3\r\nWATCH n\r\n");
        a.read_reply();
        a.read_reply();
        call(s.sock, {"SET", "n", "1"});
        a.send_raw("MULTI\r\nGET n\r\nEXEC\r\n");
        a.read_reply();
        a.read_reply();
        CHECK(a.read_reply().type == seq::resp::Value::Type::nil);
    }
    // What an EXEC answered is on disk (--fsync always): kill -9 and read it back.
    CHECK(raw(s.sock, "MULTI\r\nSET x 1\r\nSET y 2\r\nEXEC\r\n", 4).ends_with("*2\r\n+OK\r\n+OK\r\n"));
    s.kill9();
    s.start();
    CHECK(raw(s.sock, "MGET x y n\r\n", 1) == "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n1\r\n");
}

TEST_CASE("a MULTI that would queue more than 16 MiB is refused at the command that passes it: EXEC runs none, the stash serves on") {
    TempDir dir;
    Stash s(dir);
    seq::Client a(s.sock, 10000ms);
    std::string value(1000000, 'v');
    std::string req = "MULTI\r\n";
    for (int i = 0; i < 18; ++i)
        req += "*3\r\n$3\r\nSET\r\n$2\r\nk" + std::to_string(i % 10) + "\r\n$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
    a.send_raw(req + "EXEC\r\nEXISTS k0\r\n");
    CHECK(a.read_reply().str == "OK");
    for (int i = 0; i < 16; ++i) CHECK(a.read_reply().str == "QUEUED");
    auto refused = a.read_reply();
    CHECK(refused.is_error());
    CHECK(refused.str == "ERR transaction too large: its queued commands would pass 16777216 bytes");
    // What follows a refusal is answered as Redis does, and kept nowhere: the
    // 18th would pass the bound again if the first 16 were still held.
    CHECK(a.read_reply().str == "QUEUED");
    CHECK(a.read_reply().str.starts_with("EXECABORT"));
    CHECK(a.read_reply().integer == 0);  // nothing of it ran
    // The bound is per transaction: the same connection's next one queues from zero.
    a.send_raw("MULTI\r\nSET k v\r\nEXEC\r\n");
    CHECK(a.read_reply().str == "OK");
    CHECK(a.read_reply().str == "QUEUED");
    auto ran = a.read_reply();
    REQUIRE(ran.elems.size() == 1);
    CHECK(ran.elems[0].str == "OK");
}

TEST_CASE("expiry survives kill -9 with --data-dir, and keys are swept at their time without any access") {
    TempDir dir;
    Stash s(dir, {"--data-dir", dir / "data", "--fsync", "always"});
    CHECK(call(s.sock, {"SET", "long", "v", "EX", "1000"}).str == "OK");
    CHECK(call(s.sock, {"SET", "short", "v", "PX", "400"}).str == "OK");
    std::string batch;  // one pipeline, one commit: all 300 are in before any expires
    for (int i = 0; i < 300; ++i) batch += "SET batch:" + std::to_string(i) + " v PX 1000\r\n";
    raw(s.sock, batch, 300);
    CHECK(call_int(s.sock, {"DBSIZE"}) == 302);
    s.kill9();
    s.start();
    auto ttl = call_int(s.sock, {"TTL", "long"});
    CHECK(ttl > 990);
    CHECK(ttl <= 1000);
    // Nobody reads them: DBSIZE (which counts keys not yet swept, as in
    // Redis) falls to 1 only if the sweep removed them, in batches.
    CHECK(eventually([&] { return call_int(s.sock, {"DBSIZE"}) == 1; }, 5000ms));
    CHECK(call(s.sock, {"INFO", "stats"}).str.find("expired_keys:301") != std::string::npos);
    // And that removal was committed: still gone after another kill -9.
    s.kill9();
    s.start();
    CHECK(call_int(s.sock, {"DBSIZE"}) == 1);
    CHECK(call(s.sock, {"INFO", "keyspace"}).str.find("db0:keys=1,expires=1") != std::string::npos);
}

TEST_CASE("FLUSHDB is refused unless the stash was started with --allow-flush") {
    TempDir dir;
    {
        Stash s(dir);
        call(s.sock, {"SET", "k", "v"});
        auto r = call(s.sock, {"FLUSHDB"});
        CHECK(r.is_error());
        CHECK(r.str.find("--allow-flush") != std::string::npos);
        CHECK(call_int(s.sock, {"DBSIZE"}) == 1);
    }
    Stash s(dir, {"--allow-flush"});
    call(s.sock, {"SET", "k", "v"});
    CHECK(call(s.sock, {"FLUSHDB"}).str == "OK");
    CHECK(call_int(s.sock, {"DBSIZE"}) == 0);
}

TEST_CASE("MONITOR on the worker and the stash: every other client's commands, quoted, a password never") {
    TempDir dir;
    Standalone t(dir);
    for (const auto& sock : {t.worker_sock, t.stash_sock}) {
        CAPTURE(sock);
        seq::Client m(sock, 5000ms);
        m.send_raw("MONITOR\r\n");
        CHECK(m.read_reply().str == "OK");
        raw(sock, std::string("HELLO 3 AUTH default secret\r\n*2\r\n$4\r\nECHO\r\n$5\r\na b\x01\"\r\n"), 2);
        auto hello = m.read_reply().str;
        CHECK(hello.find("[0 unix:" + sock + "] \"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\"") !=
              std::string::npos);
        CHECK(hello.find("secret") == std::string::npos);
        CHECK(m.read_reply().str.ends_with("\"ECHO\" \"a b\\x01\\\"\""));
        // A monitor takes only RESET and QUIT, is told so at once, and goes on monitoring.
        m.send_raw("GET\r\n");
        CHECK(m.read_reply().str == "ERR a MONITOR connection takes only RESET and QUIT");
        raw(sock, "ECHO after\r\n", 1);
        CHECK(m.read_reply().str.ends_with("\"ECHO\" \"after\""));
        // RESET ends it.
        m.send_raw("RESET\r\nPING\r\n");
        CHECK(m.read_reply().str == "RESET");
        CHECK(m.read_reply().str == "PONG");
    }
    // The worker's NEXT and its own write to the stash, as a monitor of the stash sees them.
    seq::Client m(t.stash_sock, 5000ms);
    m.send_raw("MONITOR\r\n");
    CHECK(m.read_reply().str == "OK");
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 0);
    CHECK(m.read_reply().str.find("\"SET\" \"sequence\" \"1\"") != std::string::npos);
}
