// The stash's key commands, without sockets: each against both stores (in
// memory, and SQLite in a temp file), with a clock the test moves.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "acl.hpp"
#include "glob.hpp"
#include "stash.hpp"
#include "store.hpp"
#include "watches.hpp"

using namespace seq::stash;

namespace {

struct TempFile {
    std::string dir;
    TempFile() {
        char tmpl[] = "/tmp/seq-stash-unit-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        dir = tmpl;
    }
    ~TempFile() { std::filesystem::remove_all(dir); }
    std::string path() const { return dir + "/stash.db"; }
};

struct Keys {
    explicit Keys(std::unique_ptr<Store> s) : store(std::move(s)) {}
    std::unique_ptr<Store> store;
    Watches watches;
    std::int64_t now = 1'700'000'000'000;
    bool flush_allowed = false;
    std::int64_t soonest = 0;

    std::string operator()(std::vector<std::string_view> args) {
        Context ctx{*store, watches, now, 2, flush_allowed};
        std::string out;
        REQUIRE_MESSAGE(execute(ctx, args, out), "not a key command: ", std::string(args[0]));
        soonest = ctx.soonest_expiry;
        store->commit();
        return out;
    }
};

// Runs `body` once per store.
template <class F>
void each_store(F body) {
    SUBCASE("in memory") {
        Keys k{std::make_unique<MemoryStore>()};
        body(k);
    }
    SUBCASE("in SQLite") {
        TempFile f;
        Keys k{open_sqlite_store(f.path(), Fsync::no)};
        body(k);
    }
}

}  // namespace

