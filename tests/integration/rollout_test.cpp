// Rolling upgrades (update = "rolling"): a pool of HTTP instances taken from
// one version to the next under steady load, each new instance started
// beside an old one and taking its place once ready; a broken new version
// rolled back three ways; kill -9 of an old and of a new instance in the
// middle of a rollout; $SEQ_GENERATION, and what status says throughout.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace seqtest;

namespace {

std::string web_app() { return std::string(SEQ_SOURCE_DIR) + "/scripts/web-app.py"; }

// The stash and a pool "web" of 4 at `version`, rolled out one at a time;
// `extra`: more words for the app's command (a --break).
std::string rolling_tree(const std::string& version, const std::string& extra = "",
                         const std::string& min_uptime = "1500", const std::string& start_timeout = "60000",
                         const std::string& more = "") {
    return "max_restarts = 1000\nmax_seconds = 1\nstash = \"stash\"\n"
           "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\"]\nreadiness = \"notify-fd\"\n"
           "sockets = [\"stash\"]\n"
           "[[child]]\nname = \"web\"\ncommand = [\"" + web_app() + "\", \"--version\", \"" + version + "\"" + extra +
           "]\nreadiness = \"notify-fd\"\nstart_timeout = " + start_timeout + "\ninstances = 4\n"
           "update = \"rolling\"\nmin_uptime = " + min_uptime + "\n"
           "sockets = [{ name = \"http\", listen = \"127.0.0.1:0\" }]\n" + more;
}

// Each value of `key` ("version", "generation") that the bodies name.
std::set<std::string> said(const std::vector<std::string>& bodies, const std::string& key) {
    std::set<std::string> out;
    std::regex re(key + " ([^ \n]+)");
    for (auto& b : bodies) {
        std::smatch m;
        if (std::regex_search(b, m, re)) out.insert(m[1]);
    }
    return out;
}

std::map<std::string, ChildStatus> members(const std::string& run) {
    std::map<std::string, ChildStatus> out;
    for (auto& [name, c] : tree_status(run))
        if (name.starts_with("web#")) out[name] = c;
    return out;
}

int running_members(const std::string& run) {
    int n = 0;
    for (auto& [name, c] : members(run)) n += c.state == "running";
    return n;
}

// `seqctl upgrade` in the background: its exit code and what it printed.
std::future<Shell> upgrade(const TreeSup& t) {
    // A deadline, so that an upgrade that never ends fails its test, not the suite.
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " --timeout 300000 upgrade 2>&1";
    return std::async(std::launch::async, [ctl] { return sh(ctl); });
}

// More than `n` replies to requests sent from now on (what came before is dropped).
std::vector<std::string> fresh_bodies(HttpLoad& load, std::size_t n) {
    load.take_bodies();
    std::vector<std::string> bodies;
    bool enough = eventually([&] {
        auto more = load.take_bodies();
        bodies.insert(bodies.end(), more.begin(), more.end());
        return bodies.size() > n;
    });
    REQUIRE(enough);
    return bodies;
}

// The load stopped: not one connection refused, not one request failed.
void nothing_lost(HttpLoad& load) {
    load.stop();
    INFO(load.report());
    CHECK(load.refused() == 0);
    CHECK(load.failed() == 0);
}

// The whole STATUS reply as `seqctl status --json` prints it.
std::string status_json(const TreeSup& t) { return sh(bin("seqctl") + " --run-dir " + t.run + " status --json").out; }

}  // namespace

