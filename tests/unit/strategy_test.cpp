// The supervisor's decisions, without processes: OTP's strategies, restart
// types, and the restart-intensity window driven by an injected clock.
// Expectations follow Erlang's supervisor documentation (supervisor.erl).
#include <doctest/doctest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "backoff.hpp"
#include "intensity.hpp"
#include "strategy.hpp"

using namespace seq::sup;
using V = std::vector<std::size_t>;

namespace {

struct Case {
    std::size_t count;
    std::size_t dead;
    V stop;
    V start;
};

void check_plans(Strategy s, const std::vector<Case>& cases) {
    for (const auto& c : cases) {
        CAPTURE(to_string(s));
        CAPTURE(c.count);
        CAPTURE(c.dead);
        const Plan p = plan_restart(s, c.count, c.dead);
        CHECK(p.stop == c.stop);
        CHECK(p.start == c.start);
    }
}

}  // namespace

// ---------------------------------------------------------------- plans

TEST_CASE("one_for_one restarts the dead child alone and stops nothing") {
    check_plans(Strategy::one_for_one, {
        {1, 0, {}, {0}},
        {2, 0, {}, {0}},
        {2, 1, {}, {1}},
        {4, 0, {}, {0}},
        {4, 1, {}, {1}},
        {4, 2, {}, {2}},
        {4, 3, {}, {3}},
    });
}

TEST_CASE("one_for_all stops every other child in reverse start order, then starts all in order") {
    check_plans(Strategy::one_for_all, {
        {1, 0, {}, {0}},
        {2, 0, {1}, {0, 1}},
        {2, 1, {0}, {0, 1}},
        {4, 0, {3, 2, 1}, {0, 1, 2, 3}},
        {4, 1, {3, 2, 0}, {0, 1, 2, 3}},
        {4, 2, {3, 1, 0}, {0, 1, 2, 3}},
        {4, 3, {2, 1, 0}, {0, 1, 2, 3}},
    });
}

TEST_CASE("rest_for_one stops the children started after the dead one in reverse, then starts dead..last") {
    check_plans(Strategy::rest_for_one, {
        {1, 0, {}, {0}},
        {2, 0, {1}, {0, 1}},
        {2, 1, {}, {1}},
        {4, 0, {3, 2, 1}, {0, 1, 2, 3}},
        {4, 1, {3, 2}, {1, 2, 3}},
        {4, 2, {3}, {2, 3}},
        {4, 3, {}, {3}},
    });
}

TEST_CASE("the dead child is never in the stop list and always in the start list") {
    for (auto s : {Strategy::one_for_one, Strategy::one_for_all, Strategy::rest_for_one})
        for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{4}})
            for (std::size_t dead = 0; dead < n; ++dead) {
                CAPTURE(to_string(s));
                CAPTURE(n);
                CAPTURE(dead);
                const Plan p = plan_restart(s, n, dead);
                for (auto i : p.stop) CHECK(i != dead);
                std::size_t seen = 0;
                for (auto i : p.start) seen += i == dead;
                CHECK(seen == 1);
            }
}

TEST_CASE("an instance of a pool is started again alone, under every strategy: the pool is one child to its siblings") {
    for (auto s : {Strategy::one_for_one, Strategy::one_for_all, Strategy::rest_for_one}) {
        CAPTURE(to_string(s));
        for (std::size_t dead = 0; dead < 5; ++dead) {
            auto p = plan_restart(s, 5, dead, true);
            CHECK(p.stop.empty());
            CHECK(p.start == V{dead});
        }
        CHECK(plan_restart(s, 5, 5, true).start.empty());
    }
    // Not pooled, the same death under one_for_all stops and starts them all.
    CHECK(plan_restart(Strategy::one_for_all, 5, 2, false).start == V{0, 1, 2, 3, 4});
}

TEST_CASE("a dead index out of range plans nothing") {
    for (auto s : {Strategy::one_for_one, Strategy::one_for_all, Strategy::rest_for_one}) {
        CAPTURE(to_string(s));
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{4}})
            for (std::size_t dead : {n, n + 1, n + 100, static_cast<std::size_t>(-1)}) {
                CAPTURE(n);
                CAPTURE(dead);
                const Plan p = plan_restart(s, n, dead);
                CHECK(p.stop.empty());
                CHECK(p.start.empty());
            }
    }
}

