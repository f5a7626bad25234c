// The state of a supervisor's tree as a value, typed: what STATUS answers,
// and the snapshot a nested supervisor sends its parent. It is RESP only at
// the edges, the control socket and the channel between supervisors
// (append_report, from_resp); everything between reads the fields.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ready_times.hpp"
#include "resp.hpp"

namespace seq::sup {

struct ChildReport {
    std::string name;
    std::string type;  // "worker", "supervisor" or "dynamic"
    std::optional<std::int64_t> pid;
    std::string state;  // running, starting, stopping, waiting, down, stopped
    std::int64_t restarts = 0;
    std::int64_t spawns = 0;
    std::optional<std::string> last_start;  // what caused the latest start after the first
    std::optional<std::string> stopped_by;  // held down: "request" or "autostart"
    std::optional<std::string> last_exit;
    std::optional<std::int64_t> uptime_ms;
    std::optional<std::int64_t> restart_in_ms;  // backing off
    struct Socket {
        std::string name;
        std::string address;  // as bound: HOST:PORT (the real port for port 0), or a Unix socket's path
        bool operator==(const Socket&) const = default;
    };
    std::vector<Socket> sockets;                // a worker's listening sockets
    std::int64_t generation = 1;                // of the spec its process was started from ($SEQ_GENERATION)
    // During a rollout (seq-tree(5): DEPLOYING): whether its
    // process runs the spec it had before ("old") or the new one ("new"),
    // the pid of a new instance starting beside it, and the pids of old
    // ones draining (stopped, finishing what they serve).
    std::optional<std::string> rollout;
    std::optional<std::int64_t> surge_pid;
    std::vector<std::int64_t> draining;
    // On a rolled-out child (the pool's line for a pool): how its rollout
    // goes, or how the last one ended, until the next reload.
    std::optional<std::string> upgrade;
    // Its log file, and the lines a full or failing disk cost it.
    std::optional<std::string> log_file;
    std::int64_t log_dropped = 0;
    // What its live processes use now (the sum over its process group; a
    // pool's line, over its instances): filled in by the top supervisor's
    // STATUS, not carried in snapshots.
    std::optional<std::int64_t> memory_bytes, cpu_ms;
    std::optional<std::int64_t> memory_max;  // its limit, if it has one
    std::map<std::string, std::int64_t> deaths_by_reason;  // all told, by the top supervisor (lifecycle::death_reason)
    std::optional<ReadyTimes> ready_times;                 // the same: its starts' times to ready
    std::optional<std::string> cgroup;       // its process's own cgroup (a dir), where cgroups are on
    bool standby_kept = false;                  // its spec keeps a standby
    std::optional<std::int64_t> standby;        // that standby's pid, once idle
    // A pool: its instances ("web#0"...), each a report of its own; the
    // pool's own fields sum them up (Supervisor::sum_up).
    bool pool = false;
    std::vector<ChildReport> instances;
    // A supervisor's own flags and its subtree.
    std::string strategy;
    std::int64_t max_restarts = 0, max_seconds = 0, restarts_in_window = 0;
    std::optional<std::int64_t> max_children;  // a dynamic supervisor's bound, if it has one
    std::vector<ChildReport> children;
    bool settled = false;  // where it should be (running, or down for good), its subtree too
    bool busy = false;     // a start or stop under way, in its subtree too
};

struct TreeReport {
    std::string strategy;
    std::int64_t max_restarts = 0, max_seconds = 0, restarts_in_window = 0;
    std::int64_t pid = 0;
    std::string state;  // running or stopping
    std::vector<ChildReport> children;
};

// [flags, [child...]], each a flat key/value array (sequence-protocol(7): STATUS JSON).
void append_report(std::string& out, const TreeReport& r);
// nullopt if `v` is not such a value.
std::optional<TreeReport> from_resp(const resp::Value& v);

// The child at `path` ("mailer", "deep/leaf", "web#2": an instance of a
// pool) among `children`, or null.
const ChildReport* find_child(const std::vector<ChildReport>& children, std::string_view path);
// Whether the whole tree is where it should be, and whether anything in it
// is starting or stopping.
bool settled(const TreeReport& r);
bool busy(const TreeReport& r);
// Every uptime_ms below grown by `ms`: a snapshot is as old as the last
// change it reports.
void age(std::vector<ChildReport>& children, std::int64_t ms);

}  // namespace seq::sup
