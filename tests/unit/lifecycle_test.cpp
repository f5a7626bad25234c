// The lifecycle table (supervisor/lifecycle.hpp): every phase x event pair of
// each role, against a table written out here by hand, so that a change to
// any one decision fails a check that names the pair.
#include <doctest/doctest.h>

#include <csignal>
#include <map>
#include <string>
#include <tuple>

#include "lifecycle.hpp"

using namespace seq::sup::lifecycle;

namespace {

using Key = std::tuple<Role, Phase, Event>;

// Everything not listed is {the same phase, none}: the event means nothing there.
const std::map<Key, Decision> expected = {
    // The active instance.
    {{Role::active, Phase::starting, Event::ready}, {Phase::running, Action::serve}},
    {{Role::active, Phase::starting, Event::start_timeout}, {Phase::unready, Action::kill_unready}},
    {{Role::active, Phase::starting, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::active, Phase::starting, Event::died}, {Phase::starting, Action::reap}},
    {{Role::active, Phase::running, Event::watchdog_ping}, {Phase::running, Action::rearm_watchdog}},
    {{Role::active, Phase::running, Event::watchdog_timeout}, {Phase::hung, Action::abort_hung}},
    {{Role::active, Phase::running, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::active, Phase::running, Event::died}, {Phase::running, Action::reap}},
    {{Role::active, Phase::hung, Event::grace_timeout}, {Phase::hung, Action::kill}},
    {{Role::active, Phase::hung, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::active, Phase::hung, Event::died}, {Phase::hung, Action::reap}},
    {{Role::active, Phase::unready, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::active, Phase::unready, Event::died}, {Phase::unready, Action::reap}},
    {{Role::active, Phase::stopping, Event::grace_timeout}, {Phase::stopping, Action::kill}},
    {{Role::active, Phase::stopping, Event::died}, {Phase::stopping, Action::reap}},
    // An active instance is never idle; should one be, it can still be stopped and reaped.
    {{Role::active, Phase::idle, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::active, Phase::idle, Event::died}, {Phase::idle, Action::reap}},
    // A standby.
    {{Role::standby, Phase::starting, Event::said_standby}, {Phase::idle, Action::stand_by}},
    {{Role::standby, Phase::starting, Event::said_other}, {Phase::stopping, Action::refuse_standby}},
    {{Role::standby, Phase::starting, Event::start_timeout}, {Phase::unready, Action::kill_unready}},
    {{Role::standby, Phase::starting, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::standby, Phase::starting, Event::died}, {Phase::starting, Action::reap}},
    {{Role::standby, Phase::idle, Event::activate}, {Phase::starting, Action::take_over}},
    {{Role::standby, Phase::idle, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::standby, Phase::idle, Event::died}, {Phase::idle, Action::reap}},
    {{Role::standby, Phase::unready, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::standby, Phase::unready, Event::died}, {Phase::unready, Action::reap}},
    {{Role::standby, Phase::stopping, Event::grace_timeout}, {Phase::stopping, Action::kill}},
    {{Role::standby, Phase::stopping, Event::died}, {Phase::stopping, Action::reap}},
    // A standby is never running or hung (activated, it is the active
    // instance); should one be, it can still be stopped, killed and reaped.
    {{Role::standby, Phase::running, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::standby, Phase::running, Event::died}, {Phase::running, Action::reap}},
    {{Role::standby, Phase::hung, Event::grace_timeout}, {Phase::hung, Action::kill}},
    {{Role::standby, Phase::hung, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::standby, Phase::hung, Event::died}, {Phase::hung, Action::reap}},
    // A successor (a rollout's new instance, beside the active one) takes
    // the active one's place once ready; it is killed if it is not ready
    // in time, and otherwise goes as any instance goes.
    {{Role::successor, Phase::starting, Event::ready}, {Phase::running, Action::succeed}},
    {{Role::successor, Phase::starting, Event::start_timeout}, {Phase::unready, Action::kill_unready}},
    {{Role::successor, Phase::starting, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::successor, Phase::starting, Event::died}, {Phase::starting, Action::reap}},
    {{Role::successor, Phase::unready, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::successor, Phase::unready, Event::died}, {Phase::unready, Action::reap}},
    {{Role::successor, Phase::stopping, Event::grace_timeout}, {Phase::stopping, Action::kill}},
    {{Role::successor, Phase::stopping, Event::died}, {Phase::stopping, Action::reap}},
    {{Role::successor, Phase::running, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::successor, Phase::running, Event::died}, {Phase::running, Action::reap}},
    {{Role::successor, Phase::idle, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::successor, Phase::idle, Event::died}, {Phase::idle, Action::reap}},
    {{Role::successor, Phase::hung, Event::grace_timeout}, {Phase::hung, Action::kill}},
    {{Role::successor, Phase::hung, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::successor, Phase::hung, Event::died}, {Phase::hung, Action::reap}},
    // A retiring instance was stopped when its successor became ready: it
    // only ends (its readiness and watchdog no longer matter).
    {{Role::retiring, Phase::stopping, Event::grace_timeout}, {Phase::stopping, Action::kill}},
    {{Role::retiring, Phase::stopping, Event::died}, {Phase::stopping, Action::reap}},
    {{Role::retiring, Phase::starting, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::retiring, Phase::starting, Event::died}, {Phase::starting, Action::reap}},
    {{Role::retiring, Phase::idle, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::retiring, Phase::idle, Event::died}, {Phase::idle, Action::reap}},
    {{Role::retiring, Phase::running, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::retiring, Phase::running, Event::died}, {Phase::running, Action::reap}},
    {{Role::retiring, Phase::unready, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::retiring, Phase::unready, Event::died}, {Phase::unready, Action::reap}},
    {{Role::retiring, Phase::hung, Event::grace_timeout}, {Phase::hung, Action::kill}},
    {{Role::retiring, Phase::hung, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::retiring, Phase::hung, Event::died}, {Phase::hung, Action::reap}},
    // A migration is a job: it runs (starting) until it ends, or is killed
    // at its start timeout; it is stopped with the rest.
    {{Role::migration, Phase::starting, Event::start_timeout}, {Phase::unready, Action::kill_unready}},
    {{Role::migration, Phase::starting, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::migration, Phase::starting, Event::died}, {Phase::starting, Action::reap}},
    {{Role::migration, Phase::unready, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::migration, Phase::unready, Event::died}, {Phase::unready, Action::reap}},
    {{Role::migration, Phase::stopping, Event::grace_timeout}, {Phase::stopping, Action::kill}},
    {{Role::migration, Phase::stopping, Event::died}, {Phase::stopping, Action::reap}},
    {{Role::migration, Phase::idle, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::migration, Phase::idle, Event::died}, {Phase::idle, Action::reap}},
    {{Role::migration, Phase::running, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::migration, Phase::running, Event::died}, {Phase::running, Action::reap}},
    {{Role::migration, Phase::hung, Event::grace_timeout}, {Phase::hung, Action::kill}},
    {{Role::migration, Phase::hung, Event::stop}, {Phase::stopping, Action::terminate}},
    {{Role::migration, Phase::hung, Event::died}, {Phase::hung, Action::reap}},
    // A failed health probe ends a serving instance as its watchdog would;
    // one starting is not counted (its start timeout bounds it), and any
    // other role is not probed.
    {{Role::active, Phase::running, Event::unhealthy}, {Phase::hung, Action::end_unhealthy}},
};

const char* role_name(Role r) {
    switch (r) {
    case Role::active: return "active";
    case Role::standby: return "standby";
    case Role::successor: return "successor";
    case Role::retiring: return "retiring";
    case Role::migration: return "migration";
    }
    return "?";
}

}  // namespace