// ---------------------------------------------------------- restart types

TEST_CASE("permanent is always restarted") {
    CHECK(wants_restart(RestartType::permanent, true));
    CHECK(wants_restart(RestartType::permanent, false));
}

TEST_CASE("transient is restarted only after an abnormal exit") {
    CHECK_FALSE(wants_restart(RestartType::transient, true));
    CHECK(wants_restart(RestartType::transient, false));
}

TEST_CASE("temporary is never restarted") {
    CHECK_FALSE(wants_restart(RestartType::temporary, true));
    CHECK_FALSE(wants_restart(RestartType::temporary, false));
}

// ------------------------------------------------------------------ names

TEST_CASE("strategy names") {
    CHECK(to_string(Strategy::one_for_one) == "one_for_one");
    CHECK(to_string(Strategy::one_for_all) == "one_for_all");
    CHECK(to_string(Strategy::rest_for_one) == "rest_for_one");
    CHECK(parse_strategy("one_for_one") == Strategy::one_for_one);
    CHECK(parse_strategy("one_for_all") == Strategy::one_for_all);
    CHECK(parse_strategy("rest_for_one") == Strategy::rest_for_one);
    for (auto s : {Strategy::one_for_one, Strategy::one_for_all, Strategy::rest_for_one})
        CHECK(parse_strategy(to_string(s)) == s);
}

TEST_CASE("restart type names") {
    CHECK(to_string(RestartType::permanent) == "permanent");
    CHECK(to_string(RestartType::transient) == "transient");
    CHECK(to_string(RestartType::temporary) == "temporary");
    CHECK(parse_restart_type("permanent") == RestartType::permanent);
    CHECK(parse_restart_type("transient") == RestartType::transient);
    CHECK(parse_restart_type("temporary") == RestartType::temporary);
    for (auto t : {RestartType::permanent, RestartType::transient, RestartType::temporary})
        CHECK(parse_restart_type(to_string(t)) == t);
}

TEST_CASE("unknown names are rejected") {
    for (std::string_view bad : {"", "One_for_one", "one-for-one", "ONE_FOR_ONE", " one_for_one",
                                 "one_for_one ", "one_for", "simple_one_for_one", "permanent"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_strategy(bad).has_value());
    }
    for (std::string_view bad : {"", "Permanent", "PERMANENT", "permanent ", "perm", "one_for_one"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_restart_type(bad).has_value());
    }
}

// -------------------------------------------------------------- intensity

TEST_CASE("intensity keeps its settings") {
    Intensity i(3, 5000);
    CHECK(i.max_restarts() == 3);
    CHECK(i.period_ms() == 5000);
    CHECK(i.recent(0) == 0);
}

TEST_CASE("intensity: max 3 in 5000 ms, the 4th restart in a burst is too many") {
    Intensity i(3, 5000);
    CHECK(i.record(0));
    CHECK(i.recent(0) == 1);
    CHECK(i.record(1));
    CHECK(i.recent(1) == 2);
    CHECK(i.record(2));
    CHECK(i.recent(2) == 3);
    CHECK_FALSE(i.record(3));
    CHECK(i.recent(3) == 4);
}

TEST_CASE("intensity: restarts spread so old ones leave the window are fine") {
    Intensity i(3, 5000);
    CHECK(i.record(0));
    CHECK(i.record(2000));
    CHECK(i.record(4000));
    CHECK(i.recent(4000) == 3);  // 0, 2000, 4000
    CHECK(i.record(6000));       // 0 is 6000 old: gone
    CHECK(i.recent(6000) == 3);  // 2000, 4000, 6000
    CHECK(i.record(8000));
    CHECK(i.recent(8000) == 3);  // 4000, 6000, 8000
    for (std::uint64_t t = 10000; t <= 30000; t += 2000) {
        CAPTURE(t);
        CHECK(i.record(t));
        CHECK(i.recent(t) == 3);
    }
}

