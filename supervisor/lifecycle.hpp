// The life of one process of a child, as a pure decision: a state x event
// table in which every pair is decided (s6-supervise's), for each role a
// process can have. The supervisor feeds it every event of the process
// (its notify fd, its timers, its death, a stop or an activation asked for)
// and carries out the action; the table never sees a clock or a pid, so
// tests walk every pair.
#pragma once

#include <string_view>

namespace seq::sup::lifecycle {

// What the process is for: the child's serving instance; a standby
// started and idle behind it (sequence-protocol(7): STANDBY PROTOCOL); during a
// rollout, a successor started from the new spec beside the active one,
// which takes its place once ready; and the active one it replaced,
// retiring: stopped, serving what it has until it ends; and a rollout's
// migration, a job run once before the new spec's first instance.
enum class Role { active, standby, successor, retiring, migration };

enum class Phase {
    starting,  // forked; waiting for readiness (active) or for "standby" (standby)
    idle,      // a standby that said "standby": may be activated
    running,   // ready and serving
    hung,      // ended as a failure: its watchdog ran out (SIGABRT sent), or it
               // passed its memory limit or failed its health probe (SIGTERM
               // sent); SIGKILL after its grace
    unready,   // not ready within its start timeout: SIGKILL sent
    stopping,  // asked to stop: SIGTERM sent, SIGKILL after its shutdown time
};
inline constexpr Phase phases[] = {Phase::starting, Phase::idle,   Phase::running,
                                   Phase::hung,     Phase::unready, Phase::stopping};

enum class Event {
    ready,             // a newline on its notify fd (active), or READY=1
    said_standby,      // "standby" as its first line (standby)
    said_other,        // another first line: the program does not know the protocol
    start_timeout,     // its start timer ran out
    watchdog_ping,     // WATCHDOG=1
    watchdog_timeout,  // its watchdog timer ran out, or WATCHDOG=trigger
    grace_timeout,     // the time after SIGTERM or SIGABRT is up
    stop,              // the supervisor wants it gone
    activate,          // take this standby into service
    died,              // reaped
    over_limit,        // its processes' memory passed its memory_max
    unhealthy,         // its health probe failed `failures` times in a row
};
inline constexpr Event events[] = {Event::ready,         Event::said_standby,     Event::said_other,
                                   Event::start_timeout, Event::watchdog_ping,    Event::watchdog_timeout,
                                   Event::grace_timeout, Event::stop,             Event::activate,
                                   Event::died,          Event::over_limit,       Event::unhealthy};

enum class Action {
    none,            // nothing: the event means nothing here (a late timer, a second READY=1)
    serve,           // ready: arm the watchdog, start what waits for it
    stand_by,        // idle: stop reading its notify fd until it is activated
    kill_unready,    // SIGKILL: it never became ready
    abort_hung,      // SIGABRT (a core where cores are on), SIGKILL after its grace
    rearm_watchdog,  // the deadline moves on
    terminate,       // SIGTERM (SIGKILL for brutal_kill), SIGKILL after its shutdown time
    kill,            // SIGKILL: its grace is up
    take_over,       // a standby becomes the active instance, starting
    succeed,         // a successor is ready: it becomes the active instance, the old one retires
    refuse_standby,  // stop it, and start no standby for this child again
    reap,            // it is gone: what its death means follows from the phase it was in
    end_over_limit,  // SIGTERM (SIGKILL for brutal_kill), SIGKILL after its shutdown time: a failure
    end_unhealthy,   // the same, for its failed health probe
};

struct Decision {
    Phase next;
    Action action;
    bool operator==(const Decision&) const = default;
};

Decision decide(Role role, Phase phase, Event event);

// What the death of a process in `phase` was, for the child.
enum class Death {
    asked,         // it was being stopped: a stop, or part of a restart plan
    failed_start,  // killed for not becoming ready in time
    hung,          // killed by its watchdog: a crash
    crash,         // ended by itself (exit 0 is a crash only for a permanent child)
};
Death death_in(Phase phase);
// The label a death is counted under (seq_child_deaths_total{reason}):
// "stopped" (asked), "exec_failed", `ended_by` when something of ours ended
// it ("memory_limit", "oom"), "start_timeout", "watchdog", else as it
// ended by itself: "signal", "exit" (a status but 0), "normal" (0).
std::string_view death_reason(Death d, bool exec_failed, int wait_status, std::string_view ended_by);

std::string_view to_string(Phase p);
std::string_view to_string(Event e);
std::string_view to_string(Action a);

}  // namespace seq::sup::lifecycle
