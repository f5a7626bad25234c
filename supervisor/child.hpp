// A child of one supervisor as it supervises it: its spec, what is wanted of
// it, its count of starts, and its processes (instances.hpp): the active one
// and, behind it, a standby. The decisions about it are elsewhere
// (strategy.hpp, intensity.hpp, backoff.hpp, lifecycle.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backoff.hpp"
#include "child_log.hpp"
#include "dynamic_child.hpp"
#include "instance.hpp"
#include "subtree.hpp"
#include "tree.hpp"
#include "uv.hpp"

namespace seq::sup {

class LogFile;

class Supervisor;

// What the supervisor wants of a child: converge() moves it there.
enum class Goal {
    run,      // running, or started when its turn comes
    restart,  // its instance stops, then it runs again (a restart plan, a reload, seqctl restart)
    down,     // not to run: it ended for good, or the tree is stopping; a strategy may start it again
    held,     // stopped by request, or autostart = false: only a request starts it (OTP's terminate_child)
    removed,  // gone from the spec: stopped, then forgotten
};

// What caused a start after the first (STATUS's last_start).
enum class Cause { strategy, request, reload, upgrade };
std::string_view to_string(Cause c);

struct Child {
    ChildSpec spec;
    std::string path;  // in the tree: "jobs/mailer"
    Supervisor* owner = nullptr;
    std::size_t index = 0;
    Goal goal = Goal::run;
    Backoff backoff;
    std::uint64_t not_before_ms = 0;  // a start waits until then (loop ms)
    std::uint64_t spawns = 0;  // starts (activations included); every one after the first is a restart
    Cause next_cause = Cause::strategy;  // of the start to come
    Cause last_cause = Cause::strategy;  // of the latest start
    std::string last_exit;
    std::unique_ptr<Instance> active;
    // spec.standby: one more instance, started and idle, that takes the
    // active one's place when it dies (sequence-protocol(7): STANDBY PROTOCOL).
    std::unique_ptr<Instance> standby;
    // A rollout (rollout.hpp): the instance of the new spec starting
    // beside the active one, and old ones stopped, serving what they have
    // until they end.
    std::unique_ptr<Instance> successor;
    std::vector<std::unique_ptr<Instance>> retiring;
    bool standby_refused = false;             // it did not follow the protocol: none again
    std::uint64_t standby_not_before_ms = 0;  // after a standby died: the next one waits
    uv::Timer wait;                           // a step at not_before_ms
    uv::Timer standby_wait;                   // a step at standby_not_before_ms
    std::unique_ptr<SubtreeLink> subtree;     // type supervisor: its snapshots, and restarts below it (held apart: most children are workers)
    // Type supervisor: the stops (true) and starts (false) asked for below
    // it, by path, handed to each new process of it: what was asked for
    // lasts across its restarts.
    std::map<std::string, bool> asked_below;
    // A child of a dynamic supervisor: what `seqctl add` gave it (its spec
    // is the template's with this), and the answers its ADD and REMOVE
    // await: its first start (running, or failed), and its end.
    Addition addition;
    Reply on_started, on_gone;
    // What its processes wrote lately, and how the latest of them ended
    // (seqctl logs, seqctl why).
    RecentLines recent;
    Deaths deaths;
    ReadyTimes ready_times;
    // Its log file, if it has one: held between its processes, so that
    // what the file counts (lines dropped) lasts as long as the child.
    std::shared_ptr<LogFile> log_file;
    // Type supervisor: the same of each child below it, by its full path,
    // as its process sends them up (it keeps them too): what logs, why and
    // follow of a path below it read. Across its restarts, as `recent`.
    std::map<std::string, KeptBelow, std::less<>> below;
    std::size_t below_bytes = 0;  // of their lines' text

    bool wants_running() const { return goal == Goal::run || goal == Goal::restart; }
    // Whether a standby is kept behind it: a pool keeps one for all its
    // instances, behind its first (borrow_standby hands it to the one that died).
    bool keeps_standby() const { return spec.standby && (spec.pool.empty() || spec.pool_index == 0); }
    // "jobs/web" for "jobs/web#2": the pool's path; its own for any other child.
    std::string pool_path() const { return spec.pool.empty() ? path : path.substr(0, path.rfind('#')); }
};

}  // namespace seq::sup