TEST_CASE("a pool of 4 rolled from v1 to v2 under load, kept-alive and fresh connections: nothing refused, nothing failed, never fewer than 4 serving, and every reply after it from v2 with the next generation") {
    TempDir dir;
    TreeSup t(dir, rolling_tree("v1"), true, {}, python_starts);
    INFO(t.proc->log());
    // Three clients keep a connection each: a retiring instance closes them
    // (after its next reply, or once idle), and they go on to another.
    HttpLoad load(t.child("web").sockets.at("http"), 6, "/", 5ms, 3);
    REQUIRE(eventually([&] { return load.ok() > 20; }, python_starts));
    auto before = members(t.run);
    CHECK(said(load.take_bodies(), "generation") == std::set<std::string>{"1"});

    std::ofstream(t.file) << rolling_tree("v2");
    auto done = upgrade(t);
    // Sampled from STATUS all along: an old instance stops only once its
    // successor serves.
    int fewest = 4;
    bool saw_new = false, saw_surge = false;
    while (done.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
        fewest = std::min(fewest, running_members(t.run));
        auto json = status_json(t);
        saw_new = saw_new || json.find("\"rollout\": \"new\"") != std::string::npos;
        saw_surge = saw_surge || json.find("\"surge_pid\"") != std::string::npos;
        done.wait_for(std::chrono::milliseconds(20));
    }
    auto out = done.get();
    INFO(out.out);
    CHECK(out.code == 0);
    CHECK(out.out.find("web#3: generation 2 ready") != std::string::npos);
    CHECK(out.out.find("web: rolled out generation 2 (4 instances)") != std::string::npos);
    CHECK(out.out.find("upgrade done") != std::string::npos);
    CHECK(fewest >= 4);
    CHECK(saw_new);
    CHECK(saw_surge);
    // Each instance is a new process, and every old one is gone.
    auto after = members(t.run);
    REQUIRE(after.size() == 4);
    for (auto& member : after) {
        const auto& name = member.first;  // not a structured binding: CAPTURE's lambda takes it (clang 14)
        const auto& c = member.second;
        CAPTURE(name);
        CHECK(c.pid != before.at(name).pid);
        CHECK(c.last_start == "upgrade");
        CHECK_FALSE(alive(before.at(name).pid));
    }
    auto bodies = fresh_bodies(load, 20);
    CHECK(said(bodies, "version") == std::set<std::string>{"v2"});
    CHECK(said(bodies, "generation") == std::set<std::string>{"2"});
    nothing_lost(load);
    CHECK(load.reused() > 100);  // the kept-alive clients did keep their connections
    // The same file again: nothing changes, nothing restarts.
    auto again = sh(bin("seqctl") + " --run-dir " + t.run + " upgrade");
    CHECK(again.code == 0);
    CHECK(members(t.run).at("web#0").pid == after.at("web#0").pid);
}

TEST_CASE("a broken v2 is rolled back, each of three ways, with no failed request: seqctl upgrade exits 1 and says why") {
    struct Way {
        const char* extra;
        const char* why;
        const char* start_timeout;
        const char* more;  // the crash with a pool standby: one of the new spec is started, and goes with the rollback
    };
    for (auto way : {Way{", \"--break\", \"exit\"", "web#0 (new) ended (exit status 1) before it was ready", "60000", ""},
                     Way{", \"--break\", \"unready\"", "web#0 (new) was not ready within 3.0s", "3000", ""},
                     Way{", \"--break\", \"crash\"", "after it was ready", "60000", "standby = true\n"}}) {
        CAPTURE(way.extra);
        TempDir dir;
        TreeSup t(dir, rolling_tree("v1", "", "4000", "60000", way.more), true, {}, python_starts);
        INFO(t.proc->log());
        HttpLoad load(t.child("web").sockets.at("http"), 4);
        REQUIRE(eventually([&] { return load.ok() > 10; }, python_starts));
        auto before = members(t.run);
        std::ofstream(t.file) << rolling_tree("v2", way.extra, "4000", way.start_timeout, way.more);
        auto out = upgrade(t).get();
        INFO(out.out);
        CHECK(out.code == 1);
        CHECK(out.out.find(way.why) != std::string::npos);
        CHECK(out.out.find("rolled back, 4 instances on the old spec") != std::string::npos);
        // Every instance serves v1 again; those the rollout never reached
        // were not touched. How far it got before the gate failed is the
        // machine's pace (each new instance is a Python start), so the log
        // says which it reached.
        auto after = members(t.run);
        REQUIRE(after.size() == 4);
        const auto log = t.proc->log();
        for (auto& member : after) {
            const auto& name = member.first;
            const auto& c = member.second;
            CAPTURE(name);
            CHECK(c.state == "running");
            if (log.find(name + ": generation 2 starting") == std::string::npos) CHECK(c.pid == before.at(name).pid);
        }
        // What status says until the next reload: the file is not what runs.
        auto json = status_json(t);
        CHECK(json.find("rolled back") != std::string::npos);
        CHECK(json.find("the tree file is not what runs") != std::string::npos);
        auto bodies = fresh_bodies(load, 10);
        CHECK(said(bodies, "version") == std::set<std::string>{"v1"});
        nothing_lost(load);
    }
}

