// What a supervisor keeps of its children's output and deaths: bounded by
// lines and by bytes, in order, newest deaths first.
#include <doctest/doctest.h>

#include <string>

#include "child_log.hpp"

using namespace seq::sup;

TEST_CASE("recent lines keep the last 1000, in order, and last(n) gives the newest n oldest first") {
    RecentLines r;
    for (int i = 0; i < 2500; ++i) r.add(static_cast<std::uint64_t>(i), 42, Stream::out, "line " + std::to_string(i));
    CHECK(r.size() == RecentLines::max_lines);
    auto last = r.last(3);
    REQUIRE(last.size() == 3);
    CHECK(last[0].text == "line 2497");
    CHECK(last[2].text == "line 2499");
    CHECK(last[2].pid == 42);
    CHECK(r.last(5000).size() == RecentLines::max_lines);
    CHECK(r.last(5000).front().text == "line 1500");
    CHECK(r.last(0).empty());
}

TEST_CASE("last_of gives one process's last lines, oldest first, and none of another's") {
    RecentLines r;
    for (int i = 0; i < 30; ++i) r.add(0, i % 2 ? 7 : 8, Stream::out, "line " + std::to_string(i));
    auto seven = r.last_of(7, 3);
    REQUIRE(seven.size() == 3);
    CHECK(seven[0].text == "line 25");
    CHECK(seven[2].text == "line 29");
    CHECK(r.last_of(8, 100).size() == 15);
    CHECK(r.last_of(9, 5).empty());
}

TEST_CASE("recent lines keep at most 256 KiB of text, whichever bound comes first") {
    RecentLines r;
    const std::string big(900, 'x');
    for (int i = 0; i < 1000; ++i) r.add(0, 1, Stream::out, big + std::to_string(i));
    CHECK(r.bytes() <= RecentLines::max_bytes);
    CHECK(r.size() < 1000);
    CHECK(r.size() >= RecentLines::max_bytes / 904);
    CHECK(r.last(1).front().text == big + "999");
    // One line larger than the bound is still kept: the newest is never dropped.
    RecentLines one;
    one.add(0, 1, Stream::err, std::string(RecentLines::max_bytes + 10, 'y'));
    CHECK(one.size() == 1);
    one.add(0, 1, Stream::out, "next");
    CHECK(one.size() == 1);
    CHECK(one.last(1).front().text == "next");
}

TEST_CASE("deaths keep the last 10, newest first, and count every one by its reason") {
    Deaths d;
    for (int i = 0; i < 15; ++i)
        d.add({static_cast<std::uint64_t>(i), i, "exit status " + std::to_string(i), 0, {}, i % 3 ? "exit" : "signal"});
    d.add({15, 15, "?", 0, {}, ""});
    REQUIRE(d.newest_first().size() == Deaths::keep);
    CHECK(d.newest_first().front().why == "?");
    CHECK(d.newest_first().back().why == "exit status 6");
    CHECK(d.by_reason() == std::map<std::string, std::uint64_t, std::less<>>{{"exit", 10}, {"signal", 5}, {"unknown", 1}});
}

TEST_CASE("a line is its time (RFC 3339, UTC, milliseconds), its stream, path and pid, then its text") {
    CHECK(rfc3339(0) == "1970-01-01T00:00:00.000Z");
    CHECK(rfc3339(1796618352356) == "2026-12-07T04:39:12.356Z");
    CHECK(format_line({1796618352356, 4242, Stream::out, "hello"}, "web/http") ==
          "2026-12-07T04:39:12.356Z out web/http[4242] hello");
    CHECK(format_line({1796618352356, 4242, Stream::err, "oops"}, "web/http") ==
          "2026-12-07T04:39:12.356Z err web/http[4242] oops");
}
