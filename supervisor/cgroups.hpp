// Each child in a cgroup (v2) of its own, where the supervisor may make
// cgroups below its own (root, or systemd's Delegate=yes): then stopping a
// child kills all it started with cgroup.kill, a double-forked daemon in a
// session of its own too, and a supervisor killed with -9 leaves nothing
// the next one on its run dir cannot find.
//
// The top supervisor's tree is <its cgroup>/seq-<run dir>; it moves itself
// into .self there (a cgroup with children holds no process of its own, so
// that controllers may be enabled below it), and each process of a child
// goes in <tree>/<name>/<serial>. A nested supervisor, started in such a
// leaf, does the same below it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fd.hpp"

namespace seq::sup {

class Cgroups {
public:
    // `tree`: the name of the top's tree cgroup below its own ("seq-..."),
    // or empty in a nested supervisor, whose own cgroup is its tree's part.
    // Never throws: off, with why_not() saying why, where they cannot be made.
    // `given`: a nested supervisor's $SEQ_CGROUP, the leaf its parent made.
    Cgroups(const std::string& tree, const std::string& given);
    // Off, for this reason.
    struct Off {
        std::string why;
    };
    explicit Cgroups(Off off) : why_not_(std::move(off.why)) {}
    Cgroups(const Cgroups&) = delete;
    Cgroups& operator=(const Cgroups&) = delete;

    bool on() const { return !base_.empty(); }
    const std::string& why_not() const { return why_not_; }
    const std::string& base() const { return base_; }

    // Whether `pid` is in the tree's cgroups (left by a supervisor killed
    // here, before take()).
    bool holds(pid_t pid) const;
    // What is left killed (cgroup.kill), waited for, and its cgroups removed;
    // then the tree made again, and this process moved into its .self. Off,
    // with why, if that fails.
    void take();

    // A new cgroup for a process of child `name`: its dir, and an fd on its
    // cgroup.procs for the child to join before its exec. Nullopt (said
    // once in the log) if it cannot be made.
    struct Leaf {
        std::string dir;
        Fd procs;
    };
    std::optional<Leaf> leaf(const std::string& name);
    // The limits its controllers hold, written into a new leaf of child
    // `name` before the child joins it, each controller enabled on the way
    // down first. Why not, naming the key and the controller, where one is
    // missing; memory_max alone may go without (the supervisor then
    // watches the child's RSS itself).
    struct Limits {
        std::optional<std::uint64_t> memory_max, memory_high, pids_max, io_weight;
        std::string cpu_max;
    };
    std::optional<std::string> limit(const Leaf& leaf, const std::string& name, const Limits& l);
    // A nested supervisor's leaf: every controller there is enabled down to
    // it, for the limits of its own children.
    void open_controllers(const std::string& name);
    // How many processes of `leaf` the kernel killed for want of memory.
    static long long oom_kills(const std::string& leaf);
    // A process's cgroup at its end: what is left in it killed, and the dir
    // removed, now or, while what was killed is still dying, by retry().
    void release(const std::string& dir);
    // Removals that waited; whether some still wait.
    bool retry();
    // At the top supervisor's orderly end: itself moved back out, the tree
    // removed.
    void leave();

    // Writes cgroup.kill: SIGKILL to every process in `dir` and below.
    static bool kill(const std::string& dir);

private:
    bool remove_tree(const std::string& dir);  // depth first; false while one is busy
    std::string mount_;     // the cgroup v2 hierarchy's mount point
    std::string own_;       // the cgroup we were started in (absolute dir)
    std::string base_;      // where our children's cgroups go
    std::string why_not_;
    unsigned long long serial_ = 0;
    bool said_ = false;     // a leaf that could not be made was logged
    std::vector<std::string> pending_;  // released, not yet removable
};

// "seq-tmp-app-run" for /tmp/app/run: a run dir as a cgroup's name.
std::string tree_cgroup_name(const std::string& run_dir);

}  // namespace seq::sup
