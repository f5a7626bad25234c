#include "lifecycle.hpp"

#include <sys/wait.h>

namespace seq::sup::lifecycle {

namespace {

// Whatever the phase: a stop, a death, and a grace that is up.
Decision common(Phase phase, Event event) {
    switch (event) {
    case Event::died: return {phase, Action::reap};
    case Event::stop:
        // Already on its way out at our asking: nothing more to ask.
        if (phase == Phase::stopping) return {phase, Action::none};
        return {Phase::stopping, Action::terminate};
    case Event::grace_timeout:
        // Only a phase that set a grace has one to be up; a timer from a
        // phase already left is late and means nothing.
        if (phase == Phase::stopping || phase == Phase::hung) return {phase, Action::kill};
        return {phase, Action::none};
    case Event::over_limit:
        // A failure, whatever its role, unless it is on its way out already.
        if (phase == Phase::starting || phase == Phase::idle || phase == Phase::running)
            return {Phase::hung, Action::end_over_limit};
        return {phase, Action::none};
    default: return {phase, Action::none};
    }
}

Decision active(Phase phase, Event event) {
    switch (phase) {
    case Phase::starting:
        if (event == Event::ready) return {Phase::running, Action::serve};
        if (event == Event::start_timeout) return {Phase::unready, Action::kill_unready};
        break;
    case Phase::running:
        if (event == Event::watchdog_ping) return {phase, Action::rearm_watchdog};
        if (event == Event::watchdog_timeout) return {Phase::hung, Action::abort_hung};
        // Probed only once it serves (or to find that it does): a failed
        // probe ends it as a watchdog would.
        if (event == Event::unhealthy) return {Phase::hung, Action::end_unhealthy};
        break;
    default: break;
    }
    return common(phase, event);
}

Decision standby(Phase phase, Event event) {
    switch (phase) {
    case Phase::starting:
        if (event == Event::said_standby) return {Phase::idle, Action::stand_by};
        if (event == Event::said_other) return {Phase::stopping, Action::refuse_standby};
        if (event == Event::start_timeout) return {Phase::unready, Action::kill_unready};
        break;
    case Phase::idle:
        if (event == Event::activate) return {Phase::starting, Action::take_over};
        break;
    default: break;
    }
    return common(phase, event);
}

// Started beside the active instance, it serves once ready, in its place.
// Until then it is watched as an active one starts; it never idles.
Decision successor(Phase phase, Event event) {
    if (phase == Phase::starting) {
        if (event == Event::ready) return {Phase::running, Action::succeed};
        if (event == Event::start_timeout) return {Phase::unready, Action::kill_unready};
    }
    return common(phase, event);
}

}  // namespace

Decision decide(Role role, Phase phase, Event event) {
    switch (role) {
    case Role::active: return active(phase, event);
    case Role::standby: return standby(phase, event);
    case Role::successor: return successor(phase, event);
    // Only ever stopping: what is left is its end.
    case Role::retiring: return common(phase, event);
    // A job: it runs until it ends, or until its start timeout kills it.
    case Role::migration:
        if (phase == Phase::starting && event == Event::start_timeout) return {Phase::unready, Action::kill_unready};
        return common(phase, event);
    }
    return common(phase, event);
}

Death death_in(Phase phase) {
    switch (phase) {
    case Phase::stopping: return Death::asked;
    case Phase::unready: return Death::failed_start;
    case Phase::hung: return Death::hung;
    default: return Death::crash;
    }
}

std::string_view death_reason(Death d, bool exec_failed, int wait_status, std::string_view ended_by) {
    if (d == Death::asked) return "stopped";
    if (exec_failed) return "exec_failed";
    if (!ended_by.empty()) return ended_by;
    if (d == Death::failed_start) return "start_timeout";
    if (d == Death::hung) return "watchdog";
    if (WIFSIGNALED(wait_status)) return "signal";
    return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0 ? "normal" : "exit";
}

std::string_view to_string(Phase p) {
    switch (p) {
    case Phase::starting: return "starting";
    case Phase::idle: return "idle";
    case Phase::running: return "running";
    case Phase::hung: return "hung";
    case Phase::unready: return "unready";
    case Phase::stopping: return "stopping";
    }
    return "?";
}

std::string_view to_string(Event e) {
    switch (e) {
    case Event::ready: return "ready";
    case Event::said_standby: return "said_standby";
    case Event::said_other: return "said_other";
    case Event::start_timeout: return "start_timeout";
    case Event::watchdog_ping: return "watchdog_ping";
    case Event::watchdog_timeout: return "watchdog_timeout";
    case Event::grace_timeout: return "grace_timeout";
    case Event::stop: return "stop";
    case Event::activate: return "activate";
    case Event::died: return "died";
    case Event::over_limit: return "over_limit";
    case Event::unhealthy: return "unhealthy";
    }
    return "?";
}

std::string_view to_string(Action a) {
    switch (a) {
    case Action::none: return "none";
    case Action::serve: return "serve";
    case Action::stand_by: return "stand_by";
    case Action::kill_unready: return "kill_unready";
    case Action::abort_hung: return "abort_hung";
    case Action::rearm_watchdog: return "rearm_watchdog";
    case Action::terminate: return "terminate";
    case Action::kill: return "kill";
    case Action::take_over: return "take_over";
    case Action::succeed: return "succeed";
    case Action::refuse_standby: return "refuse_standby";
    case Action::reap: return "reap";
    case Action::end_over_limit: return "end_over_limit";
    case Action::end_unhealthy: return "end_unhealthy";
    }
    return "?";
}

}  // namespace seq::sup::lifecycle
