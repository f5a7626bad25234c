// A tree's events as seqctl events prints them and EVENTS sends them, and
// the bound on those kept.
#include <doctest/doctest.h>

#include <string>

#include "resp.hpp"
#include "tree_events.hpp"

using namespace seq::sup;

namespace {

seq::resp::Value parsed(const std::string& wire) {
    seq::resp::ReplyParser p;
    seq::resp::Value v;
    REQUIRE(p.parse(wire, v) == seq::resp::Status::ok);
    CHECK(p.consumed() == wire.size());
    return v;
}

}  // namespace

TEST_CASE("tree events: a line for people, and pairs for JSON with only the fields the event has") {
    TreeEvent exited{1796666401123, "exited", "mid/low/leaf", 42, "signal", "killed by SIGKILL", 3250};
    CHECK(event_line(exited) == "2026-12-07T18:00:01.123Z exited mid/low/leaf (pid 42): killed by SIGKILL after 3.2s [signal]");
    std::string wire;
    append_event(wire, exited);
    auto v = parsed(wire);
    REQUIRE(v.elems.size() == 2);
    CHECK(v.elems[0].str == event_line(exited));
    auto& kv = v.elems[1].elems;
    REQUIRE(kv.size() == 14);
    CHECK(kv[0].str == "time");
    CHECK(kv[1].str == "2026-12-07T18:00:01.123Z");
    CHECK(kv[3].str == "exited");
    CHECK(kv[5].str == "mid/low/leaf");
    CHECK(kv[7].integer == 42);
    CHECK(kv[9].str == "signal");
    CHECK(kv[11].str == "killed by SIGKILL");
    CHECK(kv[12].str == "uptime_ms");
    CHECK(kv[13].integer == 3250);

    TreeEvent stop{1796666401123, "stop_requested", "web", 0, "", "", -1};
    CHECK(event_line(stop) == "2026-12-07T18:00:01.123Z stop_requested web");
    wire.clear();
    append_event(wire, stop);
    CHECK(parsed(wire).elems[1].elems.size() == 6);
    TreeEvent ready{1796666401123, "ready", "web#2", 7, "", "", 15};
    CHECK(event_line(ready) == "2026-12-07T18:00:01.123Z ready web#2 (pid 7) in 15 ms");
    wire.clear();
    append_event(wire, ready);
    CHECK(parsed(wire).elems[1].elems[8].str == "ready_ms");
}

TEST_CASE("tree events: the last 1000 are kept, and a path filters them, oldest first") {
    RecentEvents kept;
    for (int i = 0; i < 1500; ++i) kept.add({static_cast<std::uint64_t>(i), "ready", i % 2 ? "a" : "b", i, "", "", 0});
    auto all = kept.last(5000, [](std::string_view) { return true; });
    REQUIRE(all.size() == RecentEvents::keep);
    CHECK(all.front()->pid == 500);
    CHECK(all.back()->pid == 1499);
    auto a = kept.last(3, [](std::string_view p) { return p == "a"; });
    REQUIRE(a.size() == 3);
    CHECK(a[0]->pid == 1495);
    CHECK(a[2]->pid == 1499);
}
