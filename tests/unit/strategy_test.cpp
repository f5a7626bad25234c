// The supervisor's decisions, without processes: OTP's strategies, restart
// types, and the restart-intensity window driven by an injected clock.
#include <doctest/doctest.h>

#include <vector>

#include "intensity.hpp"
#include "strategy.hpp"

using namespace seq::sup;
using V = std::vector<std::size_t>;

TEST_CASE("one_for_one restarts the dead child alone") {
    for (std::size_t n : {1u, 2u, 4u})
        for (std::size_t dead = 0; dead < n; ++dead) {
            CAPTURE(n);
            CAPTURE(dead);
            auto p = plan_restart(Strategy::one_for_one, n, dead);
            CHECK(p.stop.empty());
            CHECK(p.start == V{dead});
        }
}

TEST_CASE("one_for_all stops the others in reverse order and restarts all in order") {
    CHECK(plan_restart(Strategy::one_for_all, 1, 0).stop == V{});
    CHECK(plan_restart(Strategy::one_for_all, 1, 0).start == V{0});
    CHECK(plan_restart(Strategy::one_for_all, 2, 0).stop == V{1});
    CHECK(plan_restart(Strategy::one_for_all, 2, 1).stop == V{0});
    CHECK(plan_restart(Strategy::one_for_all, 2, 1).start == V{0, 1});
    CHECK(plan_restart(Strategy::one_for_all, 4, 2).stop == V{3, 1, 0});
    CHECK(plan_restart(Strategy::one_for_all, 4, 2).start == V{0, 1, 2, 3});
    CHECK(plan_restart(Strategy::one_for_all, 4, 0).stop == V{3, 2, 1});
}

TEST_CASE("rest_for_one stops the younger ones in reverse order and restarts from the dead one") {
    // The sequence tree: stash (0) then worker (1).
    CHECK(plan_restart(Strategy::rest_for_one, 2, 0).stop == V{1});
    CHECK(plan_restart(Strategy::rest_for_one, 2, 0).start == V{0, 1});
    CHECK(plan_restart(Strategy::rest_for_one, 2, 1).stop == V{});
    CHECK(plan_restart(Strategy::rest_for_one, 2, 1).start == V{1});
    CHECK(plan_restart(Strategy::rest_for_one, 4, 1).stop == V{3, 2});
    CHECK(plan_restart(Strategy::rest_for_one, 4, 1).start == V{1, 2, 3});
    CHECK(plan_restart(Strategy::rest_for_one, 4, 3).stop == V{});
}

TEST_CASE("a dead index out of range plans nothing") {
    for (auto s : {Strategy::one_for_one, Strategy::one_for_all, Strategy::rest_for_one}) {
        auto p = plan_restart(s, 2, 2);
        CHECK(p.stop.empty());
        CHECK(p.start.empty());
    }
}

TEST_CASE("restart types") {
    CHECK(wants_restart(RestartType::permanent, true));
    CHECK(wants_restart(RestartType::permanent, false));
    CHECK_FALSE(wants_restart(RestartType::transient, true));
    CHECK(wants_restart(RestartType::transient, false));
    CHECK_FALSE(wants_restart(RestartType::temporary, true));
    CHECK_FALSE(wants_restart(RestartType::temporary, false));
}

TEST_CASE("names round-trip, and nothing else is accepted") {
    for (auto s : {Strategy::one_for_one, Strategy::one_for_all, Strategy::rest_for_one})
        CHECK(parse_strategy(to_string(s)) == s);
    for (auto t : {RestartType::permanent, RestartType::transient, RestartType::temporary})
        CHECK(parse_restart_type(to_string(t)) == t);
    for (auto bad : {"", "One_for_one", "one-for-one", "one_for_one ", "simple_one_for_one"})
        CHECK_FALSE(parse_strategy(bad));
    CHECK_FALSE(parse_restart_type("Permanent"));
}

TEST_CASE("intensity: more than max restarts within the period is too many") {
    Intensity i(3, 5000);
    CHECK(i.record(0));
    CHECK(i.record(1));
    CHECK(i.record(2));
    CHECK_FALSE(i.record(3));
    CHECK(i.recent(3) == 4);
}

TEST_CASE("intensity: restarts spread out never add up") {
    Intensity i(3, 5000);
    for (std::uint64_t t = 0; t <= 20000; t += 2000) CHECK(i.record(t));
    CHECK(i.recent(20000) == 3);  // 16000, 18000, 20000
}

TEST_CASE("intensity: the window's edge, as OTP's add_restart") {
    Intensity i(1, 5000);
    CHECK(i.record(1000));
    CHECK_FALSE(i.record(6000));  // exactly a period later, the first still counts
    Intensity j(1, 5000);
    CHECK(j.record(1000));
    CHECK(j.record(6001));  // a millisecond more, and it has left the window
    CHECK(j.recent(6001) == 1);
    CHECK(j.recent(11002) == 0);
}

TEST_CASE("intensity: zero restarts allowed gives up at the first") {
    Intensity i(0, 5000);
    CHECK_FALSE(i.record(0));
}

TEST_CASE("intensity: a long quiet time resets the window") {
    Intensity i(2, 1000);
    CHECK(i.record(0));
    CHECK(i.record(10));
    CHECK(i.recent(500) == 2);
    CHECK(i.recent(100000) == 0);
    CHECK(i.record(100000));
    CHECK(i.record(100001));
    CHECK_FALSE(i.record(100002));
}