TEST_CASE("kill -9 in the middle of a rollout: of an old instance (its new one takes its place), of a new one (rolled back): status explains, nothing is left behind") {
    TempDir dir;
    TreeSup t(dir, rolling_tree("v1", "", "3000"), true, {}, python_starts);
    INFO(t.proc->log());
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    std::set<pid_t> seen;
    auto note_pids = [&] {
        for (auto& [name, c] : members(t.run))
            if (c.pid > 0) seen.insert(c.pid);
    };
    note_pids();

    SUBCASE("an old instance, while its successor starts") {
        std::ofstream(t.file) << rolling_tree("v2", "", "3000");
        auto done = upgrade(t);
        // web#0's successor is starting: STATUS names its pid.
        pid_t surge = 0, old = 0;
        REQUIRE(eventually([&] {
            auto json = status_json(t);
            std::smatch m;
            static const std::regex re("\"name\": \"web#0\", \"type\": \"worker\", \"pid\": ([0-9]+)[^}]*\"surge_pid\": ([0-9]+)");
            if (!std::regex_search(json, m, re)) return false;
            old = std::stoi(m[1]);
            surge = std::stoi(m[2]);
            return true;
        }, python_starts));
        seen.insert(surge);
        REQUIRE(kill(old, SIGKILL) == 0);
        auto out = done.get();
        INFO(out.out);
        CHECK(out.code == 0);
        CHECK(t.proc->log().find("its new instance (pid " + std::to_string(surge) + "), starting, takes its place") !=
              std::string::npos);
        CHECK(members(t.run).at("web#0").pid == surge);
    }
    SUBCASE("a new instance, once it serves") {
        std::ofstream(t.file) << rolling_tree("v2", "", "3000");
        auto done = upgrade(t);
        pid_t fresh = 0;
        REQUIRE(eventually([&] {
            static const std::regex re("\"name\": \"web#0\", \"type\": \"worker\", \"pid\": ([0-9]+)[^}]*"
                                       "\"generation\": 2, \"rollout\": \"new\"");
            auto json = status_json(t);
            std::smatch m;
            if (!std::regex_search(json, m, re)) return false;
            fresh = std::stoi(m[1]);
            return true;
        }, python_starts));
        seen.insert(fresh);
        REQUIRE(kill(fresh, SIGKILL) == 0);
        auto out = done.get();
        INFO(out.out);
        CHECK(out.code == 1);
        CHECK(out.out.find("web#0 (new) ended (killed by SIGKILL)") != std::string::npos);
        CHECK(status_json(t).find("rolled back") != std::string::npos);
    }
    note_pids();
    // Four instances run, and every other process the rollout started is gone.
    auto now = members(t.run);
    REQUIRE(now.size() == 4);
    std::set<pid_t> current;
    for (auto& [name, c] : now) {
        CHECK(c.state == "running");
        current.insert(c.pid);
    }
    for (pid_t pid : seen)
        if (!current.count(pid)) CHECK_MESSAGE(eventually([&] { return !alive(pid); }), "pid " << pid << " left behind");
    auto stop = sh(ctl + "stop");
    CHECK(stop.code == 0);
    REQUIRE(t.proc->wait_exit(20000ms).has_value());
    for (pid_t pid : current) CHECK_FALSE(alive(pid));
}

