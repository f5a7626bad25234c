// Which signals seqctl signal may send, and how they may be named.
#include <doctest/doctest.h>
#include <signal.h>

#include "process.hpp"

using seq::sup::parse_child_signal;

TEST_CASE("parse_child_signal: HUP INT QUIT KILL USR1 USR2 TERM, by name in any case, with or without SIG, or number") {
    CHECK(parse_child_signal("HUP") == SIGHUP);
    CHECK(parse_child_signal("sighup") == SIGHUP);
    CHECK(parse_child_signal("SigUsr1") == SIGUSR1);
    CHECK(parse_child_signal("usr2") == SIGUSR2);
    CHECK(parse_child_signal("INT") == SIGINT);
    CHECK(parse_child_signal("QUIT") == SIGQUIT);
    CHECK(parse_child_signal("KILL") == SIGKILL);
    CHECK(parse_child_signal("TERM") == SIGTERM);
    CHECK(parse_child_signal("15") == SIGTERM);
    CHECK(parse_child_signal("9") == SIGKILL);
    CHECK(parse_child_signal("10") == SIGUSR1);
    // Anything else is refused: other signals, malformed names and numbers.
    for (auto bad : {"", "SIG", "STOP", "SIGSTOP", "CONT", "WINCH", "0", "19", "-9", "9x", " 9", "TERM ", "SIGSIGTERM",
                     "USR1USR1", "TERMINATE_THE_CHILD_NOW_PLEASE"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_child_signal(bad));
    }
}
