// The durable stash (--data-dir): the number survives a stash crash under
// every strategy, a crash of the whole tree, and an orderly stop and start.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace seqtest;

namespace {

using Tree = DurableTree;


// The key of the i-th write: "k" then i, appended rather than written
// "k" + std::to_string(i), whose inlined insert g++ 12 at -O3 takes for an
// overlapping memcpy (a false -Wrestrict).
std::string key_of(int i) {
    std::string key = "k";
    key += std::to_string(i);
    return key;
}

}  // namespace

TEST_CASE("kill -9 of the stash keeps the number under every strategy") {
    for (std::string strategy : {"one_for_one", "one_for_all", "rest_for_one"}) {
        CAPTURE(strategy);
        TempDir dir;
        Tree t(dir, {"--strategy", strategy, "--fsync", "always"});
        for (int i = 0; i < 3; ++i) CHECK(call_int(t.sock(), {"NEXT"}) == i);
        auto stash = pid_of(t.run, "stash");
        kill(stash, SIGKILL);
        REQUIRE(restarted(t.run, "stash", stash));
        CHECK(call_int(t.sock(), {"NEXT"}) == 3);
        // And the worker, for the strategies that restart the stash with it.
        auto worker = pid_of(t.run, "worker");
        kill(worker, SIGKILL);
        REQUIRE(restarted(t.run, "worker", worker));
        CHECK(call_int(t.sock(), {"NEXT"}) == 4);
    }
}

TEST_CASE("an orderly stop and start carries on") {
    TempDir dir;
    for (int round = 0; round < 3; ++round) {
        Tree t(dir);
        CHECK(call_int(t.sock(), {"INCREMENT", "10"}) == round * 11 + 10);
        CHECK(call_int(t.sock(), {"NEXT"}) == round * 11 + 10);
        t.sup->signal(SIGTERM);
        CHECK(t.sup->exit_code() == 0);
    }
}

TEST_CASE("kill -9 of the whole tree while clients call NEXT hands out no number twice") {
    for (std::string fsync : {"always", "everysec", "no"}) {
        CAPTURE(fsync);
        TempDir dir;
        std::set<std::int64_t> seen;
        std::int64_t duplicates = 0;
        for (int round = 0; round < 3; ++round) {
            Tree t(dir, {"--fsync", fsync});
            auto st = tree_status(t.run);
            std::atomic<bool> stop{false};
            std::atomic<int> served{0};
            std::vector<std::vector<std::int64_t>> got(4);
            std::vector<std::thread> clients;
            for (auto& mine : got)
                clients.emplace_back([&t, &stop, &served, &mine] {
                    while (!stop) {
                        try {
                            seq::Client c(t.sock(), 2000ms);
                            while (!stop) {
                                auto v = c.call({"NEXT"});
                                if (v.type != seq::resp::Value::Type::integer) break;
                                mine.push_back(v.integer);
                                ++served;
                            }
                        } catch (const std::exception&) {
                            return;  // the tree is gone
                        }
                    }
                });
            CHECK(eventually([&] { return served > 200; }));
            // All three at once: nothing is left to stop anything in order.
            kill(t.sup->pid(), SIGKILL);
            kill(st.at("worker").pid, SIGKILL);
            kill(st.at("stash").pid, SIGKILL);
            stop = true;
            for (auto& th : clients) th.join();
            REQUIRE(t.sup->wait_exit());
            CHECK(eventually([&] { return !alive(st.at("worker").pid) && !alive(st.at("stash").pid); }));
            for (auto& g : got)
                for (auto n : g)
                    if (!seen.insert(n).second) ++duplicates;
        }
        CHECK(duplicates == 0);
        Tree t(dir, {"--fsync", fsync});
        CHECK(call_int(t.sock(), {"NEXT"}) > *seen.rbegin());
        MESSAGE(fsync << ": " << seen.size() << " numbers over 3 whole-tree kills, " << duplicates << " duplicates");
    }
}