TEST_CASE("lifecycle: every phase x event pair of each role is decided as the table says") {
    // Over its memory limit, any process not yet on its way out is ended as
    // a failure; one stopping, hung or unready already is let be.
    auto table = expected;
    for (auto role : {Role::active, Role::standby, Role::successor, Role::retiring, Role::migration})
        for (auto phase : {Phase::starting, Phase::idle, Phase::running})
            table[{role, phase, Event::over_limit}] = {Phase::hung, Action::end_over_limit};
    int pairs = 0;
    for (auto role : {Role::active, Role::standby, Role::successor, Role::retiring, Role::migration})
        for (auto phase : phases)
            for (auto event : events) {
                ++pairs;
                auto it = table.find({role, phase, event});
                Decision want = it != table.end() ? it->second : Decision{phase, Action::none};
                auto got = decide(role, phase, event);
                CAPTURE(role_name(role));
                CAPTURE(to_string(phase));
                CAPTURE(to_string(event));
                CHECK(to_string(got.next) == to_string(want.next));
                CHECK(to_string(got.action) == to_string(want.action));
            }
    CHECK(pairs == 5 * 6 * 12);
}

TEST_CASE("lifecycle: a timer that fires after the phase it was set for has passed does nothing") {
    // The start timeout, once the instance is ready, or already being stopped or killed.
    for (auto phase : {Phase::running, Phase::hung, Phase::unready, Phase::stopping})
        CHECK(decide(Role::active, phase, Event::start_timeout) == Decision{phase, Action::none});
    CHECK(decide(Role::standby, Phase::idle, Event::start_timeout) == Decision{Phase::idle, Action::none});
    // The watchdog, before the instance is ready, or once it is hung or stopping.
    for (auto phase : {Phase::starting, Phase::hung, Phase::stopping, Phase::unready})
        CHECK(decide(Role::active, phase, Event::watchdog_timeout) == Decision{phase, Action::none});
    // A grace, after the instance left the phase that set it (it cannot be running again).
    CHECK(decide(Role::active, Phase::running, Event::grace_timeout) == Decision{Phase::running, Action::none});
    CHECK(decide(Role::active, Phase::starting, Event::grace_timeout) == Decision{Phase::starting, Action::none});
}

