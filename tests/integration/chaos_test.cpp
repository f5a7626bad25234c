// Chaos: clients call NEXT in a loop while the worker (and, under one_for_one,
// the stash) is killed with SIGKILL at random moments, dozens of times. No
// number may be handed out twice, and no client may see the sequence go back.
// The seed is printed; SEQ_CHAOS_SEED=<seed> replays a run.
#include <doctest/doctest.h>
#include <dirent.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "harness.hpp"

using namespace seqtest;

namespace {

// Children of `parent` by state: live ones, and zombies (dead, unreaped).
std::pair<int, int> children_of(pid_t parent) {
    int live = 0, zombies = 0;
    DIR* d = opendir("/proc");
    if (!d) return {0, 0};
    while (auto* e = readdir(d)) {
        std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
        std::string line;
        if (!std::getline(f, line)) continue;
        auto paren = line.rfind(')');
        if (paren == std::string::npos) continue;
        char state = 0;
        long ppid = 0;
        if (std::sscanf(line.c_str() + paren + 1, " %c %ld", &state, &ppid) != 2 || ppid != parent) continue;
        (state == 'Z' ? zombies : live)++;
    }
    closedir(d);
    return {live, zombies};
}

struct Client {
    std::vector<std::int64_t> got;
    int failed = 0;
};

void chaos(const std::string& strategy, bool kill_stash_too, bool standby = false) {
    std::uint64_t seed = std::random_device{}();
    if (const char* s = std::getenv("SEQ_CHAOS_SEED")) seed = std::strtoull(s, nullptr, 10);
    MESSAGE(strategy << ": seed " << seed << " (SEQ_CHAOS_SEED=" << seed << " replays it)");
    std::mt19937_64 rng(seed);

    TempDir dir;
    auto run = dir / "run";
    std::vector<std::string> argv{bin("seq-supervisor"), "--run-dir", run, "--strategy", strategy, "--max-restarts",
                                  "1000", "--max-seconds", "1"};
    argv.push_back(standby ? "--standby" : "--no-standby");
    Process sup(argv, dir / "supervisor.log");
    REQUIRE(tree_running(run));
    // The first kill at least finds a standby idle: the later ones come at
    // random, and may come before the next standby is (under a sanitizer
    // its start takes longer than a whole round of kills).
    if (standby) REQUIRE(eventually([&] { return standby_of(run, "worker").has_value(); }));
    auto sock = run + "/sequence.sock";

    std::atomic<bool> stop{false};
    std::vector<Client> clients(6);
    std::vector<std::thread> threads;
    for (auto& me : clients)
        threads.emplace_back([&stop, &me, &sock] {
            while (!stop) {
                try {
                    seq::Client c(sock, 3000ms);
                    while (!stop) {
                        auto v = c.call({"NEXT"});
                        if (v.type != seq::resp::Value::Type::integer) {
                            ++me.failed;
                            break;
                        }
                        me.got.push_back(v.integer);
                    }
                } catch (const std::exception&) {
                    ++me.failed;  // in flight when the worker died: allowed, and retried
                }
            }
        });

    int kills = 0, stash_kills = 0;
    for (int k = 0; k < 40; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 30));  // the workload, not a wait
        bool stash = kill_stash_too && rng() % 4 == 0;
        auto name = stash ? "stash" : "worker";
        auto victim = pid_of(run, name);
        REQUIRE(kill(victim, SIGKILL) == 0);
        ++kills;
        stash_kills += stash;
        REQUIRE(eventually([&] {
            try {
                auto st = tree_status(run);
                return st.at(name).pid != victim && st.at("stash").state == "running" &&
                       st.at("worker").state == "running";
            } catch (const std::exception&) {
                return false;
            }
        }));
        // A worker killed before it re-seeded an empty stash would be a
        // double fault (the number lived nowhere else): wait for the seed.
        if (stash)
            REQUIRE(eventually([&] {
                try {
                    return call(run + "/stash.sock", {"GET", "sequence"}).type == seq::resp::Value::Type::bulk;
                } catch (const std::exception&) {
                    return false;
                }
            }));
    }
    stop = true;
    for (auto& t : threads) t.join();

    std::map<std::int64_t, int> seen;
    std::size_t served = 0;
    int failed = 0, backwards = 0;
    std::int64_t highest = -1;
    for (auto& c : clients) {
        failed += c.failed;
        served += c.got.size();
        for (std::size_t i = 0; i < c.got.size(); ++i) {
            if (i > 0 && c.got[i] <= c.got[i - 1]) ++backwards;
            ++seen[c.got[i]];
            highest = std::max(highest, c.got[i]);
        }
    }
    int duplicates = 0;
    for (auto& [n, times] : seen) duplicates += times - 1;
    MESSAGE(strategy << ": " << served << " numbers served, " << kills << " kills (" << stash_kills
                     << " of the stash), " << failed << " failed calls, " << duplicates << " duplicates");
    CHECK(served > 0);
    CHECK(duplicates == 0);
    CHECK(backwards == 0);
    CHECK(call_int(sock, {"GET"}) > highest);
    CHECK(sup.running());
    // The stash, the worker, and with --standby its standby once it is idle again.
    const int expected = standby ? 3 : 2;
    CHECK(eventually([&] {
        auto [live, zombies] = children_of(sup.pid());
        return live == expected && zombies == 0;
    }));
    if (standby) {
        auto log = slurp(dir / "supervisor.log");
        std::size_t activations = 0;
        for (auto at = log.find("activated its standby"); at != std::string::npos;
             at = log.find("activated its standby", at + 1))
            ++activations;
        MESSAGE(strategy << ": " << activations << " restarts by activating a standby");
        CHECK(activations > 0);
    }
}

}  // namespace

TEST_CASE("chaos: one_for_one, worker and stash killed at random") { chaos("one_for_one", true); }

TEST_CASE("chaos: rest_for_one, worker killed at random") { chaos("rest_for_one", false); }

TEST_CASE("chaos: one_for_one with --standby, worker and stash killed at random") { chaos("one_for_one", true, true); }

TEST_CASE("chaos: rest_for_one with --standby, worker killed at random") { chaos("rest_for_one", false, true); }