TEST_CASE("SEQ_GENERATION grows with each change of a child's spec, stays with a child that did not change, and survives a nested supervisor's restart") {
    TempDir dir;
    auto tree = [&](const std::string& a, const std::string& b) {
        return "[[child]]\nname = \"a\"\ncommand = [\"/bin/sh\", \"-c\", \"echo gen=$SEQ_GENERATION " + a +
               " > " + (dir / "a.out") + "; exec sleep 1000\"]\n"
               "[[child]]\nname = \"deep\"\ntype = \"supervisor\"\n"
               "[[child.child]]\nname = \"b\"\ncommand = [\"/bin/sh\", \"-c\", \"echo gen=$SEQ_GENERATION " + b +
               " > " + (dir / "b.out") + "; exec sleep 1000\"]\n";
    };
    auto read = [&](const char* f) {
        std::ifstream in(dir / f);
        std::string s;
        std::getline(in, s);
        return s;
    };
    TreeSup t(dir, tree("x", "x"));
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    REQUIRE(eventually([&] { return read("a.out") == "gen=1 x" && read("b.out") == "gen=1 x"; }));
    // b changes twice, a never.
    for (auto step : {std::pair{"y", "2"}, std::pair{"z", "3"}}) {
        std::ofstream(t.file) << tree("x", step.first);
        REQUIRE(sh(ctl + "upgrade").code == 0);
        const std::string want = std::string("gen=") + step.second + " " + step.first;
        CHECK(eventually([&] { return read("b.out") == want; }));
    }
    CHECK(read("a.out") == "gen=1 x");
    // The nested supervisor, killed: its child starts again with the same generation.
    std::remove((dir / "b.out").c_str());
    auto deep = pid_of(t.run, "deep");
    REQUIRE(kill(deep, SIGKILL) == 0);
    REQUIRE(restarted(t.run, "deep", deep));
    CHECK(eventually([&] { return read("b.out") == "gen=3 z"; }));
    // The same file: the same generations.
    REQUIRE(sh(ctl + "reload").code == 0);
    auto json = status_json(t);
    CHECK(std::regex_search(json, std::regex("\"name\": \"a\"[^}]*\"generation\": 1")));
    CHECK(std::regex_search(json, std::regex("\"name\": \"b\"[^}]*\"generation\": 3")));
}

TEST_CASE("a rollout below a nested supervisor that is rolled back makes seqctl upgrade at the top exit 1 with why, and a good one exits 0") {
    TempDir dir;
    auto tree = [&](const std::string& version, const std::string& extra) {
        return "[[child]]\nname = \"deep\"\ntype = \"supervisor\"\n"
               "[[child.child]]\nname = \"web\"\ncommand = [\"" + web_app() + "\", \"--version\", \"" + version + "\"" +
               extra + "]\nreadiness = \"notify-fd\"\nstart_timeout = 60000\ninstances = 2\nupdate = \"rolling\"\n"
               "min_uptime = 500\nsockets = [{ name = \"http\", listen = \"127.0.0.1:0\" }]\n";
    };
    TreeSup t(dir, tree("v1", ""), true, {}, python_starts);
    INFO(t.proc->log());
    std::ofstream(t.file) << tree("v2", ", \"--break\", \"exit\"");
    auto broken = upgrade(t).get();
    INFO(broken.out);
    CHECK(broken.code == 1);
    CHECK(broken.out.find("deep/web: deep/web#0 (new) ended (exit status 1) before it was ready") != std::string::npos);
    CHECK(broken.out.find("rolled back, 2 instances on the old spec") != std::string::npos);
    // What runs there is the old subtree: the same file is tried again (and
    // rolled back again), and a restart of the nested supervisor starts v1.
    auto again = upgrade(t).get();
    INFO(again.out);
    CHECK(again.code == 1);
    CHECK(again.out.find("changed in place: deep (rolling out deep/web)") != std::string::npos);
    auto deep = pid_of(t.run, "deep");
    REQUIRE(sh(bin("seqctl") + " --run-dir " + t.run + " restart deep").code == 0);
    CHECK(pid_of(t.run, "deep") != deep);
    CHECK(std::regex_search(status_json(t), std::regex("\"name\": \"web#0\"[^}]*\"state\": \"running\"[^}]*\"generation\": 1")));
    std::ofstream(t.file) << tree("v3", "");
    auto good = upgrade(t).get();
    INFO(good.out);
    CHECK(good.code == 0);
    CHECK(good.out.find("upgrade done") != std::string::npos);
    auto json = status_json(t);
    // v2 never ran there: v3 is the next generation after v1.
    CHECK(std::regex_search(json, std::regex("\"name\": \"web#1\"[^}]*\"generation\": 2")));
}