TEST_CASE("intensity: a restart exactly one period old still counts (OTP keeps R >= Now - Period)") {
    Intensity i(3, 5000);
    CHECK(i.record(0));
    CHECK(i.record(1));
    CHECK(i.record(2));
    CHECK(i.recent(5000) == 3);   // t=0 is exactly 5000 old: still in
    CHECK_FALSE(i.record(5000));  // so this is the 4th in the window
    CHECK(i.recent(5000) == 4);
}

TEST_CASE("intensity: a restart one period + 1 ms old no longer counts") {
    Intensity i(3, 5000);
    CHECK(i.record(0));
    CHECK(i.record(1));
    CHECK(i.record(2));
    CHECK(i.recent(5001) == 2);  // t=0 is 5001 old: out; 1 and 2 still in
    CHECK(i.record(5001));       // 1, 2, 5001
    CHECK(i.recent(5001) == 3);
    CHECK(i.recent(5002) == 2);  // t=1 leaves too
}

TEST_CASE("intensity: the edge with max 1") {
    Intensity i(1, 5000);
    CHECK(i.record(1000));
    CHECK_FALSE(i.record(6000));  // exactly a period later: the first still counts
    Intensity j(1, 5000);
    CHECK(j.record(1000));
    CHECK(j.record(6001));  // a millisecond more, and it has left the window
    CHECK(j.recent(6001) == 1);
    CHECK(j.recent(11001) == 1);
    CHECK(j.recent(11002) == 0);
}

TEST_CASE("intensity: max 0 means the first restart already exceeds") {
    Intensity i(0, 5000);
    CHECK_FALSE(i.record(0));
    Intensity j(0, 5000);
    CHECK_FALSE(j.record(123456));
}

TEST_CASE("intensity: a long quiet time resets the window") {
    Intensity i(3, 5000);
    CHECK(i.record(0));
    CHECK(i.record(1));
    CHECK(i.record(2));
    CHECK(i.recent(2) == 3);
    CHECK(i.recent(100000) == 0);
    CHECK(i.record(100000));
    CHECK(i.record(100001));
    CHECK(i.record(100002));
    CHECK_FALSE(i.record(100003));

    // Also without looking in between: the quiet time alone forgets the burst.
    Intensity j(2, 1000);
    CHECK(j.record(0));
    CHECK(j.record(10));
    CHECK(j.record(50000));
    CHECK(j.recent(50000) == 1);
    CHECK(j.record(50001));
    CHECK_FALSE(j.record(50002));
}

// ---------------------------------------------------------------- backoff


TEST_CASE("backoff: no delay by default, however often the child dies") {
    Backoff b;
    BackoffSpec s;  // initial 0
    for (int i = 0; i < 10; ++i) CHECK(b.next(s, 0) == 0);
}

TEST_CASE("backoff: grows by its factor up to its max while the child keeps crashing at once") {
    Backoff b;
    BackoffSpec s{100, 2.0, 1000, 10000};
    std::vector<std::uint64_t> got;
    for (int i = 0; i < 7; ++i) got.push_back(b.next(s, 5));
    CHECK(got == std::vector<std::uint64_t>{100, 200, 400, 800, 1000, 1000, 1000});
    BackoffSpec slow{300, 1.5, 100000, 10000};
    Backoff c;
    CHECK(c.next(slow, 0) == 300);
    CHECK(c.next(slow, 0) == 450);
    CHECK(c.next(slow, 0) == 675);
}

TEST_CASE("backoff: forgives a child that stayed up for reset_after, and only then") {
    Backoff b;
    BackoffSpec s{100, 2.0, 30000, 10000};
    CHECK(b.next(s, 0) == 100);
    CHECK(b.next(s, 0) == 200);
    CHECK(b.next(s, 9999) == 400);   // just short of reset_after: still growing
    CHECK(b.next(s, 10000) == 100);  // exactly reset_after: back to the start
    CHECK(b.next(s, 50) == 200);
}

TEST_CASE("backoff: an initial delay above max is held to max, a factor of 1 is a fixed delay") {
    Backoff b;
    CHECK(b.next(BackoffSpec{5000, 2.0, 1000, 10000}, 0) == 1000);
    Backoff c;
    BackoffSpec fixed{250, 1.0, 30000, 10000};
    for (int i = 0; i < 5; ++i) CHECK(c.next(fixed, 0) == 250);
}
