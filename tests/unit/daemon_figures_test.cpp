// What the supervisor makes of the stash's and workers' INFO for /metrics,
// and which children it asks: pure functions, tested without sockets.
#include <doctest/doctest.h>

#include <string>

#include "command_counts.hpp"
#include "daemon_figures.hpp"

using namespace seq::sup;

namespace {

ChildSpec worker_spec(std::string name, std::string program, std::vector<SocketSpec> sockets) {
    ChildSpec c;
    c.name = std::move(name);
    c.command = {program};
    c.program = program;
    c.sockets = std::move(sockets);
    return c;
}

}  // namespace

TEST_CASE("command counts: each known name, whatever its case, but not made-up names and long ones not counted") {
    std::vector<std::string_view> known{"get", "set", "info"};
    seq::CommandCounts calls(known);
    calls.count("GET");
    calls.count("get");
    calls.count("Set");
    calls.count("flushall");
    calls.count(std::string(100, 'g'));
    CHECK(calls.of("get") == 2);
    CHECK(calls.of("set") == 1);
    CHECK(calls.of("flushall") == 0);
    std::string info;
    calls.append_info(info);
    CHECK(info == "cmdstat_get:calls=2\r\ncmdstat_set:calls=1\r\n");
}

TEST_CASE("parse_info: fields by name, sections and blank lines skipped, CRLF or LF") {
    auto f = parse_info("# Server\r\nprocess_id:42\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=0\r\nodd line\nx:1:2\n:no\n");
    CHECK(f.size() == 3);
    CHECK(f["process_id"] == "42");
    CHECK(f["db0"] == "keys=3,expires=0");
    CHECK(f["x"] == "1:2");
    CHECK(parse_info("").empty());
}

TEST_CASE("daemon_metrics_text: keys, commands by name, commit times in bound order, NEXT served") {
    std::map<std::string, DaemonInfo> figures;
    figures["stash"] = {DaemonTarget::Kind::stash,
                        parse_info("db0:keys=7,expires=0\r\ncmdstat_get:calls=2\r\ncmdstat_set:calls=5\r\ncommits:3\r\n"
                                   "commit_usec_sum:1500\r\ncommit_usec_le_1000:2\r\ncommit_usec_le_250:1\r\n"
                                   "commit_usec_le_1000000:3\r\n")};
    figures["jobs/worker"] = {DaemonTarget::Kind::worker, parse_info("next_served:12\r\ncommits_done:4\r\n")};
    figures["empty"] = {DaemonTarget::Kind::stash, parse_info("")};
    auto m = daemon_metrics_text(figures);
    INFO(m);
    CHECK(m.find("seq_stash_keys{path=\"stash\"} 7\n") != std::string::npos);
    CHECK(m.find("seq_stash_keys{path=\"empty\"} 0\n") != std::string::npos);
    CHECK(m.find("seq_stash_commands_total{path=\"stash\",command=\"set\"} 5\n") != std::string::npos);
    auto b250 = m.find("seq_stash_commit_seconds_bucket{path=\"stash\",le=\"0.00025\"} 1\n");
    auto b1000 = m.find("seq_stash_commit_seconds_bucket{path=\"stash\",le=\"0.001\"} 2\n");
    auto b1s = m.find("seq_stash_commit_seconds_bucket{path=\"stash\",le=\"1\"} 3\n");
    auto inf = m.find("seq_stash_commit_seconds_bucket{path=\"stash\",le=\"+Inf\"} 3\n");
    CHECK(b250 < b1000);
    CHECK(b1000 < b1s);
    CHECK(b1s < inf);
    CHECK(inf != std::string::npos);
    CHECK(m.find("seq_stash_commit_seconds_sum{path=\"stash\"} 0.001500\n") != std::string::npos);
    CHECK(m.find("seq_stash_commit_seconds_count{path=\"stash\"} 3\n") != std::string::npos);
    CHECK(m.find("seq_worker_next_total{path=\"jobs/worker\"} 12\n") != std::string::npos);
    CHECK(m.find("# TYPE seq_stash_commit_seconds histogram\n") != std::string::npos);
    CHECK(daemon_metrics_text({}).empty());
}

TEST_CASE("daemon_targets: seq-stash and seq-worker children at every depth, by their first Unix socket, but not pools nor others") {
    SupervisorSpec s;
    s.children.push_back(worker_spec("stash", "/usr/bin/seq-stash", {unix_socket("stash", "stash.sock")}));
    s.children.push_back(worker_spec("other", "/bin/sleep", {unix_socket("x", "x.sock")}));
    auto pool = worker_spec("pool", "/usr/bin/seq-worker", {unix_socket("p", "p.sock")});
    pool.instances = 2;
    s.children.push_back(pool);
    ChildSpec mid;
    mid.name = "mid";
    mid.type = ChildType::supervisor;
    SocketSpec tcp;
    tcp.name = "t";
    tcp.listen = "127.0.0.1:0";
    mid.sub.children.push_back(worker_spec("w", "/opt/seq-worker", {tcp, unix_socket("w", "/abs/w.sock")}));
    s.children.push_back(mid);
    auto t = daemon_targets(s, "/run/seq", "pw");
    REQUIRE(t.size() == 2);
    CHECK(t[0] == DaemonTarget{"stash", DaemonTarget::Kind::stash, "/run/seq/stash.sock", "pw"});
    CHECK(t[1] == DaemonTarget{"mid/w", DaemonTarget::Kind::worker, "/abs/w.sock", ""});
}