TEST_CASE("during a rollout, reload and scale of the pool are refused with why, and the rollout goes on") {
    TempDir dir;
    TreeSup t(dir, rolling_tree("v1", "", "3000"), true, {}, python_starts);
    INFO(t.proc->log());
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    std::ofstream(t.file) << rolling_tree("v2", "", "3000");
    auto done = upgrade(t);
    REQUIRE(eventually([&] { return status_json(t).find("rolling out generation 2") != std::string::npos; }));
    auto reload = sh(ctl + "reload 2>&1");
    CHECK(reload.code == 1);
    CHECK(reload.out.find("a rollout is under way") != std::string::npos);
    auto scale = sh(ctl + "scale web 6 2>&1");
    CHECK(scale.code == 1);
    CHECK(scale.out.find("web is being rolled out") != std::string::npos);
    auto out = done.get();
    INFO(out.out);
    CHECK(out.code == 0);
    CHECK(members(t.run).size() == 4);
}

namespace {

// Clients calling NEXT on the worker's socket, a new connection for each
// call, until stopped: every number each one got, in order, and what went wrong.
struct NextLoad {
    explicit NextLoad(std::string sock, int clients) {
        got.resize(static_cast<std::size_t>(clients));
        for (int i = 0; i < clients; ++i)
            threads.emplace_back([this, sock, i] {
                while (!done) {
                    try {
                        seq::Client c(sock, 10000ms);
                        auto v = c.call({"NEXT"});
                        if (v.type != seq::resp::Value::Type::integer) {
                            std::lock_guard lock(mu);
                            failures.push_back("reply: " + v.str);
                            continue;
                        }
                        got[static_cast<std::size_t>(i)].push_back(v.integer);
                    } catch (const seq::ConnectError& e) {
                        std::lock_guard lock(mu);
                        refusals.push_back(e.what());
                    } catch (const std::exception& e) {
                        std::lock_guard lock(mu);
                        failures.push_back(e.what());
                    }
                }
            });
    }
    ~NextLoad() { stop(); }
    void stop() {
        done = true;
        for (auto& t : threads)
            if (t.joinable()) t.join();
    }
    std::size_t total() {
        std::size_t n = 0;
        for (auto& g : got) n += g.size();
        return n;
    }
    std::atomic<bool> done{false};
    std::vector<std::vector<std::int64_t>> got;
    std::mutex mu;
    std::vector<std::string> refusals, failures;
    std::vector<std::thread> threads;
};

}  // namespace

TEST_CASE("seq-worker upgraded by handover while clients call NEXT: no number twice, none backwards, no call failed, no connection refused") {
    TempDir dir;
    auto tree = [&](const std::string& max_clients) {
        return "stash = \"stash\"\n"
               "[[child]]\nname = \"stash\"\ncommand = [\"" + bin("seq-stash") + "\"]\nreadiness = \"notify-fd\"\n"
               "sockets = [\"stash\"]\n"
               "[[child]]\nname = \"worker\"\ncommand = [\"" + bin("seq-worker") + "\", \"--max-clients\", \"" +
               max_clients + "\"]\nreadiness = \"notify-fd\"\nsockets = [{ name = \"worker\", path = \"sequence.sock\" }]\nstash_keys = [\"sequence\"]\n"
               "update = \"handover\"\nmin_uptime = 1000\n";
    };
    TreeSup t(dir, tree("100"));
    INFO(t.proc->log());
    auto old = t.child("worker").pid;
    NextLoad load(t.run + "/sequence.sock", 4);
    REQUIRE(eventually([&] { return load.total() > 200; }));
    std::ofstream(t.file) << tree("200");
    auto out = upgrade(t).get();
    INFO(out.out);
    CHECK(out.code == 0);
    CHECK(out.out.find("worker: handing over to generation 2") != std::string::npos);
    CHECK(out.out.find("idle (pid") != std::string::npos);
    CHECK(out.out.find("worker: rolled out generation 2 (1 instance)") != std::string::npos);
    CHECK(t.proc->log().find("worker: activated its standby") != std::string::npos);
    auto now = t.child("worker");
    CHECK(now.pid != old);
    CHECK(now.last_start == "upgrade");
    CHECK_FALSE(alive(old));
    auto served = load.total();
    REQUIRE(eventually([&] { return load.total() > served + 200; }));
    load.stop();
    // Every number once, each client's in order.
    std::set<std::int64_t> all;
    std::size_t n = 0;
    for (auto& each : load.got) {
        CHECK(std::is_sorted(each.begin(), each.end()));
        CHECK(std::adjacent_find(each.begin(), each.end()) == each.end());
        all.insert(each.begin(), each.end());
        n += each.size();
    }
    CHECK(all.size() == n);
    std::string why;
    for (auto& f : load.failures) why += f + "\n";
    for (auto& r : load.refusals) why += r + "\n";
    INFO(why);
    CHECK(load.failures.empty());
    CHECK(load.refusals.empty());
}

