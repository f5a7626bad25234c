// A rollout: a change of a worker's spec (or a pool's) applied with
// `update = "rolling"`. For each instance in turn, `surge` at a time, a
// successor is started from the new spec beside the old instance, holding
// the same sockets; once it is ready it takes the old one's place, and the
// old one retires (stopped, serving what it has until it ends). A new
// instance that is not ready in time, or that dies within `min_uptime_ms`
// of becoming ready, stops the rollout: each instance already on the new
// spec is replaced again by one of the old spec, the same way, and those
// never replaced are not touched. With `update = "handover"` (one process,
// whose state has one writer) the new one is started as a standby instead,
// and once it is idle the old one is stopped and the standby activated the
// moment it is gone; the same gate rolls it back. The supervisor carries it out
// (supervisor_rollout.cpp); this is what it keeps of one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <memory>

#include "instance.hpp"
#include "tree.hpp"
#include "uv.hpp"

namespace seq::sup {

struct Child;

struct Rollout {
    std::string name;  // the pool's, or the child's
    std::string path;  // in the tree, as it is said
    bool handover = false;
    unsigned surge = 1;
    std::uint64_t min_uptime_ms = 5000;
    struct Member {
        Child* child;
        ChildSpec from, to;
        // During a rollback, its old spec failed to start again: it is left
        // on the new one, which still serves.
        bool stuck = false;
    };
    std::vector<Member> members;
    std::optional<ChildSpec> pool_from;  // a pool's own spec before it (a rollback puts it back)
    // The new spec's `migrate`, run before anything else: its process
    // while it runs, and whether it is done (or there was none).
    std::unique_ptr<Instance> migration;
    bool migrated = false;
    std::string failure;  // why it is rolled back; empty while it goes forward
    uv::Timer gate;       // a step when the next new instance has run for min_uptime_ms
};

}  // namespace seq::sup