TEST_CASE("lifecycle: a death during start, during stop, during activation, and what each one means") {
    // During start: a crash; after its start timeout: a failed start.
    CHECK(decide(Role::active, Phase::starting, Event::died).action == Action::reap);
    CHECK(death_in(Phase::starting) == Death::crash);
    CHECK(death_in(Phase::unready) == Death::failed_start);
    // During a stop asked for: not a crash.
    CHECK(death_in(Phase::stopping) == Death::asked);
    // Killed by its watchdog: a crash, said so.
    CHECK(death_in(Phase::hung) == Death::hung);
    CHECK(death_in(Phase::running) == Death::crash);
    // An activated standby is the active instance, starting: dying before it
    // says it serves is a crash of the child, like any start's.
    auto taken = decide(Role::standby, Phase::idle, Event::activate);
    CHECK(taken == Decision{Phase::starting, Action::take_over});
    CHECK(decide(Role::active, taken.next, Event::died).action == Action::reap);
    CHECK(death_in(taken.next) == Death::crash);
    // A standby cannot be activated before it is idle, nor twice.
    CHECK(decide(Role::standby, Phase::starting, Event::activate).action == Action::none);
    CHECK(decide(Role::active, Phase::starting, Event::activate).action == Action::none);
    // A second READY=1, or a stop asked again, changes nothing.
    CHECK(decide(Role::active, Phase::running, Event::ready) == Decision{Phase::running, Action::none});
    CHECK(decide(Role::active, Phase::stopping, Event::stop) == Decision{Phase::stopping, Action::none});
}

TEST_CASE("lifecycle: the reason a death is counted under, for every kind of death and wait status") {
    const int killed = SIGKILL;           // a raw wait status: killed by signal 9
    const int exited1 = 1 << 8;           // exit status 1
    const int exited0 = 0;                // exit status 0
    const int aborted = SIGABRT | 0x80;   // SIGABRT, core dumped
    CHECK(death_reason(Death::crash, false, killed, "") == "signal");
    CHECK(death_reason(Death::crash, false, aborted, "") == "signal");
    CHECK(death_reason(Death::crash, false, exited1, "") == "exit");
    CHECK(death_reason(Death::crash, false, exited0, "") == "normal");
    // What we asked for, or did, names it whatever the status says.
    CHECK(death_reason(Death::asked, false, killed, "") == "stopped");
    CHECK(death_reason(Death::asked, true, exited1, "memory_limit") == "stopped");
    CHECK(death_reason(Death::crash, true, exited1, "") == "exec_failed");
    CHECK(death_reason(Death::hung, false, killed, "memory_limit") == "memory_limit");
    CHECK(death_reason(Death::crash, false, killed, "oom") == "oom");
    CHECK(death_reason(Death::failed_start, false, killed, "") == "start_timeout");
    CHECK(death_reason(Death::hung, false, aborted, "") == "watchdog");
}
