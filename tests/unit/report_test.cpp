// The tree's state as a typed value (supervisor/report.hpp): to RESP and
// back, through the wire format, and what is refused on the way in.
#include <doctest/doctest.h>

#include <string>

#include "report.hpp"

using namespace seq::sup;
using seq::resp::Value;

namespace {

TreeReport sample() {
    TreeReport r;
    r.strategy = "rest_for_one";
    r.max_restarts = 3;
    r.max_seconds = 5;
    r.restarts_in_window = 1;
    r.pid = 4491;
    r.state = "running";
    ChildReport web;
    web.name = "web";
    web.type = "worker";
    web.pid = 4494;
    web.state = "running";
    web.restarts = 2;
    web.spawns = 3;
    web.last_start = "request";
    web.last_exit = "killed by SIGKILL";
    web.uptime_ms = 3000;
    web.sockets = {{"http", "127.0.0.1:41234"}, {"admin", "/run/x/admin.sock"}};
    web.standby_kept = true;
    web.standby = 4502;
    web.settled = true;
    web.generation = 3;
    web.rollout = "new";
    web.surge_pid = 4510;
    web.draining = {4490, 4491};
    web.upgrade = "rolling out generation 3: 1 of 1 on it";
    ChildReport jobs;
    jobs.name = "jobs";
    jobs.type = "supervisor";
    jobs.state = "stopped";
    jobs.stopped_by = "request";
    jobs.strategy = "one_for_all";
    jobs.max_restarts = 2;
    jobs.max_seconds = 9;
    ChildReport mailer;
    mailer.name = "mailer";
    mailer.type = "worker";
    mailer.state = "waiting";
    mailer.restart_in_ms = 1600;
    mailer.busy = true;
    jobs.children.push_back(mailer);
    r.children = {web, jobs};
    return r;
}

std::string wire(const TreeReport& r) {
    std::string out;
    append_report(out, r);
    return out;
}

Value parse(const std::string& bytes) {
    seq::resp::ReplyParser p;
    Value v;
    REQUIRE(p.parse(bytes, v) == seq::resp::Status::ok);
    return v;
}

}  // namespace

TEST_CASE("report: to RESP and back, through the wire, is the same report, nested children and nulls included") {
    auto r = sample();
    auto bytes = wire(r);
    auto back = from_resp(parse(bytes));
    REQUIRE(back);
    CHECK(wire(*back) == bytes);
    auto* mailer = find_child(back->children, "jobs/mailer");
    REQUIRE(mailer);
    CHECK(mailer->restart_in_ms == 1600);
    CHECK_FALSE(mailer->pid);
    CHECK(back->children[0].standby == 4502);
    CHECK(back->children[0].generation == 3);
    CHECK(back->children[0].rollout == "new");
    CHECK(back->children[0].surge_pid == 4510);
    CHECK(back->children[0].draining == std::vector<std::int64_t>{4490, 4491});
    CHECK(back->children[0].upgrade == r.children[0].upgrade);
    CHECK(back->children[1].generation == 1);
    CHECK_FALSE(back->children[1].rollout);
    CHECK(back->children[0].sockets == r.children[0].sockets);
    CHECK(back->children[1].sockets.empty());
    CHECK_FALSE(back->children[1].standby_kept);  // no standby key: its spec keeps none
    CHECK(find_child(back->children, "jobs/nobody") == nullptr);
    CHECK(find_child(back->children, "web/x") == nullptr);
    CHECK_FALSE(settled(*back));  // jobs is not settled
    CHECK(busy(*back) == false);  // only a child's own busy counts at this level
    age(back->children, 500);
    CHECK(back->children[0].uptime_ms == 3500);
}

TEST_CASE("report: what is not a tree's state is refused, and a field it does not know is passed over") {
    CHECK_FALSE(from_resp(parse("+OK\r\n")));
    CHECK_FALSE(from_resp(parse("*1\r\n*0\r\n")));
    CHECK_FALSE(from_resp(parse("*2\r\n*0\r\n:1\r\n")));                              // children not an array
    CHECK_FALSE(from_resp(parse("*2\r\n*1\r\n$3\r\npid\r\n*0\r\n")));                  // an odd key/value array
    CHECK_FALSE(from_resp(parse("*2\r\n*2\r\n$3\r\npid\r\n$1\r\nx\r\n*0\r\n")));       // pid not a number
    CHECK_FALSE(from_resp(parse("*2\r\n*0\r\n*1\r\n*2\r\n$4\r\nname\r\n:5\r\n")));    // a name that is a number
    CHECK_FALSE(from_resp(parse("*2\r\n*0\r\n*1\r\n*2\r\n$8\r\nchildren\r\n:5\r\n")));  // children of a child
    CHECK_FALSE(from_resp(parse("*2\r\n*0\r\n*1\r\n*2\r\n$7\r\nsockets\r\n:5\r\n")));   // sockets not an array
    CHECK_FALSE(from_resp(parse("*2\r\n*0\r\n*1\r\n*2\r\n$7\r\nsockets\r\n*1\r\n*2\r\n$4\r\nname\r\n:1\r\n")));
    auto r = from_resp(parse("*2\r\n*2\r\n$6\r\nfuture\r\n:7\r\n*1\r\n*4\r\n$4\r\nname\r\n$1\r\na\r\n$3\r\nnew\r\n*0\r\n"));
    REQUIRE(r);
    REQUIRE(r->children.size() == 1);
    CHECK(r->children[0].name == "a");
}
