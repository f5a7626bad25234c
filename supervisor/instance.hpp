// One process of a child, from its fork to its reaping: what the supervisor
// holds of it. Its phase (lifecycle.hpp) says which of these are in use, and
// Supervisor::enter drops the rest at every change of phase, as systemd's
// service_set_state does: no timer, poll or pipe outlives the phase it was
// for. A standby taken into service is the same Instance, moved from the
// standby's place to the active one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "child_output.hpp"
#include "exec_watch.hpp"
#include "fd.hpp"
#include "health_probe.hpp"
#include "lifecycle.hpp"
#include "uv.hpp"

namespace seq::sup {

struct Child;

struct Instance {
    Child* child = nullptr;
    lifecycle::Role role = lifecycle::Role::active;
    lifecycle::Phase phase = lifecycle::Phase::starting;
    pid_t pid = 0;
    std::uint64_t started_ms = 0;  // loop ms of its start, or of its activation
    std::uint64_t ready_ms = 0;    // loop ms it became ready (running); 0 before
    std::uint64_t generation = 1;  // of the spec it was started from ($SEQ_GENERATION)
    // Its $SEQ_NAME and $SEQ_INSTANCE, as it was started with them: what it
    // leaves behind carries them, and is its own while it runs (a pool's
    // standby was started as the pool, before it knew which instance it
    // would be).
    std::string seq_name, seq_instance;
    // Why it is being ended as a failure, other than its watchdog (Phase::hung):
    // "memory limit: 212 MiB > 200 MiB". Its death says so.
    std::string ended_for;
    std::string_view ended_by;  // its label, as its death is counted: "memory_limit"
    std::string cgroup;  // its own cgroup's dir, if it has one (cgroups.hpp)
    bool memory_held = false;  // its memory_max is its cgroup's memory.max: the kernel's, not our watch's
    long long oom_kills = 0;   // memory.events' count when it started
    Fd notify;                     // our end of its $SEQ_NOTIFY_FD
    uv::Poll notify_poll;          // read while it is starting
    Fd activate;                   // a standby's $SEQ_STANDBY_FD, our end: closed, it stops
    std::unique_ptr<ChildOutput> output, errors;  // its stdout, its stderr
    std::optional<ExecWatch> exec;
    Fd pidfd;            // readable once it has died
    uv::Poll pid_poll;
    uv::Timer timer;     // starting: its start timeout; stopping, hung: the grace before SIGKILL
    uv::Timer watchdog;  // running: when the next WATCHDOG=1 is due
    // Its health probe: running, and starting under readiness = "health".
    std::unique_ptr<HealthProbe> probe;
};

}  // namespace seq::sup