TEST_CASE("a handover whose new version does not stand by, or dies once it serves, is rolled back: the old version serves again, and no request fails") {
    TempDir dir;
    auto tree = [&](const std::string& command) {
        return "[[child]]\nname = \"web\"\ncommand = " + command + "\nreadiness = \"notify-fd\"\n"
               "start_timeout = 60000\nsockets = [{ name = \"http\", listen = \"127.0.0.1:0\" }]\n"
               "update = \"handover\"\nmin_uptime = 4000\nstandby = true\n";
    };
    auto app = [&](const std::string& extra) { return "[\"" + web_app() + "\", \"--version\", " + extra + "]"; };
    TreeSup t(dir, tree(app("\"v1\"")), true, {}, python_starts);
    INFO(t.proc->log());
    auto old = t.child("web").pid;
    HttpLoad load(t.child("web").sockets.at("http"), 4);
    REQUIRE(eventually([&] { return load.ok() > 10; }, python_starts));

    // A program that says it is ready as a standby: it knows nothing of the protocol.
    std::ofstream(t.file) << tree("[\"/bin/sh\", \"-c\", \"echo >&$SEQ_NOTIFY_FD; exec sleep 1000\"]");
    auto out = upgrade(t).get();
    CHECK(out.code == 1);
    CHECK(out.out.find("web (new, as a standby) does not follow the standby protocol") != std::string::npos);
    CHECK(out.out.find("rolled back, 1 instance on the old spec") != std::string::npos);
    CHECK(t.child("web").pid == old);  // never touched

    // Takes over, then crashes a second after it is ready: v1 starts again in its place.
    std::ofstream(t.file) << tree(app("\"v2\", \"--break\", \"crash\""));
    out = upgrade(t).get();
    INFO(out.out);
    CHECK(out.code == 1);
    CHECK(out.out.find("web: generation 2 idle") != std::string::npos);  // the one rolled back was never applied
    CHECK(out.out.find("web (new) ended (exit status 1)") != std::string::npos);
    CHECK(out.out.find("after it was ready") != std::string::npos);
    CHECK(t.child("web").state == "running");
    CHECK_FALSE(alive(old));
    auto bodies = fresh_bodies(load, 10);
    CHECK(said(bodies, "version") == std::set<std::string>{"v1"});
    nothing_lost(load);
}

