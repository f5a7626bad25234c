// The crash-loop event's decision, with an injected clock.
#include <doctest/doctest.h>

#include "crash_loop.hpp"

using namespace seq::sup;

TEST_CASE("crash loop: the 6th restart within 60 s begins one, said once, and again only after a calm window") {
    CrashLoops loops(5, 60);
    std::uint64_t t = 1'000'000;
    for (int i = 0; i < 5; ++i) CHECK_FALSE(loops.restarted("web", t + i * 1000u));
    auto said = loops.restarted("web", t + 5000);
    REQUIRE(said);
    CHECK(*said == 6);
    // Still looping: not said again.
    for (int i = 6; i < 20; ++i) CHECK_FALSE(loops.restarted("web", t + i * 1000u));
    // Another child has its own count.
    CHECK_FALSE(loops.restarted("db", t + 20000));
    // Slower, 5 or fewer a window: calm, and not said.
    t += 200'000;
    for (int i = 0; i < 10; ++i) CHECK_FALSE(loops.restarted("web", t + i * 15'000u));
    // Then 6 quick ones: a new loop.
    t += 300'000;
    for (int i = 0; i < 5; ++i) CHECK_FALSE(loops.restarted("web", t + i * 100u));
    CHECK(loops.restarted("web", t + 500));
}

TEST_CASE("crash loop: restarts spread wider than the window never begin one, and 0 allowed means the first restart does") {
    CrashLoops loops(5, 60);
    for (std::uint64_t i = 0; i < 50; ++i) CHECK_FALSE(loops.restarted("slow", i * 12'001));
    CrashLoops none(0, 60);
    CHECK(none.restarted("a", 5));
    CHECK_FALSE(none.restarted("a", 6));
    CHECK(none.restarted("a", 60'006));  // a window later
}

TEST_CASE("crash loop: paths that come and go are forgotten once their window is past, not kept for ever") {
    CrashLoops loops(5, 60);
    for (std::size_t i = 0; i < CrashLoops::max_paths; ++i) loops.restarted("dyn/c" + std::to_string(i), 1000);
    CHECK(loops.paths() == CrashLoops::max_paths);
    loops.restarted("dyn/late", 1000 + 60'000);
    CHECK(loops.paths() == 1);
}
