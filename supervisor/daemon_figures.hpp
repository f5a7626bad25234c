// What the stash and the workers in the tree say of themselves, for
// /metrics: INFO over their own sockets (the stash's with the operator's
// AUTH where stash_acl is on), asked every two seconds from the loop: a
// connect, one request, one reply, each bounded by a deadline, never a
// wait. What each last said is kept by path; /metrics reads it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tree.hpp"
#include "uv.hpp"

namespace seq::sup {

struct DaemonTarget {
    enum class Kind { stash, worker };
    std::string path;      // the child's, as seqctl names it
    Kind kind = Kind::worker;
    std::string socket;    // its Unix socket's path
    std::string password;  // AUTH default PASSWORD first, if not empty
    bool operator==(const DaemonTarget&) const = default;
};

// The children of `s` (at every depth) that run seq-stash or seq-worker
// with a Unix socket: the first of their Unix sockets, relative paths in
// `run_dir`. A pool's instances share their socket, so what one says
// cannot be told from another's: pools are left out.
std::vector<DaemonTarget> daemon_targets(const SupervisorSpec& s, const std::string& run_dir,
                                         const std::string& stash_password);

// INFO's text as fields: "db0" -> "keys=3,expires=0,avg_ttl=0".
using InfoFields = std::map<std::string, std::string, std::less<>>;
InfoFields parse_info(std::string_view text);

struct DaemonInfo {
    DaemonTarget::Kind kind = DaemonTarget::Kind::worker;
    InfoFields fields;
};

// seq_stash_keys, seq_stash_commands_total{command}, seq_stash_commit_seconds
// (a histogram), seq_worker_next_total: Prometheus text, by path.
std::string daemon_metrics_text(const std::map<std::string, DaemonInfo>& figures);

class DaemonFigures {
public:
    static constexpr std::uint64_t every_ms = 2000, deadline_ms = 1000;
    // Rounds a daemon may miss before what it said last is dropped: one
    // slow commit (the stash holds INFO's reply behind it) hides nothing.
    static constexpr unsigned misses_kept = 3;
    DaemonFigures(uv_loop_t* loop, std::function<std::vector<DaemonTarget>()> targets);
    ~DaemonFigures();
    DaemonFigures(const DaemonFigures&) = delete;
    DaemonFigures& operator=(const DaemonFigures&) = delete;
    // What each answered last; a child that no longer answers, or is no
    // longer in the tree, is gone from it.
    const std::map<std::string, DaemonInfo>& latest() const { return latest_; }

private:
    struct Ask;
    void round();
    void ask_all();
    // By value: the Ask that holds the caller's path goes here.
    void answered(std::string path, DaemonTarget::Kind kind, std::optional<std::string> info);

    uv_loop_t* loop_;
    std::function<std::vector<DaemonTarget>()> targets_;
    uv::Timer timer_;
    std::map<std::string, std::unique_ptr<Ask>> asking_;
    std::map<std::string, DaemonInfo> latest_;
    std::map<std::string, unsigned> misses_;  // in a row, by path
};

}  // namespace seq::sup
