// --reserve N: the stash holds a high-water mark N ahead, so NEXT does not
// wait for the disk. Every crash resumes at the mark: no number is handed
// out twice, and at most N are skipped. A stash slow to take a reservation
// holds NEXT only once the block is used up.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <limits>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace seqtest;

namespace {

constexpr std::int64_t reserve = 100;

// The built-in tree on disk, with --reserve.
struct Tree : DurableTree {
    Tree(const TempDir& dir, std::vector<std::string> extra) : DurableTree(dir, with_reserve(std::move(extra))) {}
    static std::vector<std::string> with_reserve(std::vector<std::string> extra) {
        extra.insert(extra.begin(), {"--reserve", std::to_string(reserve)});
        return extra;
    }
};


}  // namespace

TEST_CASE("--reserve: kill -9 of the worker or the stash, under every strategy, repeats no number and skips at most N") {
    for (std::string strategy : {"one_for_one", "one_for_all", "rest_for_one"}) {
        CAPTURE(strategy);
        TempDir dir;
        Tree t(dir, {"--strategy", strategy, "--fsync", "always", "--max-restarts", "100"});
        std::int64_t last = -1;
        auto next = [&] {
            auto n = call_int(t.sock(), {"NEXT"});
            CHECK(n > last);
            CHECK(n - last - 1 <= reserve);  // the gap, if a crash came between
            last = n;
            return n;
        };
        for (int i = 0; i < 3; ++i) CHECK(next() == i);  // no gap without a crash
        for (int round = 0; round < 3; ++round) {
            for (std::string victim : {"stash", "worker"}) {
                CAPTURE(victim);
                for (int i = 0; i < 70; ++i) next();  // past half a block: a reservation ahead is in flight or done
                auto pid = pid_of(t.run, victim);
                kill(pid, SIGKILL);
                REQUIRE(restarted(t.run, victim, pid));
                next();
            }
        }
        // GET and INFO are exact for the running worker.
        CHECK(call_int(t.sock(), {"GET"}) == last + 1);
        auto info = call(t.sock(), {"INFO"}).str;
        CHECK(info.find("value:" + std::to_string(last + 1) + "\r\n") != std::string::npos);
        CHECK(info.find("reserve:100\r\n") != std::string::npos);
    }
}

TEST_CASE("--reserve at the 64-bit edge: the mark stops at the maximum, and a crash there repeats no number") {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    TempDir dir;
    Tree t(dir, {"--fsync", "always"});
    // value + N would overflow: the mark must still cover what goes out.
    CHECK(call_int(t.sock(), {"INCREMENT", std::to_string(max - 10)}) == max - 10);
    for (std::int64_t n = max - 10; n < max - 5; ++n) CHECK(call_int(t.sock(), {"NEXT"}) == n);
    CHECK(call(t.run + "/stash.sock", {"GET", "sequence"}).str == std::to_string(max));
    auto pid = pid_of(t.run, "worker");
    kill(pid, SIGKILL);
    REQUIRE(restarted(t.run, "worker", pid));
    // Resumed at the mark: every number below it may have gone out.
    CHECK(call_int(t.sock(), {"GET"}) == max);
    auto r = call(t.sock(), {"NEXT"});
    CHECK(r.is_error());
    CHECK(r.str.find("exhausted") != std::string::npos);
}

