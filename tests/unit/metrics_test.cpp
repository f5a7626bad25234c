// What the HTTP listener says of a tree, from its report alone: the
// Prometheus text, and whether the tree is ready.
#include <doctest/doctest.h>

#include <string>

#include "listen_address.hpp"
#include "metrics.hpp"

using namespace seq::sup;

namespace {

ChildReport child(std::string name, std::string state, std::int64_t restarts = 0) {
    ChildReport k;
    k.name = std::move(name);
    k.type = "worker";
    k.state = std::move(state);
    k.restarts = restarts;
    return k;
}

TreeReport tree() {
    TreeReport r;
    r.state = "running";
    r.max_restarts = 3;
    r.restarts_in_window = 1;
    auto a = child("a", "running", 2);
    a.uptime_ms = 1500;
    a.cpu_ms = 20;
    a.memory_bytes = 4096;
    a.deaths_by_reason = {{"signal", 2}, {"exit", 1}};
    a.ready_times.emplace();
    a.ready_times->add(3);
    a.ready_times->add(40);
    a.ready_times->add(90000);
    r.children.push_back(a);
    auto pool = child("web", "running");
    pool.pool = true;
    pool.instances = {child("web#0", "running"), child("web#1", "waiting", 4)};
    pool.instances[1].deaths_by_reason = {{"watchdog", 4}};
    r.children.push_back(pool);
    auto sub = child("jobs", "running", 1);
    sub.type = "supervisor";
    sub.max_restarts = 5;
    sub.restarts_in_window = 2;
    sub.children = {child("mail\"er", "stopped")};
    r.children.push_back(sub);
    return r;
}

}  // namespace

TEST_CASE("metrics: each family once, with HELP and TYPE, labels by path and a pool's instance, escaped, seconds to the millisecond") {
    auto text = metrics_text(tree());
    CHECK(text.find("# HELP seq_child_up ") != std::string::npos);
    CHECK(text.find("# TYPE seq_child_up gauge\n") != std::string::npos);
    CHECK(text.find("# TYPE seq_child_restarts_total counter\n") != std::string::npos);
    CHECK(text.find("seq_child_up{path=\"a\"} 1\n") != std::string::npos);
    CHECK(text.find("seq_child_restarts_total{path=\"a\"} 2\n") != std::string::npos);
    CHECK(text.find("# TYPE seq_child_deaths_total counter\n") != std::string::npos);
    CHECK(text.find("seq_child_deaths_total{path=\"a\",reason=\"exit\"} 1\nseq_child_deaths_total{path=\"a\",reason=\"signal\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("seq_child_deaths_total{path=\"web\",instance=\"1\",reason=\"watchdog\"} 4\n") != std::string::npos);
    CHECK(text.find("seq_child_deaths_total{path=\"web\",instance=\"0\"") == std::string::npos);
    // A histogram: cumulative buckets, +Inf, the sum in seconds and the count.
    CHECK(text.find("# TYPE seq_child_ready_seconds histogram\n") != std::string::npos);
    CHECK(text.find("seq_child_ready_seconds_bucket{path=\"a\",le=\"0.005\"} 1\n"
                    "seq_child_ready_seconds_bucket{path=\"a\",le=\"0.010\"} 1\n"
                    "seq_child_ready_seconds_bucket{path=\"a\",le=\"0.025\"} 1\n"
                    "seq_child_ready_seconds_bucket{path=\"a\",le=\"0.050\"} 2\n") != std::string::npos);
    CHECK(text.find("seq_child_ready_seconds_bucket{path=\"a\",le=\"60.000\"} 2\n"
                    "seq_child_ready_seconds_bucket{path=\"a\",le=\"+Inf\"} 3\n"
                    "seq_child_ready_seconds_sum{path=\"a\"} 90.043\n"
                    "seq_child_ready_seconds_count{path=\"a\"} 3\n") != std::string::npos);
    CHECK(text.find("seq_child_ready_seconds_count{path=\"web\"") == std::string::npos);
    CHECK(text.find("seq_child_uptime_seconds{path=\"a\"} 1.500\n") != std::string::npos);
    CHECK(text.find("seq_child_cpu_seconds_total{path=\"a\"} 0.020\n") != std::string::npos);
    CHECK(text.find("seq_child_memory_bytes{path=\"a\"} 4096\n") != std::string::npos);
    CHECK(text.find("seq_child_up{path=\"web\",instance=\"1\"} 0\n") != std::string::npos);
    CHECK(text.find("seq_child_restarts_total{path=\"web\",instance=\"1\"} 4\n") != std::string::npos);
    CHECK(text.find("seq_child_up{path=\"jobs/mail\\\"er\"} 0\n") != std::string::npos);
    CHECK(text.find("seq_supervisor_max_restarts{path=\"/\"} 3\n") != std::string::npos);
    CHECK(text.find("seq_supervisor_restarts_in_window{path=\"jobs\"} 2\n") != std::string::npos);
    CHECK(text.find("seq_supervisor_max_restarts{path=\"a\"}") == std::string::npos);  // a worker is no supervisor
    // A family's samples together: no TYPE line twice.
    std::size_t types = 0;
    for (std::size_t at = 0; (at = text.find("# TYPE seq_child_up ", at)) != std::string::npos; ++at) ++types;
    CHECK(types == 1);
    // No figure a child does not have: no uptime for one not running.
    CHECK(text.find("seq_child_uptime_seconds{path=\"web\"") == std::string::npos);
}

TEST_CASE("readiness: every child running or down for good is ready, anything else is named by its path") {
    auto r = tree();
    auto h = tree_readiness(r);
    CHECK_FALSE(h.ready);
    CHECK(h.body == "web#1: waiting\n");
    r.children[1].instances[1].state = "running";
    h = tree_readiness(r);
    CHECK(h.ready);
    CHECK(h.body == "ready\n");
    r.children[2].children[0].state = "starting";
    r.state = "stopping";
    h = tree_readiness(r);
    CHECK(h.body == "the tree is stopping\njobs/mail\"er: starting\n");
}

TEST_CASE("http addresses: HOST:PORT, a bare port on loopback, a Unix socket's path, and what is none of these") {
    std::string why;
    CHECK(http_address("127.0.0.1:9321", why) == "127.0.0.1:9321");
    CHECK(http_address("9321", why) == "127.0.0.1:9321");
    CHECK(http_address("[::1]:0", why) == "[::1]:0");
    CHECK(http_address("run/http.sock", why) == "run/http.sock");
    CHECK(http_address("/run/seq/http.sock", why) == "/run/seq/http.sock");
    CHECK_FALSE(http_address("localhost:80", why));
    CHECK_FALSE(http_address("99999", why));
    CHECK_FALSE(http_address("", why));
}