TEST_CASE("SET and its options, GET, SETNX, GETSET, GETDEL, MSET, MGET") {
    each_store([](Keys& k) {
        CHECK(k({"GET", "a"}) == "$-1\r\n");
        CHECK(k({"SET", "a", "1"}) == "+OK\r\n");
        CHECK(k({"GET", "a"}) == "$1\r\n1\r\n");
        CHECK(k({"SET", "a", "2", "NX"}) == "$-1\r\n");
        CHECK(k({"SET", "b", "2", "XX"}) == "$-1\r\n");
        CHECK(k({"SET", "a", "3", "XX", "GET"}) == "$1\r\n1\r\n");
        CHECK(k({"SET", "c", "x", "NX", "GET"}) == "$-1\r\n");
        CHECK(k({"GET", "c"}) == "$1\r\nx\r\n");
        CHECK(k({"SET", "a", "1", "NX", "XX"}) == "-ERR syntax error\r\n");
        CHECK(k({"SET", "a", "1", "EX", "10", "PX", "5"}) == "-ERR syntax error\r\n");
        CHECK(k({"SET", "a", "1", "EX", "10", "KEEPTTL"}) == "-ERR syntax error\r\n");
        CHECK(k({"SET", "a", "1", "EX"}) == "-ERR syntax error\r\n");
        CHECK(k({"SET", "a", "1", "BOGUS"}) == "-ERR syntax error\r\n");
        CHECK(k({"SET", "a", "1", "EX", "0"}) == "-ERR invalid expire time in 'set' command\r\n");
        CHECK(k({"SET", "a", "1", "EX", "x"}) == "-ERR value is not an integer or out of range\r\n");  // as Redis 7.0.15
        CHECK(k({"SET", "a", "1", "EX", "9223372036854775807"}) == "-ERR invalid expire time in 'set' command\r\n");
        CHECK(k({"GET", "a"}) == "$1\r\n3\r\n");  // none of the refused ones changed it
        // As Redis 7.0: an option given again is no error, the last time wins,
        // and only that one is read; two different units still exclude each other.
        CHECK(k({"SET", "e", "1", "EX", "10", "ex", "20"}) == "+OK\r\n");
        CHECK(k({"TTL", "e"}) == ":20\r\n");
        CHECK(k({"SET", "e", "2", "PX", "x", "PX", "30000", "NX", "nx"}) == "$-1\r\n");
        CHECK(k({"SET", "e", "2", "PX", "x", "PX", "30000", "XX", "xx"}) == "+OK\r\n");
        CHECK(k({"TTL", "e"}) == ":30\r\n");
        CHECK(k({"SET", "e", "3", "EX", "10", "EX", "20", "PX", "5"}) == "-ERR syntax error\r\n");
        CHECK(k({"SET", "e", "3", "EX", "10", "EX", "x"}) == "-ERR value is not an integer or out of range\r\n");
        CHECK(k({"SET", "e", "3", "KEEPTTL", "KEEPTTL", "GET", "GET"}) == "$1\r\n2\r\n");
        CHECK(k({"TTL", "e"}) == ":30\r\n");
        CHECK(k({"SETNX", "a", "9"}) == ":0\r\n");
        CHECK(k({"SETNX", "d", "9"}) == ":1\r\n");
        CHECK(k({"GETSET", "d", "10"}) == "$1\r\n9\r\n");
        CHECK(k({"GETDEL", "d"}) == "$2\r\n10\r\n");
        CHECK(k({"GETDEL", "d"}) == "$-1\r\n");
        CHECK(k({"MSET", "x", "1", "y", "2"}) == "+OK\r\n");
        CHECK(k({"MSET", "x", "1", "y"}) == "-ERR wrong number of arguments for 'mset' command\r\n");
        CHECK(k({"MGET", "x", "nope", "y"}) == "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
        CHECK(k({"GET"}) == "-ERR wrong number of arguments for 'get' command\r\n");
        // Binary keys and values, NUL included.
        CHECK(k({"SET", std::string_view("k\0y", 3), std::string_view("v\0\r\n", 4)}) == "+OK\r\n");
        CHECK(k({"GET", std::string_view("k\0y", 3)}) == std::string("$4\r\nv\0\r\n\r\n", 10));
    });
}

TEST_CASE("INCR, DECR, INCRBY, DECRBY: integers only, overflow refused, TTL kept") {
    each_store([](Keys& k) {
        CHECK(k({"INCR", "n"}) == ":1\r\n");
        CHECK(k({"INCRBY", "n", "41"}) == ":42\r\n");
        CHECK(k({"DECR", "n"}) == ":41\r\n");
        CHECK(k({"DECRBY", "n", "-9"}) == ":50\r\n");
        CHECK(k({"INCRBY", "n", "x"}) == "-ERR value is not an integer or out of range\r\n");
        CHECK(k({"INCRBY", "n", "1.5"}) == "-ERR value is not an integer or out of range\r\n");
        CHECK(k({"SET", "s", "abc"}) == "+OK\r\n");
        CHECK(k({"INCR", "s"}) == "-ERR value is not an integer or out of range\r\n");
        CHECK(k({"SET", "s", " 1"}) == "+OK\r\n");
        CHECK(k({"INCR", "s"}) == "-ERR value is not an integer or out of range\r\n");
        CHECK(k({"SET", "m", "9223372036854775806"}) == "+OK\r\n");
        CHECK(k({"INCR", "m"}) == ":9223372036854775807\r\n");
        CHECK(k({"INCR", "m"}) == "-ERR increment or decrement would overflow\r\n");
        CHECK(k({"GET", "m"}) == "$19\r\n9223372036854775807\r\n");
        CHECK(k({"SET", "low", "-9223372036854775807"}) == "+OK\r\n");
        CHECK(k({"DECRBY", "low", "1"}) == ":-9223372036854775808\r\n");
        CHECK(k({"DECR", "low"}) == "-ERR increment or decrement would overflow\r\n");
        CHECK(k({"DECRBY", "n", "-9223372036854775808"}) == "-ERR decrement would overflow\r\n");
        CHECK(k({"SET", "t", "1", "EX", "100"}) == "+OK\r\n");
        CHECK(k({"INCR", "t"}) == ":2\r\n");
        CHECK(k({"TTL", "t"}) == ":100\r\n");
    });
}

TEST_CASE("expiry: lazy on access, TTL and PTTL, EXPIRE and its options, PERSIST, a time past deletes") {
    each_store([](Keys& k) {
        CHECK(k({"SET", "a", "v", "PX", "1500"}) == "+OK\r\n");
        CHECK(k.soonest == k.now + 1500);
        CHECK(k({"PTTL", "a"}) == ":1500\r\n");
        CHECK(k({"TTL", "a"}) == ":2\r\n");  // rounded, as Redis does
        CHECK(k({"TTL", "none"}) == ":-2\r\n");
        CHECK(k({"SET", "b", "v"}) == "+OK\r\n");
        CHECK(k({"TTL", "b"}) == ":-1\r\n");
        k.now += 1499;
        CHECK(k({"GET", "a"}) == "$1\r\nv\r\n");
        k.now += 1;
        CHECK(k({"GET", "a"}) == "$-1\r\n");
        CHECK(k({"EXISTS", "a", "b", "b"}) == ":2\r\n");
        CHECK(k({"TYPE", "a"}) == "+none\r\n");
        CHECK(k({"TYPE", "b"}) == "+string\r\n");
        CHECK(k({"SET", "a", "w", "XX"}) == "$-1\r\n");  // an expired key is no key
        // EXPIRE and its kin.
        CHECK(k({"EXPIRE", "none", "10"}) == ":0\r\n");
        CHECK(k({"EXPIRE", "b", "10", "XX"}) == ":0\r\n");
        CHECK(k({"EXPIRE", "b", "10", "NX"}) == ":1\r\n");
        CHECK(k({"EXPIRE", "b", "20", "NX"}) == ":0\r\n");
        CHECK(k({"EXPIRE", "b", "5", "GT"}) == ":0\r\n");
        CHECK(k({"EXPIRE", "b", "30", "GT"}) == ":1\r\n");
        CHECK(k({"EXPIRE", "b", "40", "LT"}) == ":0\r\n");
        CHECK(k({"PEXPIRE", "b", "2500", "LT"}) == ":1\r\n");
        CHECK(k({"PTTL", "b"}) == ":2500\r\n");
        CHECK(k({"EXPIREAT", "b", std::to_string(k.now / 1000 + 100)}) == ":1\r\n");
        CHECK(k({"PEXPIREAT", "b", std::to_string(k.now + 7000)}) == ":1\r\n");
        CHECK(k({"PTTL", "b"}) == ":7000\r\n");
        CHECK(k({"EXPIRE", "b", "10", "NX", "XX"}) ==
              "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
        CHECK(k({"EXPIRE", "b", "10", "GT", "LT"}) == "-ERR GT and LT options at the same time are not compatible\r\n");
        CHECK(k({"EXPIRE", "b", "10", "SOON"}) == "-ERR Unsupported option SOON\r\n");
        CHECK(k({"EXPIRE", "b", "x"}) == "-ERR value is not an integer or out of range\r\n");
        CHECK(k({"PEXPIREAT", "b", "1.5"}) == "-ERR value is not an integer or out of range\r\n");
        CHECK(k({"EXPIRE", "b", "9223372036854775807"}) == "-ERR invalid expire time in 'expire' command\r\n");
        CHECK(k({"PTTL", "b"}) == ":7000\r\n");  // the refused ones changed nothing
        CHECK(k({"PERSIST", "b"}) == ":1\r\n");
        CHECK(k({"PERSIST", "b"}) == ":0\r\n");
        CHECK(k({"TTL", "b"}) == ":-1\r\n");
        CHECK(k({"EXPIRE", "b", "0"}) == ":1\r\n");  // a time already past deletes
        CHECK(k({"GET", "b"}) == "$-1\r\n");
        CHECK(k({"SET", "b", "v"}) == "+OK\r\n");
        CHECK(k({"EXPIREAT", "b", "0"}) == ":1\r\n");  // so does the epoch itself
        CHECK(k({"EXISTS", "b"}) == ":0\r\n");
        // SET without KEEPTTL drops the TTL; with it, keeps it.
        CHECK(k({"SET", "c", "1", "EX", "50"}) == "+OK\r\n");
        CHECK(k({"SET", "c", "2", "KEEPTTL"}) == "+OK\r\n");
        CHECK(k({"TTL", "c"}) == ":50\r\n");
        CHECK(k({"SET", "c", "3"}) == "+OK\r\n");
        CHECK(k({"TTL", "c"}) == ":-1\r\n");
        CHECK(k({"SET", "d", "1", "EXAT", std::to_string(k.now / 1000 + 60)}) == "+OK\r\n");
        CHECK(k({"SET", "e", "1", "PXAT", std::to_string(k.now + 60000)}) == "+OK\r\n");
        CHECK(k({"PTTL", "e"}) == ":60000\r\n");
        CHECK(k({"SETEX", "f", "5", "v"}) == "+OK\r\n");
        CHECK(k({"PSETEX", "g", "5", "v"}) == "+OK\r\n");
        CHECK(k({"SETEX", "f", "0", "v"}) == "-ERR invalid expire time in 'setex' command\r\n");
        CHECK(k({"SETEX", "f", "x", "v"}) == "-ERR value is not an integer or out of range\r\n");
        CHECK(k({"PTTL", "g"}) == ":5\r\n");
    });
}

TEST_CASE("GETEX: the value, then the key's time set, removed, or past (which deletes), as Redis 7.0") {
    each_store([](Keys& k) {
        CHECK(k({"SET", "a", "v"}) == "+OK\r\n");
        CHECK(k({"GETEX", "a"}) == "$1\r\nv\r\n");
        CHECK(k({"TTL", "a"}) == ":-1\r\n");
        CHECK(k({"GETEX", "a", "PX", "1500"}) == "$1\r\nv\r\n");
        CHECK(k.soonest == k.now + 1500);  // the sweep is told
        CHECK(k({"PTTL", "a"}) == ":1500\r\n");
        CHECK(k({"GETEX", "a", "EX", "x", "ex", "100"}) == "$1\r\nv\r\n");  // the last time wins
        CHECK(k({"TTL", "a"}) == ":100\r\n");
        CHECK(k({"GETEX", "a", "PERSIST", "persist"}) == "$1\r\nv\r\n");
        CHECK(k({"TTL", "a"}) == ":-1\r\n");
        CHECK(k({"GETEX", "a", "EXAT", std::to_string(k.now / 1000 + 60)}) == "$1\r\nv\r\n");
        CHECK(k({"GETEX", "a", "PXAT", std::to_string(k.now + 60000)}) == "$1\r\nv\r\n");
        CHECK(k({"PTTL", "a"}) == ":60000\r\n");
        // Refused, and nothing changed.
        CHECK(k({"GETEX", "a", "EX", "10", "PERSIST"}) == "-ERR syntax error\r\n");
        CHECK(k({"GETEX", "a", "PERSIST", "EX", "10"}) == "-ERR syntax error\r\n");
        CHECK(k({"GETEX", "a", "EX", "10", "PX", "10"}) == "-ERR syntax error\r\n");
        CHECK(k({"GETEX", "a", "KEEPTTL"}) == "-ERR syntax error\r\n");
        CHECK(k({"GETEX", "a", "NX"}) == "-ERR syntax error\r\n");
        CHECK(k({"GETEX", "a", "EX"}) == "-ERR syntax error\r\n");
        CHECK(k({"GETEX", "a", "EX", "0"}) == "-ERR invalid expire time in 'getex' command\r\n");
        CHECK(k({"GETEX", "a", "EX", "x"}) == "-ERR value is not an integer or out of range\r\n");
        CHECK(k({"GETEX", "a", "EX", "9223372036854775807"}) == "-ERR invalid expire time in 'getex' command\r\n");
        CHECK(k({"PTTL", "a"}) == ":60000\r\n");
        CHECK(k({"GETEX"}) == "-ERR wrong number of arguments for 'getex' command\r\n");
        // A missing key is a null, whatever its time says.
        CHECK(k({"GETEX", "none", "EX", "0"}) == "$-1\r\n");
        CHECK(k({"EXISTS", "none"}) == ":0\r\n");
        // A time already past: the value, and the key is gone.
        CHECK(k({"GETEX", "a", "PXAT", std::to_string(k.now - 1)}) == "$1\r\nv\r\n");
        CHECK(k({"EXISTS", "a"}) == ":0\r\n");
    });
}

TEST_CASE("the sweep's view: expired keys soonest first, bounded, and the next expiry") {
    each_store([](Keys& k) {
        CHECK(k.store->next_expiry() == 0);
        k({"SET", "late", "v", "PX", "300"});
        k({"SET", "soon", "v", "PX", "100"});
        k({"SET", "mid", "v", "PX", "200"});
        k({"SET", "never", "v"});
        CHECK(k.store->next_expiry() == k.now + 100);
        CHECK(k.store->expiring() == 3);
        CHECK(k.store->expired(k.now + 99, 10).empty());
        CHECK(k.store->expired(k.now + 250, 10) == std::vector<std::string>{"soon", "mid"});
        CHECK(k.store->expired(k.now + 1000, 1) == std::vector<std::string>{"soon"});
        k({"PERSIST", "soon"});
        CHECK(k.store->next_expiry() == k.now + 200);
        k({"DEL", "mid"});
        k({"SET", "late", "w"});  // a SET without KEEPTTL takes the key off the sweep
        CHECK(k.store->next_expiry() == 0);
        CHECK(k.store->expiring() == 0);
    });
}

TEST_CASE("DEL, EXISTS, DBSIZE, KEYS, SCAN: a walk sees each key there from start to end exactly once") {
    each_store([](Keys& k) {
        for (int i = 0; i < 50; ++i) k({"SET", "key:" + std::to_string(i), "v"});
        k({"SET", "other", "v"});
        CHECK(k({"DBSIZE"}) == ":51\r\n");
        CHECK(k({"DEL", "key:0", "key:1", "nope"}) == ":2\r\n");
        CHECK(k({"UNLINK", "key:2"}) == ":1\r\n");
        CHECK(k({"DBSIZE"}) == ":48\r\n");
        CHECK(k({"KEYS", "o*"}) == "*1\r\n$5\r\nother\r\n");
        CHECK(k({"KEYS", "key:4?"}).starts_with("*10\r\n"));
        // Walk with MATCH, deleting and adding keys between pages.
        std::multiset<std::string> seen;
        std::string cursor = "0";
        int pages = 0;
        do {
            Context ctx{*k.store, k.watches, k.now};
            std::string out;
            std::vector<std::string_view> args{"SCAN", cursor, "MATCH", "key:*", "COUNT", "7"};
            REQUIRE(execute(ctx, args, out));
            // *2 $n cursor *m keys...
            auto lines = std::vector<std::string>{};
            std::size_t at = 0;
            while (at < out.size()) {
                auto end = out.find("\r\n", at);
                lines.push_back(out.substr(at, end - at));
                at = end + 2;
            }
            REQUIRE(lines.size() >= 4);
            cursor = lines[2];
            for (std::size_t i = 5; i < lines.size(); i += 2) seen.insert(lines[i]);
            if (pages == 1) {
                k({"DEL", "key:49"});  // not seen yet, gone before its page
                k({"SET", "key:new", "v"});
            }
            ++pages;
        } while (cursor != "0" && pages < 100);
        CHECK(pages == 7);  // 48 keys (then one more and one less), 7 looked at per page
        CHECK(seen.size() == 46 + 1);
        CHECK(seen.count("key:new") == 1);
        for (int i = 3; i < 49; ++i) CHECK(seen.count("key:" + std::to_string(i)) == 1);
        CHECK(seen.count("key:49") == 0);
        CHECK(k({"SCAN", "x"}) == "-ERR invalid cursor\r\n");
        CHECK(k({"SCAN", "0", "COUNT", "0"}) == "-ERR syntax error\r\n");
        CHECK(k({"SCAN", "0", "COUNT"}) == "-ERR syntax error\r\n");
        CHECK(k({"SCAN", "0", "TYPE", "list"}).ends_with("*0\r\n"));
        // An expired key is in DBSIZE until swept, as in Redis, but not in KEYS.
        k({"SET", "brief", "v", "PX", "10"});
        k.now += 10;
        CHECK(k({"KEYS", "brief"}) == "*0\r\n");
    });
}

TEST_CASE("a key's time changed (GETEX, EXPIRE, PERSIST) spoils a WATCH on it, and a call that changes nothing does not") {
    each_store([](Keys& k) {
        k({"SET", "a", "v"});
        // Each call, from a client watching "a" afresh: does it spoil?
        std::uint64_t client = 0;
        auto spoils = [&](std::vector<std::string_view> args) {
            k.watches.unwatch(client);
            k.watches.watch(++client, "a", 0);
            k(std::move(args));
            return k.watches.spoiled(client, k.now);
        };
        CHECK(!spoils({"GETEX", "a"}));
        CHECK(!spoils({"GETEX", "a", "PERSIST"}));  // it had no time
        CHECK(!spoils({"PERSIST", "a"}));
        CHECK(!spoils({"GETEX", "a", "EX", "0"}));  // refused
        CHECK(spoils({"GETEX", "a", "EX", "100"}));
        CHECK(!spoils({"EXPIRE", "a", "50", "NX"}));  // it has one: nothing done
        CHECK(spoils({"EXPIRE", "a", "50", "XX"}));
        CHECK(spoils({"PERSIST", "a"}));
        CHECK(spoils({"GETEX", "a", "PX", "5000"}));
        CHECK(spoils({"GETEX", "a", "PERSIST"}));
        CHECK(spoils({"GETEX", "a", "PXAT", std::to_string(k.now - 1)}));  // deleted
        CHECK(k({"EXISTS", "a"}) == ":0\r\n");
    });
}

TEST_CASE("FLUSHDB only with --allow-flush, and it spoils every WATCH") {
    each_store([](Keys& k) {
        k({"SET", "a", "1"});
        CHECK(k({"FLUSHDB"}) ==
              "-ERR flushdb is disabled on this stash: start seq-stash with --allow-flush to allow it\r\n");
        CHECK(k({"FLUSHALL"}).starts_with("-ERR flushall is disabled"));
        CHECK(k({"DBSIZE"}) == ":1\r\n");
        k.flush_allowed = true;
        k.watches.watch(7, "elsewhere", 0);
        CHECK(k({"FLUSHDB", "BOGUS"}) == "-ERR syntax error\r\n");
        CHECK(k({"FLUSHDB", "ASYNC"}) == "+OK\r\n");
        CHECK(k({"DBSIZE"}) == ":0\r\n");
        CHECK(k.watches.spoiled(7, k.now));
    });
}

TEST_CASE("WATCH bookkeeping: a write or an expiry spoils only the watchers of that key") {
    Watches w;
    w.watch(1, "a", 0);
    w.watch(2, "b", 5000);
    w.watch(2, "b", 5000);  // twice is once
    CHECK_FALSE(w.spoiled(1, 1000));
    w.touch("c");
    CHECK_FALSE(w.spoiled(1, 1000));
    w.touch("a");
    CHECK(w.spoiled(1, 1000));
    CHECK_FALSE(w.spoiled(2, 4999));
    CHECK(w.spoiled(2, 5000));  // b expired since it was watched
    w.unwatch(1);
    CHECK_FALSE(w.spoiled(1, 1000));
    w.unwatch(2);
    CHECK(w.empty());
    // Writes through the commands touch their keys.
    MemoryStore store;
    Watches ws;
    ws.watch(3, "n", 0);
    Context ctx{store, ws, 1000};
    std::string out;
    std::vector<std::string_view> get{"GET", "n"}, incr{"INCR", "n"};
    execute(ctx, get, out);
    CHECK_FALSE(ws.spoiled(3, 1000));
    execute(ctx, incr, out);
    CHECK(ws.spoiled(3, 1000));
}

TEST_CASE("glob patterns as Redis reads them") {
    struct Case {
        const char* pattern;
        const char* text;
        bool match;
    };
    for (auto c : std::vector<Case>{{"*", "", true},         {"*", "abc", true},       {"a*", "abc", true},
                                    {"a*c", "abc", true},    {"a*c", "abd", false},    {"a?c", "abc", true},
                                    {"a?c", "ac", false},    {"[abc]x", "bx", true},   {"[abc]x", "dx", false},
                                    {"[^abc]x", "dx", true}, {"[^abc]x", "ax", false}, {"[a-c]", "b", true},
                                    {"[c-a]", "b", true},    {"[a-c]", "d", false},    {"\\*", "*", true},
                                    {"\\*", "a", false},     {"[\\]]", "]", true},     {"**a**b", "xaxb", true},
                                    {"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false}, {"user:?:*", "user:1:x", true},
                                    {"[ab", "a", true},      {"", "", true},           {"", "a", false}}) {
        CAPTURE(c.pattern);
        CAPTURE(c.text);
        CHECK(glob_match(c.pattern, c.text) == c.match);
    }
    CHECK(glob_match("a?b", std::string_view("a\0b", 3)));
    // Many stars against a long text that fails: quick, not exponential.
    CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST_CASE("a store written by an earlier version (keys and values only) is upgraded in place") {
    TempFile f;
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(f.path().c_str(), &db) == SQLITE_OK);
        const char* v1 =
            "PRAGMA journal_mode=WAL;"
            "CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
            "PRAGMA application_id=1397051731;"  // "SEQS"
            "INSERT INTO kv VALUES (CAST('sequence' AS BLOB), CAST('41' AS BLOB)), (CAST('other' AS BLOB), CAST('x' AS BLOB));";  // blobs, as v1 wrote them
        CHECK(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    {
        Keys k{open_sqlite_store(f.path(), Fsync::always)};
        CHECK(k({"GET", "sequence"}) == "$2\r\n41\r\n");
        CHECK(k({"INCR", "sequence"}) == ":42\r\n");
        CHECK(k({"SET", "t", "v", "EX", "100"}) == "+OK\r\n");
        CHECK(k({"DBSIZE"}) == ":3\r\n");
    }
    // Reopened: already version 2, and the TTL is still there.
    Keys k{open_sqlite_store(f.path(), Fsync::always)};
    CHECK(k({"GET", "sequence"}) == "$2\r\n42\r\n");
    CHECK(k({"TTL", "t"}) == ":100\r\n");
}

// ---------------------------------------------------------------- access

TEST_CASE("ACL files: user lines with passwords and patterns, comments and blank lines skipped, a bad line named and left out") {
    std::vector<std::string> errors;
    auto users = parse_acl("# a comment\n\nuser default >p0 ~*\r\nuser web/http on >p1 >p2 ~web/http:* ~shared:*\n"
                           "user nopass ~x:*\nuser odd >p ~a:* +@all\nhello world\nuser\n",
                           errors);
    REQUIRE(users.size() == 2);
    CHECK(users[0].name == "default");
    CHECK(users[0].passwords == std::vector<std::string>{"p0"});
    CHECK(users[0].grants->all);
    CHECK(users[1].name == "web/http");
    CHECK(users[1].passwords == std::vector<std::string>{"p1", "p2"});
    CHECK_FALSE(users[1].grants->all);
    CHECK(users[1].grants->patterns == std::vector<std::string>{"web/http:*", "shared:*"});
    CHECK(errors == std::vector<std::string>{"5: user nopass has no password (>PASSWORD)",
                                             "6: user odd: not a rule this stash takes: +@all",
                                             "7: not a user line (user NAME >PASSWORD ~PATTERN ...)",
                                             "8: not a user line (user NAME >PASSWORD ~PATTERN ...)"});
}

TEST_CASE("ACL grants: a key is touched only where a pattern matches, NOPERM names what is refused, at every key position") {
    seq::KeyGrants g{std::vector<std::string>{"web:*", "shared:k", "se?", "a\\*", "*:tail"}};
    CHECK(g.may("web:x"));
    CHECK(g.may("shared:k"));
    CHECK(g.may("seq"));
    CHECK_FALSE(g.may("web"));
    CHECK_FALSE(g.may("shared:k2"));
    CHECK_FALSE(g.may("sequence"));
    CHECK(g.may("a*"));  // an escaped star is a star
    CHECK_FALSE(g.may("ab"));
    CHECK(g.may("x:tail"));
    CHECK_FALSE(g.all);
    using V = std::vector<std::string_view>;
    auto no = [&](V args) { return forbidden(g, args).value_or("(allowed)"); };
    const std::string key_refused = "NOPERM this user has no permissions to access one of the keys used as arguments";
    CHECK(no({"GET", "web:x"}) == "(allowed)");
    CHECK(no({"get", "sequence"}) == key_refused);
    CHECK(no({"SET", "web:x", "sequence"}) == "(allowed)");  // a value is not a key
    CHECK(no({"MSET", "web:a", "sequence", "web:b", "1"}) == "(allowed)");
    CHECK(no({"MSET", "web:a", "1", "sequence", "1"}) == key_refused);
    CHECK(no({"DEL", "web:a", "shared:k", "other"}) == key_refused);
    CHECK(no({"EXISTS", "web:a", "shared:k"}) == "(allowed)");
    CHECK(no({"WATCH", "web:a", "other"}) == key_refused);
    CHECK(no({"EXPIRE", "other", "10"}) == key_refused);
    CHECK(no({"KEYS", "*"}) == "(allowed)");  // filtered instead
    CHECK(no({"SCAN", "0"}) == "(allowed)");
    CHECK(no({"PING"}) == "(allowed)");
    CHECK(no({"NOSUCH", "sequence"}) == "(allowed)");  // unknown: refused as such later
    CHECK(no({"GET"}) == "(allowed)");                  // the arity check says what is wrong
    CHECK(no({"FLUSHDB"}) == "NOPERM this user has no permissions to run the 'flushdb' command");
    CHECK(no({"flushall", "async"}) == "NOPERM this user has no permissions to run the 'flushall' command");
    CHECK(no({"MONITOR"}) == "NOPERM this user has no permissions to run the 'monitor' command");
    seq::KeyGrants all{std::vector<std::string>{"x:*", "*"}};
    CHECK(all.all);
    CHECK_FALSE(forbidden(all, V{"FLUSHALL"}));
    CHECK_FALSE(forbidden(all, V{"GET", "anything"}));
}

TEST_CASE("ACL grants: KEYS and SCAN show only the keys a client may touch") {
    each_store([](Keys& k) {
        for (auto key : {"web:a", "web:b", "sequence", "shared:k", "other:x"}) k({"SET", key, "1"});
        seq::KeyGrants g{std::vector<std::string>{"web:*", "shared:*"}};
        auto run = [&](std::vector<std::string_view> args) {
            Context ctx{*k.store, k.watches, k.now, 2, false, &g};
            std::string out;
            REQUIRE(execute(ctx, args, out));
            return out;
        };
        auto keys = run({"KEYS", "*"});
        for (auto want : {"web:a", "web:b", "shared:k"}) CHECK(keys.find(want) != std::string::npos);
        for (auto hidden : {"sequence", "other:x"}) CHECK(keys.find(hidden) == std::string::npos);
        CHECK(run({"KEYS", "web:*"}).starts_with("*2\r\n"));
        auto scan = run({"SCAN", "0", "COUNT", "100"});
        CHECK(scan.starts_with("*2\r\n$1\r\n0\r\n*3\r\n"));  // one page: the three it may see
        for (auto want : {"web:a", "web:b", "shared:k"}) CHECK(scan.find(want) != std::string::npos);
        CHECK(scan.find("sequence") == std::string::npos);
        CHECK(k({"KEYS", "*"}).starts_with("*5\r\n"));  // without grants: all of them
    });
}

TEST_CASE("ACL directory: every *.acl file's users, read again when a login is not known, so a user added after is found") {
    TempFile f;
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(f.dir + "/" + name) << text;
    };
    write("-top.acl", "user default >op ~*\n");
    write("jobs.acl", "user jobs/x >px ~jobs/x:*\n");
    write("ignored.txt", "user sneaky >s ~*\n");
    write(".jobs.acl.new", "user half >h ~*\n");
    AccessList acl(f.dir);
    CHECK_FALSE(acl.refresh());  // nothing changed since it read them
    CHECK(acl.authenticate("default", "op"));
    CHECK(acl.authenticate("default", "op")->all);
    CHECK(acl.authenticate("jobs/x", "px"));
    CHECK_FALSE(acl.authenticate("jobs/x", "op"));
    CHECK_FALSE(acl.authenticate("sneaky", "s"));
    CHECK_FALSE(acl.authenticate("half", "h"));
    CHECK_FALSE(acl.authenticate("", ""));
    // A child started after the last read: the directory says it changed.
    write("web.acl", "user web/a >pa ~web/a:*\n");
    CHECK_FALSE(acl.authenticate("web/a", "pa"));
    CHECK(acl.refresh());
    CHECK_FALSE(acl.refresh());
    auto g = acl.authenticate("web/a", "pa");
    REQUIRE(g);
    CHECK(g->may("web/a:k"));
    CHECK_FALSE(g->may("jobs/x:k"));
    // New keys: what the user may touch now, for a client logged in too.
    write("web.acl", "user web/a >pa ~web/a:* ~shared:*\n");
    REQUIRE(acl.refresh());
    CHECK(acl.grants_of("web/a")->may("shared:k"));
    CHECK(g->patterns.size() == 1);  // what was handed out before stays as it was
    // A user in two files: the first file's.
    write("zz.acl", "user jobs/x >other ~*\n");
    REQUIRE(acl.refresh());
    CHECK_FALSE(acl.authenticate("jobs/x", "other"));
    // A user gone, and a fifo that must not stop the reading.
    std::filesystem::remove(f.dir + "/web.acl");
    REQUIRE(mkfifo((f.dir + "/fifo.acl").c_str(), 0600) == 0);
    REQUIRE(acl.refresh());
    CHECK_FALSE(acl.grants_of("web/a"));
    CHECK(acl.authenticate("jobs/x", "px"));
    // A directory that cannot be read, or that others may write, is an error at start.
    CHECK_THROWS_WITH_AS(AccessList(f.dir + "/nowhere"), doctest::Contains("nowhere: No such file or directory"),
                         std::runtime_error);
    REQUIRE(chmod(f.dir.c_str(), 0770) == 0);
    CHECK_THROWS_WITH_AS(AccessList(f.dir), doctest::Contains("mode 770: it must be ours, and no one else's to write"),
                         std::runtime_error);
}