TEST_CASE("one stash per data dir") {
    TempDir dir;
    Tree t(dir);
    Process second({bin("seq-stash"), "--socket", dir / "other.sock", "--data-dir", t.data}, dir / "second.log");
    CHECK(second.exit_code() == 5);
    CHECK(second.log().find("data dir " + t.data + " is in use by another stash (pid " +
                            std::to_string(pid_of(t.run, "stash")) + ")") != std::string::npos);
    CHECK(call_int(t.sock(), {"NEXT"}) == 0);
}

TEST_CASE("a stash that fails to start, then starts: the worker after it starts once, and stays") {
    TempDir dir;
    auto run = dir / "run", data = dir / "data", log = dir / "supervisor.log";
    // Another stash holds the data dir: every start of the tree's stash fails
    // (exit 5) until it lets go. Each failure plans the worker's restart too
    // (rest_for_one), while the worker has not even started.
    std::optional<Process> holder;
    holder.emplace(std::vector<std::string>{bin("seq-stash"), "--socket", dir / "holder.sock", "--data-dir", data},
                   dir / "holder.log");
    REQUIRE(eventually([&] { return answers(dir / "holder.sock"); }));
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--data-dir", data, "--max-restarts", "1000000"}, log);
    INFO("supervisor log:\n", sup.log());
    auto failures = [&] {
        auto text = sup.log();
        std::size_t n = 0;
        for (auto at = text.find("exit status 5"); at != std::string::npos; at = text.find("exit status 5", at + 1)) ++n;
        return n;
    };
    REQUIRE(eventually([&] { return failures() >= 2; }));
    holder.reset();  // killed, it lets go of the data dir
    REQUIRE(tree_running(run));
    CHECK(call_int(run + "/sequence.sock", {"NEXT"}) == 0);
    sup.signal(SIGTERM);
    CHECK(sup.exit_code() == 0);
    auto text = sup.log();
    std::size_t ready = 0;
    for (auto at = text.find("worker ready"); at != std::string::npos; at = text.find("worker ready", at + 1)) ++ready;
    CHECK(ready == 1);
}

TEST_CASE("a store whose log has a damaged header is refused, not taken back to its last checkpoint") {
    TempDir dir;
    auto data = dir / "data", sock = dir / "s.sock";
    {
        Process stash({bin("seq-stash"), "--socket", sock, "--data-dir", data, "--fsync", "always"}, dir / "a.log");
        REQUIRE(eventually([&] { return answers(sock); }));
        CHECK(call(sock, {"SET", "sequence", "43"}).str == "OK");  // in the WAL, not yet checkpointed
        stash.signal(SIGKILL);
        REQUIRE(stash.wait_exit());
    }
    auto wal = data + "/stash.db-wal";
    {
        std::fstream f(wal, std::ios::binary | std::ios::in | std::ios::out);
        REQUIRE(f);
        f.write("\0\0\0\0", 4);  // the magic number gone: SQLite would drop the log whole
    }
    Process stash({bin("seq-stash"), "--socket", sock, "--data-dir", data}, dir / "b.log");
    CHECK(stash.exit_code() == 5);
    CHECK(stash.log().find(wal + " is corrupt") != std::string::npos);
}

