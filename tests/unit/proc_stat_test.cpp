// /proc/PID/stat as the supervisor reads it for what each child uses: the
// fields count from the last ')', as a program's name may hold anything.
#include <doctest/doctest.h>

#include <unistd.h>

#include <string>

#include "process.hpp"

using namespace seq::sup;

namespace {

// A real line's shape: 52 fields, utime 14 to cstime 17, rss 24.
std::string line(const std::string& comm, const std::string& state = "S") {
    return "4242 (" + comm + ") " + state +
           " 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 12345 8421376 321 18446744073709551615 1 1 0 0 0 0 "
           "0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
}

}  // namespace

TEST_CASE("parse_proc_stat: the fields the supervisor sums, whatever the program's name holds") {
    for (std::string comm : {"sleep", "a b", "x) S 9 9 (y", ")", "(", ""}) {
        CAPTURE(comm);
        auto s = parse_proc_stat(line(comm));
        REQUIRE(s);
        CHECK(s->state == 'S');
        CHECK(s->ppid == 1);
        CHECK(s->pgrp == 4242);
        CHECK(s->cpu_ticks == 7 + 3 + 2 + 1);
        CHECK(s->rss_pages == 321);
    }
    CHECK(parse_proc_stat(line("z", "Z"))->state == 'Z');
}

TEST_CASE("parse_proc_stat: a line cut short or malformed at any point is refused, not half read") {
    auto whole = line("sleep");
    // Up to the rss field and the space after it: every shorter prefix lacks a field, or cuts one.
    auto upto = whole.find(" 321 ") + 5;
    for (std::size_t n = 0; n < upto; ++n) {
        CAPTURE(n);
        CHECK_FALSE(parse_proc_stat(whole.substr(0, n)));
    }
    CHECK(parse_proc_stat(whole.substr(0, upto)));
    CHECK_FALSE(parse_proc_stat("4242 (sleep) SS 1 4242"));
    auto bad = whole;
    bad.replace(bad.find(" 7 3 "), 5, " 7x 3 ");
    CHECK_FALSE(parse_proc_stat(bad));
}

TEST_CASE("proc_stat: this process, read from /proc") {
    auto s = proc_stat(getpid());
    REQUIRE(s);
    CHECK(s->state == 'R');
    CHECK(s->ppid == getppid());
    CHECK(s->pgrp == getpgrp());
    CHECK(s->rss_pages > 0);
    CHECK_FALSE(proc_stat(0));
}
