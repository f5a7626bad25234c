// One sequence shared by several workers through a real Redis (--stash
// redis://... with --reserve): blocks taken with INCRBY, so across workers
// no number is handed out twice, while workers are killed with -9 and the
// redis-server itself is restarted; WAIT with replicas; and the errors a
// wrong password, an unreachable address and a foreign key give.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace seqtest;

namespace {

// A redis-server on 127.0.0.1:port, its files in `dir`, started by the test.
struct Redis {
    Redis(const TempDir& tmp, std::string name, std::vector<std::string> extra = {})
        : dir(tmp / name), port(free_port()), extra(std::move(extra)) {
        for (std::size_t i = 0; i + 1 < this->extra.size(); ++i)
            if (this->extra[i] == "--requirepass") password = this->extra[i + 1];
        std::filesystem::create_directories(dir);
        start();
    }
    void start() {
        p.reset();
        static const std::string server = [] {
            auto r = sh("command -v redis-server");
            return r.out.empty() ? std::string("/usr/bin/redis-server") : r.out.substr(0, r.out.size() - 1);
        }();
        std::vector<std::string> argv{server, "--port", std::to_string(port), "--bind", "127.0.0.1",
                                      "--save", "", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        p.emplace(argv, dir + "/redis.log");
        REQUIRE(eventually([&] { return cli("PING") == "PONG\n"; }));
    }
    void kill9() {
        p->signal(SIGKILL);
        p->wait_exit();
    }
    std::string cli(const std::string& args) const {
        auto auth = password.empty() ? std::string() : " -a " + password + " --no-auth-warning";
        return sh("redis-cli -p " + std::to_string(port) + auth + " " + args + " 2>/dev/null").out;
    }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port); }
    std::string dir;
    int port;
    std::vector<std::string> extra;
    std::string password;
    std::optional<Process> p;
};

void require_redis_server() {
    if (sh("command -v redis-server >/dev/null").code != 0)
        FAIL("redis-server is missing: scripts/test installs Debian's redis-server");
}

}  // namespace

TEST_CASE("3 workers share one redis-server: kill -9 of workers and restarts of Redis hand out no number twice") {
    require_redis_server();
    TempDir dir;
    Redis redis(dir, "redis");
    // One tree: three workers, no stash of ours.
    std::ofstream(dir / "tree.toml") << [&] {
        std::string t = "strategy = \"one_for_one\"\nmax_restarts = 1000\nmax_seconds = 1\n";
        for (int i = 1; i <= 3; ++i)
            t += "[[child]]\nname = \"w" + std::to_string(i) + "\"\ncommand = [\"" + bin("seq-worker") +
                 "\", \"--stash\", \"" + redis.url() + "\", \"--reserve\", \"50\", \"--stash-timeout\", \"5000\"]\n"
                 "readiness = \"notify-fd\"\nsockets = [\"w" + std::to_string(i) + "\"]\nstandby = true\n";
        return t;
    }();
    auto run = dir / "run";
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--config", dir / "tree.toml"}, dir / "supervisor.log");
    REQUIRE(tree_running(run));
    // A SET to a Redis is the worker's only once Redis said so, flag or not.
    CHECK(info_field(run + "/w1.sock", "commit_mode") == "ack");
    std::atomic<bool> stop{false};
    std::atomic<int> served{0};
    // Per client: what it got, in order; three clients on each worker.
    std::vector<std::vector<std::int64_t>> got(9);
    std::vector<std::thread> clients;
    for (int i = 0; i < 9; ++i)
        clients.emplace_back([&, i] {
            auto sock = run + "/w" + std::to_string(i % 3 + 1) + ".sock";
            while (!stop) {
                try {
                    seq::Client c(sock, 6000ms);
                    while (!stop) {
                        auto v = c.call({"NEXT"});
                        if (v.type != seq::resp::Value::Type::integer) break;
                        got[i].push_back(v.integer);
                        ++served;
                    }
                } catch (const std::exception&) {
                    // a worker killed under the call: a new connection
                }
            }
        });
    std::mt19937 rng(std::random_device{}());
    int worker_kills = 0, redis_restarts = 0;
    for (int round = 0; round < 12; ++round) {
        auto before = served.load();
        REQUIRE(eventually([&] { return served > before + 300; }, 10000ms));
        if (round % 4 == 3) {
            redis.kill9();
            redis.start();
            ++redis_restarts;
        } else {
            auto name = "w" + std::to_string(rng() % 3 + 1);
            kill(pid_of(run, name), SIGKILL);
            ++worker_kills;
        }
    }
    auto before = served.load();
    CHECK(eventually([&] { return served > before + 300; }, 10000ms));
    stop = true;
    for (auto& t : clients) t.join();
    std::map<std::int64_t, int> seen;
    int backwards = 0;
    for (auto& g : got) {
        for (std::size_t i = 0; i < g.size(); ++i) {
            ++seen[g[i]];
            if (i > 0 && g[i] <= g[i - 1]) ++backwards;
        }
    }
    int duplicates = 0;
    for (auto& [n, times] : seen) duplicates += times - 1;
    MESSAGE(served.load() << " numbers from 3 workers, " << worker_kills << " worker kills, " << redis_restarts
                          << " redis-server restarts: " << duplicates << " duplicates, " << backwards
                          << " steps back");
    CHECK(duplicates == 0);
    CHECK(backwards == 0);
    // The store's key is past every number handed out.
    CHECK(std::stoll(redis.cli("GET sequence")) > seen.rbegin()->first);
}