TEST_CASE("another program's SQLite database is refused, and left as it was") {
    TempDir dir;
    auto data = dir / "data";
    REQUIRE(mkdir(data.c_str(), 0700) == 0);
    auto db = data + "/stash.db";
    {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
        CHECK(sqlite3_exec(raw, "CREATE TABLE users (name TEXT)", nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(raw);
    }
    auto before = slurp(db);
    Process stash({bin("seq-stash"), "--socket", dir / "s.sock", "--data-dir", data}, dir / "stash.log");
    CHECK(stash.exit_code() == 5);
    CHECK(stash.log().find(db + " is not a stash's store") != std::string::npos);
    CHECK(slurp(db) == before);
}

TEST_CASE("seqctl restart of a stash that cannot start again fails, saying why, once the tree gives up") {
    TempDir dir;
    Tree t(dir, {"--max-restarts", "2"});
    CHECK(call_int(t.sock(), {"INCREMENT", "5"}) == 5);
    // The running stash has checked its data dir already; any stash started
    // from now on refuses one open to others (exit 5), again and again.
    REQUIRE(chmod(t.data.c_str(), 0755) == 0);
    auto r = sh(bin("seqctl") + " --run-dir " + t.run + " --timeout 20000 restart stash 2>&1");
    CAPTURE(r.out);
    CHECK(r.code == 1);
    CHECK(r.out.find("ERR the supervisor is stopping: stash was not restarted") != std::string::npos);
    CHECK(t.sup->exit_code(10000ms) == 1);
    CHECK(t.sup->log().find("giving up") != std::string::npos);
}

TEST_CASE("a store overwritten with garbage is refused, naming the file") {
    TempDir dir;
    {
        Tree t(dir);
        CHECK(call_int(t.sock(), {"INCREMENT", "5"}) == 5);
        t.sup->signal(SIGTERM);
        REQUIRE(t.sup->exit_code() == 0);
    }
    auto db = dir / "data/stash.db";
    {
        std::ofstream f(db, std::ios::binary | std::ios::trunc);
        for (int i = 0; i < 4096; ++i) f.put(static_cast<char>((i * 7919) & 0xff));
    }
    Process stash({bin("seq-stash"), "--socket", dir / "s.sock", "--data-dir", dir / "data"}, dir / "stash.log");
    CHECK(stash.exit_code() == 5);
    CHECK(stash.log().find(db) != std::string::npos);
    // Under the supervisor, a stash that cannot start counts against the
    // intensity; the supervisor gives up rather than start from scratch.
    Process sup({bin("seq-supervisor"), "--run-dir", dir / "run", "--data-dir", dir / "data", "--max-restarts", "2"},
                dir / "sup2.log");
    CHECK(sup.exit_code(10000ms) == 1);
    CHECK(sup.log().find(db) != std::string::npos);
    CHECK(sup.log().find("giving up") != std::string::npos);
}

TEST_CASE("a write the disk refuses is never acknowledged: the stash stops, and what it acknowledged is kept") {
    // A file-size limit stands in for a full disk: past it, the WAL's writes
    // fail (EFBIG, with SIGXFSZ ignored as a daemon's would be on a full disk).
    TempDir dir;
    auto sock = dir / "s.sock", data = dir / "data";
    Process stash({"/bin/sh", "-c",
                   "trap '' XFSZ; exec /usr/bin/prlimit --fsize=1048576 -- \"$0\" --socket \"$1\" --data-dir \"$2\" "
                   "--fsync always",
                   bin("seq-stash"), sock, data},
                  dir / "stash.log");
    REQUIRE(eventually([&] { return answers(sock); }));
    const std::string big(100000, 'x');
    int acknowledged = 0;
    bool refused = false;
    for (int i = 0; i < 100 && !refused; ++i) {
        // Each write is followed by a malformed request, whose error reply
        // must wait for the write's commit, never carry out its "+OK" early.
        seq::Client c(sock, 5000ms);
        std::string bytes;
        auto key = key_of(i), value = std::to_string(i) + big;
        std::vector<std::string_view> set{"SET", key, value};
        seq::resp::append_command(bytes, set);
        c.send_raw(bytes + "*x\r\n");
        try {
            auto v = c.read_reply();
            REQUIRE(v.str == "OK");
            ++acknowledged;
            CHECK(c.read_reply().str.find("Protocol error") != std::string::npos);
        } catch (const seq::IoError&) {
            refused = true;  // closed without "+OK"
        }
    }
    REQUIRE(refused);
    CHECK(acknowledged > 0);
    CHECK(stash.exit_code() == 1);
    auto log = stash.log();
    CAPTURE(log);
    CHECK(log.find(data + "/stash.db") != std::string::npos);
    // Without the limit, every acknowledged write is there.
    Process again({bin("seq-stash"), "--socket", sock, "--data-dir", data}, dir / "stash2.log");
    REQUIRE(eventually([&] { return answers(sock); }));
    for (int i = 0; i < acknowledged; ++i) {
        CAPTURE(i);
        CHECK(call(sock, {"GET", key_of(i)}).str == std::to_string(i) + big);
    }
}