TEST_CASE("--reserve: kill -9 of the whole tree under load hands out no number twice, and skips at most N") {
    TempDir dir;
    std::set<std::int64_t> seen;
    std::int64_t duplicates = 0;
    constexpr int clients = 4;
    for (int round = 0; round < 3; ++round) {
        Tree t(dir, {"--fsync", "always"});
        auto st = tree_status(t.run);
        if (!seen.empty()) {
            // What the stash's mark says comes next: at most N (plus what was
            // handed out but never read: one call in flight per client) past
            // the last number a client saw.
            auto first = call_int(t.sock(), {"NEXT"});
            CHECK(first > *seen.rbegin());
            CHECK(first - *seen.rbegin() - 1 <= reserve + clients);
            seen.insert(first);
        }
        std::atomic<bool> stop{false};
        std::atomic<int> served{0};
        std::vector<std::vector<std::int64_t>> got(clients);
        std::vector<std::thread> threads;
        for (auto& mine : got)
            threads.emplace_back([&t, &stop, &served, &mine] {
                try {
                    seq::Client c(t.sock(), 2000ms);
                    while (!stop) {
                        auto v = c.call({"NEXT"});
                        if (v.type != seq::resp::Value::Type::integer) break;
                        mine.push_back(v.integer);
                        ++served;
                    }
                } catch (const std::exception&) {
                }
            });
        CHECK(eventually([&] { return served > 3 * reserve; }));
        kill(t.sup->pid(), SIGKILL);
        kill(st.at("worker").pid, SIGKILL);
        kill(st.at("stash").pid, SIGKILL);
        stop = true;
        for (auto& th : threads) th.join();
        REQUIRE(t.sup->wait_exit());
        CHECK(eventually([&] { return !alive(st.at("worker").pid) && !alive(st.at("stash").pid); }));
        for (auto& g : got)
            for (auto n : g)
                if (!seen.insert(n).second) ++duplicates;
    }
    CHECK(duplicates == 0);
    MESSAGE(seen.size() << " numbers over 3 whole-tree kills with --reserve " << reserve << ", " << duplicates
                        << " duplicates");
}

TEST_CASE("--reserve: a stash slow to take a reservation holds NEXT only once the block is used up") {
    TempDir dir;
    Standalone t(dir, {"--reserve", std::to_string(reserve), "--wait-for-ack", "--stash-timeout", "20000"});
    seq::Client c(t.worker_sock, 5000ms);
    CHECK(c.call({"NEXT"}).integer == 0);
    // The first block is taken: the stash holds the mark 100.
    REQUIRE(eventually([&] { return call(t.stash_sock, {"GET", "sequence"}).str == std::to_string(reserve); }));
    t.stash->signal(SIGSTOP);  // alive, but it takes nothing now
    // The rest of the block is served at once, though the reservation of the
    // next one, asked for halfway, cannot be taken.
    for (std::int64_t i = 1; i < reserve; ++i) REQUIRE(c.call({"NEXT"}).integer == i);
    // The number at the mark waits for the stash.
    c.send_raw("NEXT\r\n");
    char byte;
    CHECK(::recv(c.fd(), &byte, 1, MSG_DONTWAIT) == -1);
    CHECK(!eventually([&] { return ::recv(c.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1; }, 300ms));
    t.stash->signal(SIGCONT);
    CHECK(c.read_reply().integer == reserve);
    CHECK(std::stoll(call(t.stash_sock, {"GET", "sequence"}).str) > reserve);
}

TEST_CASE("--reserve: INCREMENT larger than what is left of the block reserves enough first") {
    TempDir dir;
    Standalone t(dir, {"--reserve", std::to_string(reserve), "--wait-for-ack"});
    CHECK(call_int(t.worker_sock, {"INCREMENT", "1000"}) == 1000);
    // The reply came only once the stash held a mark at or above it.
    CHECK(std::stoll(call(t.stash_sock, {"GET", "sequence"}).str) >= 1000);
    t.start_worker();  // kill -9, then start again: it resumes at the mark
    auto n = call_int(t.worker_sock, {"NEXT"});
    CHECK(n >= 1000);
    CHECK(n <= 1000 + reserve);
}

TEST_CASE("without --reserve nothing is skipped: the stash holds the next number itself") {
    TempDir dir;
    Standalone t(dir, {"--wait-for-ack"});
    for (int i = 0; i < 5; ++i) CHECK(call_int(t.worker_sock, {"NEXT"}) == i);
    CHECK(call(t.stash_sock, {"GET", "sequence"}).str == "5");
    t.start_worker();
    CHECK(call_int(t.worker_sock, {"NEXT"}) == 5);
}