TEST_CASE("--replicas 1: one replica down changes nothing, both down fail calls after --stash-timeout, one back serves again") {
    require_redis_server();
    TempDir dir;
    Redis primary(dir, "primary");
    Redis r1(dir, "r1", {"--replicaof", "127.0.0.1", std::to_string(primary.port)});
    Redis r2(dir, "r2", {"--replicaof", "127.0.0.1", std::to_string(primary.port)});
    REQUIRE(eventually([&] {
        auto info = primary.cli("INFO replication");
        auto online = 0;
        for (auto at = info.find("state=online"); at != std::string::npos; at = info.find("state=online", at + 1)) ++online;
        return online == 2;
    }, 10000ms));
    Process w({bin("seq-worker"), "--socket", dir / "w.sock", "--stash", primary.url(), "--reserve", "10",
               "--replicas", "1", "--stash-timeout", "1500"},
              dir / "worker.log");
    REQUIRE(eventually([&] { return answers(dir / "w.sock"); }));
    std::int64_t last = -1;
    auto next_ok = [&] {
        auto v = call(dir / "w.sock", {"NEXT"}, 5000ms);
        if (v.type != seq::resp::Value::Type::integer) return false;
        CHECK(v.integer > last);
        last = v.integer;
        return true;
    };
    for (int i = 0; i < 25; ++i) REQUIRE(next_ok());
    r1.kill9();
    for (int i = 0; i < 25; ++i) REQUIRE(next_ok());  // r2 still confirms every block
    r2.kill9();
    // What is left of the blocks already confirmed is served; then nothing is.
    bool failed = false;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 40 && !failed; ++i) failed = !next_ok();
    CHECK(failed);
    // The worker counts the wait on its loop's clock, in whole ms as of the
    // start of a loop turn: it may end a millisecond or so before ours says.
    CHECK(std::chrono::steady_clock::now() - t0 >= 1490ms);
    r2.start();
    CHECK(eventually([&] { return next_ok(); }, 10000ms));
    CHECK(slurp(dir / "worker.log").find("replicas confirmed it") != std::string::npos);
}

TEST_CASE("a Redis that refuses the password, one that cannot be reached, and a key that holds no number: each exits with its code, naming it") {
    require_redis_server();
    TempDir dir;
    Redis redis(dir, "redis", {"--requirepass", "sekret"});
    auto worker = [&](std::vector<std::string> extra) {
        std::vector<std::string> argv{bin("seq-worker"), "--socket", dir / "w.sock"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return std::make_unique<Process>(argv, dir / "w.log");
    };
    auto url_with = [&](const std::string& userinfo) {
        return "redis://" + userinfo + "@127.0.0.1:" + std::to_string(redis.port);
    };
    auto w = worker({"--stash", url_with(":wrong"), "--reserve", "10"});
    CHECK(w->exit_code() == 5);
    CHECK(w->log().find(redis.url() + " refused the password") != std::string::npos);
    CHECK(w->log().find("wrong") == std::string::npos);  // never the password itself
    w = worker({"--stash", redis.url()});
    CHECK(w->exit_code() == 5);
    CHECK(w->log().find(redis.url() + " wants a password") != std::string::npos);
    w = worker({"--stash", "redis://127.0.0.1:" + std::to_string(free_port()), "--stash-timeout", "300"});
    CHECK(w->exit_code() == 4);
    CHECK(w->log().find("did not answer within 300 ms") != std::string::npos);
    redis.cli("SET other twelve");
    w = worker({"--stash", url_with(":sekret"), "--key", "other", "--reserve", "10"});
    CHECK(w->exit_code() == 6);
    CHECK(w->log().find("non-integer at key 'other'") != std::string::npos);
    w = worker({"--stash", "redis://127.0.0.1:99999"});
    CHECK(w->exit_code() == 2);
}

TEST_CASE("two workers on one Redis key without --reserve: the second writer is detected before it hands out a number twice") {
    require_redis_server();
    TempDir dir;
    Redis redis(dir, "redis");
    Process a({bin("seq-worker"), "--socket", dir / "a.sock", "--stash", redis.url()}, dir / "a.log");
    REQUIRE(eventually([&] { return answers(dir / "a.sock"); }));
    // The second may find out at once (its first write meets the first's),
    // or at its first NEXT: either way before it hands out a number.
    Process b({bin("seq-worker"), "--socket", dir / "b.sock", "--stash", redis.url()}, dir / "b.log");
    REQUIRE(eventually([&] { return answers(dir / "b.sock") || !b.running(); }));
    std::set<std::int64_t> seen;
    int duplicates = 0;
    for (int i = 0; i < 20; ++i)
        for (auto* sock : {"a.sock", "b.sock"}) {
            try {
                auto v = call(dir / sock, {"NEXT"}, 2000ms);
                if (v.type == seq::resp::Value::Type::integer && !seen.insert(v.integer).second) ++duplicates;
            } catch (const std::exception&) {
            }
        }
    CHECK(duplicates == 0);
    // One of them saw the other's write, said so, and stopped.
    CHECK(eventually([&] { return !a.running() || !b.running(); }));
    auto log = slurp(dir / "a.log") + slurp(dir / "b.log");
    CHECK(log.find("another writer changed key 'sequence'") != std::string::npos);
    CHECK((a.running() ? b.exit_code() : a.exit_code()) == 6);
}
