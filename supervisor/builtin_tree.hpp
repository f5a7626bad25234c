// The sequence tree that seq-supervisor runs without --config: seq-stash,
// then seq-worker, which finds the stash through $SEQ_STASH. Its flags shape
// it; --print-config prints it as a tree file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tree.hpp"

namespace seq::sup {

struct BuiltinOptions {
    // Strategy and intensity; no children.
    SupervisorSpec flags = [] {
        SupervisorSpec s;
        s.strategy = Strategy::rest_for_one;
        return s;
    }();
    std::int64_t initial = 0;
    std::uint64_t shutdown_ms = 5000;
    std::uint64_t start_timeout_ms = 5000;
    std::uint64_t watchdog_ms = 5000;  // a stopped or stuck daemon is replaced past this; 0: off
    std::string data_dir;  // empty: the stash in memory
    std::string fsync = "everysec";
    std::uint64_t reserve = 0;  // the worker's --reserve; 0: off
    // A standby worker, activated when the worker dies: on by default, since
    // it idles at no CPU and about 3 MiB (scripts/bench measures both).
    bool standby = true;
    std::size_t max_clients = 10000;
};

// `program_dir` prefixes the programs' names; empty leaves them bare, as a
// tree file would name them.
Tree builtin_tree(const BuiltinOptions& o, const std::string& program_dir);

}  // namespace seq::sup