TEST_CASE("a migration runs once, before the first new instance: the count survives the upgrade under a renamed key, and a migration that fails or never ends replaces nothing") {
    TempDir dir;
    auto migrate = std::string(SEQ_SOURCE_DIR) + "/scripts/web-migrate.py";
    TreeSup t(dir, rolling_tree("v1", "", "1000"), true, {}, python_starts);
    INFO(t.proc->log());
    auto addr = t.child("web").sockets.at("http");
    for (int i = 1; i <= 5; ++i) REQUIRE(http_get(addr).body.starts_with("hits " + std::to_string(i) + " "));

    std::ofstream(t.file) << rolling_tree("v2", ", \"--key\", \"visits\"", "1000") + "migrate = [\"" + migrate +
                                 "\", \"hits\", \"visits\"]\n";
    auto out = upgrade(t).get();
    INFO(out.out);
    CHECK(out.code == 0);
    auto migrating = out.out.find("web: migrating to generation 2");
    auto first_new = out.out.find("web#0: generation 2 starting");
    CHECK(migrating != std::string::npos);
    CHECK(out.out.find("web: migration done") != std::string::npos);
    CHECK(migrating < first_new);
    CHECK(log_has(t, "copied hits=5 to visits (generation 2)"));
    auto after = http_get(addr).body;
    CHECK(after.starts_with("hits 6 "));  // counted on under the new key
    CHECK(after.find("version v2") != std::string::npos);

    // A migration that fails: nothing is replaced, and v2 serves on.
    auto before = members(t.run);
    std::ofstream(t.file) << rolling_tree("v3", ", \"--key\", \"other\"", "1000") +
                                 "migrate = [\"/bin/sh\", \"-c\", \"echo cannot migrate; exit 3\"]\n";
    out = upgrade(t).get();
    CHECK(out.code == 1);
    CHECK(out.out.find("web: its migration ended (exit status 3); nothing was replaced; rolled back, 4 instances on "
                       "the old spec") != std::string::npos);
    CHECK(out.out.find("generation 3 starting") == std::string::npos);
    CHECK(members(t.run).size() == 4);
    for (auto& [name, c] : members(t.run)) CHECK(c.pid == before.at(name).pid);
    CHECK(log_has(t, "cannot migrate"));
    auto still = http_get(addr).body;
    CHECK(still.starts_with("hits 7 "));
    CHECK(still.find("version v2") != std::string::npos);

    // A migration that never ends: killed at the child's start_timeout,
    // nothing replaced, and no process of it left.
    std::string pid_file = dir / "migration.pid";
    std::ofstream(t.file) << rolling_tree("v4", ", \"--key\", \"other\"", "1000", "2000") +
                                 "migrate = [\"/bin/sh\", \"-c\", \"echo $$ > " + pid_file + "; exec sleep 1000\"]\n";
    out = upgrade(t).get();
    INFO(out.out);
    CHECK(out.code == 1);
    CHECK(out.out.find("web: its migration did not end within 2.0s; nothing was replaced; rolled back, 4 instances "
                       "on the old spec") != std::string::npos);
    for (auto& [name, c] : members(t.run)) CHECK(c.pid == before.at(name).pid);
    std::ifstream in(pid_file);
    pid_t migration = 0;
    REQUIRE((in >> migration));
    CHECK(eventually([&] { return !alive(migration); }));
    CHECK(http_get(addr).body.find("version v2") != std::string::npos);
}

TEST_CASE("a member stopped by request in the middle of a rollout stays stopped and takes the new spec at its next start, and the rollout ends") {
    TempDir dir;
    TreeSup t(dir, rolling_tree("v1", "", "2000"), true, {}, python_starts);
    INFO(t.proc->log());
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    std::ofstream(t.file) << rolling_tree("v2", "", "2000");
    auto done = upgrade(t);
    REQUIRE(log_has(t, "web#0: generation 2 starting", python_starts));
    REQUIRE(sh(ctl + "stop web#3").code == 0);
    auto out = done.get();
    INFO(out.out);
    CHECK(out.code == 0);
    CHECK(out.out.find("web#3: not running; it takes generation 2 at its next start") != std::string::npos);
    auto now = members(t.run);
    CHECK(now.at("web#3").state == "stopped");
    CHECK(now.at("web#3").stopped_by == "request");
    REQUIRE(sh(ctl + "start web#3").code == 0);
    auto json = status_json(t);
    CHECK(std::regex_search(json, std::regex("\"name\": \"web#3\"[^}]*\"state\": \"running\"[^}]*\"generation\": 2")));
    CHECK(http_get(t.child("web").sockets.at("http")).body.find("version v2") != std::string::npos);
}

TEST_CASE("the supervisor stopped during a migration: the migration is stopped and waited for, seqctl upgrade says why, and no process is left") {
    TempDir dir;
    TreeSup t(dir, rolling_tree("v1", "", "1000"), true, {}, python_starts);
    INFO(t.proc->log());
    std::string pid_file = dir / "migration.pid";
    auto olds = members(t.run);
    std::ofstream(t.file) << rolling_tree("v2", "", "1000") + "migrate = [\"/bin/sh\", \"-c\", \"echo $$ > " +
                                 pid_file + "; exec sleep 1000\"]\n";
    auto done = upgrade(t);
    REQUIRE(log_has(t, "web: migrating to generation 2", python_starts));
    pid_t migration = 0;
    REQUIRE(eventually([&] {
        std::ifstream in(pid_file);
        return static_cast<bool>(in >> migration) && migration > 0;
    }));
    REQUIRE(kill(t.proc->pid(), SIGTERM) == 0);
    auto code = t.proc->wait_exit(20000ms);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    auto out = done.get();
    INFO(out.out);
    CHECK(out.code != 0);
    CHECK(out.out.find("the supervisor is stopping") != std::string::npos);
    CHECK_FALSE(alive(migration));
    for (auto& member : olds) CHECK_FALSE(alive(member.second.pid));
}
