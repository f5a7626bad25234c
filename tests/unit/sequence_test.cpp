// The worker's command rules, without sockets.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "sequence.hpp"

using namespace seq::worker;

namespace {
struct Run {
    bool changed;
    std::string reply;
};
Run run(std::int64_t& value, std::vector<std::string_view> args) {
    std::string out;
    bool changed = apply(classify(args[0]), args, value, out);
    return {changed, out};
}
constexpr auto max = std::numeric_limits<std::int64_t>::max();
}  // namespace

TEST_CASE("the seed's session") {
    std::int64_t v = 0;
    CHECK(run(v, {"INCREMENT", "12"}).reply == ":12\r\n");
    CHECK(run(v, {"NEXT"}).reply == ":12\r\n");
    CHECK(run(v, {"INCREMENT", "3"}).reply == ":16\r\n");
    CHECK(run(v, {"NEXT"}).reply == ":16\r\n");
    CHECK(run(v, {"NEXT"}).reply == ":17\r\n");
    CHECK(v == 18);
    CHECK(run(v, {"GET"}).reply == ":18\r\n");
}

TEST_CASE("command names are case-insensitive") {
    CHECK(classify("next") == Command::next);
    CHECK(classify("NeXt") == Command::next);
    CHECK(classify("INCREMENT") == Command::increment);
    CHECK(classify("get") == Command::get);
    CHECK(classify("nexts") == Command::unknown);
    CHECK(classify("") == Command::unknown);
}

TEST_CASE("NEXT and GET change only what they should") {
    std::int64_t v = -3;
    auto r = run(v, {"next"});
    CHECK(r.changed);
    CHECK(r.reply == ":-3\r\n");
    CHECK(v == -2);
    r = run(v, {"get"});
    CHECK_FALSE(r.changed);
    CHECK(v == -2);
}

TEST_CASE("bad input is refused and the number does not change") {
    std::int64_t v = 40;
    struct Case {
        std::vector<std::string_view> args;
        std::string_view error_part;
    };
    std::vector<Case> cases = {
        {{"INCREMENT"}, "wrong number of arguments for 'increment'"},
        {{"INCREMENT", "1", "2"}, "wrong number of arguments"},
        {{"INCREMENT", "-1"}, "must not be negative"},
        {{"INCREMENT", "abc"}, "must be an integer"},
        {{"INCREMENT", "1.5"}, "must be an integer"},
        {{"INCREMENT", ""}, "must be an integer"},
        {{"INCREMENT", "99999999999999999999"}, "must be an integer"},
        {{"INCREMENT", "9223372036854775807"}, "overflow"},
        {{"NEXT", "1"}, "wrong number of arguments for 'next'"},
        {{"GET", "x"}, "wrong number of arguments for 'get'"},
    };
    for (auto& c : cases) {
        CAPTURE(c.args[0]);
        auto r = run(v, c.args);
        CHECK_FALSE(r.changed);
        CHECK(r.reply.rfind("-ERR ", 0) == 0);
        CHECK(r.reply.find(c.error_part) != std::string::npos);
        CHECK(v == 40);
    }
}

TEST_CASE("the 64-bit edge") {
    std::int64_t v = max - 1;
    CHECK(run(v, {"NEXT"}).reply == ":9223372036854775806\r\n");
    CHECK(v == max);
    auto r = run(v, {"NEXT"});
    CHECK_FALSE(r.changed);
    CHECK(r.reply.find("exhausted") != std::string::npos);
    CHECK(v == max);
    CHECK(run(v, {"INCREMENT", "0"}).reply == ":9223372036854775807\r\n");
    std::int64_t low = std::numeric_limits<std::int64_t>::min();
    CHECK(run(low, {"INCREMENT", "9223372036854775807"}).reply == ":-1\r\n");
}

TEST_CASE("a reservation's mark stops at the 64-bit maximum") {
    CHECK(mark_for(0, 100) == 100);
    CHECK(mark_for(-50, 100) == 50);
    CHECK(mark_for(max - 100, 100) == max);
    CHECK(mark_for(max - 99, 100) == max);
    CHECK(mark_for(max, 1) == max);
    CHECK(mark_for(max - 10, std::numeric_limits<std::int64_t>::max()) == max);
}
