// The generic supervisor: it knows its children only as child specs (any
// program, or a nested supervisor running a subtree), starts them in order
// (each only once the one before is ready), learns of every death through
// SIGCHLD, and restarts by strategy within the restart intensity. Decisions
// come from strategy.hpp and intensity.hpp; this is the process plumbing
// around them, and it never blocks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fd.hpp"
#include "cgroups.hpp"
#include "child.hpp"
#include "crash_loop.hpp"
#include "event_hooks.hpp"
#include "http_checks.hpp"
#include "process.hpp"
#include "process_usage.hpp"
#include "rollout.hpp"
#include "side_jobs.hpp"
#include "resp.hpp"
#include "subtree.hpp"
#include "intensity.hpp"
#include "log_file.hpp"
#include "notify_socket.hpp"
#include "stash_users.hpp"
#include "strategy.hpp"
#include "tree.hpp"
#include "tree_events.hpp"
#include "uv.hpp"

namespace seq::sup {

// Where one supervisor process runs its children: what the tree around it
// gives them.
struct Environment {
    std::string path;                    // this supervisor's path in the tree; empty at the top
    std::map<std::string, int> sockets;  // the listening sockets its children use, by name
    std::string stash;                   // $SEQ_STASH for every child; empty for none
    // The stash's users' directory (stash_acl; empty: off), and, at the top
    // alone, the operator's password, written there as user `default`.
    std::string stash_acl, stash_operator;
    // At the top alone: when a child's restarts make a crash_loop event.
    std::uint32_t crash_loop_restarts = 5, crash_loop_seconds = 60;
    // At the top alone: the tree's on_event hook.
    std::optional<HookSpec> on_event;
    // $SEQ_TREE for every child, which all below it inherit: the top's run
    // dir, by which the next supervisor there finds what a killed one left.
    std::string marker;
    std::string self;                    // seq-supervisor, run again for a nested supervisor
    std::optional<rlim_t> child_nofile;  // RLIMIT_NOFILE's soft limit as we were given it: our children's
    // Stops (true) and starts (false) asked for in the subtree by path, to
    // keep: a nested supervisor is handed them by its parent at each start.
    std::map<std::string, bool> asked;
};

// Who `spec`'s processes run as, and within what limits (its user, group,
// umask, nice and limits keys), into `args`.
void confine(SpawnArgs& args, const ChildSpec& spec);

class Supervisor {
public:
    Supervisor(uv::Loop& loop, SupervisorSpec spec, Environment env);
    ~Supervisor();

    void start();
    // Each process of a child in a cgroup of its own, where they are on;
    // `c` outlives this supervisor.
    void use_cgroups(Cgroups* c) { cgroups_ = c; }
    // Stops every child in reverse start order, then stops the loop.
    void shutdown(const std::string& why);
    // Per-child control by path ("web", "jobs/mailer"): nullopt once under
    // way, else why not as an error reply (no child there, the tree is
    // stopping, nothing runs to signal).
    // A restart: stopped, then started again, whatever it was doing.
    std::optional<std::string> restart(std::string_view path);
    // A stop that lasts: no strategy starts it again, and it counts for no
    // intensity (OTP's terminate_child); a supervisor stops its subtree first.
    std::optional<std::string> stop_child(std::string_view path);
    // Undoes a stop (or autostart = false): it starts, and nothing else does.
    std::optional<std::string> start_child(std::string_view path);
    // `sig` to the child's process group.
    std::optional<std::string> signal_child(std::string_view path, int sig);
    // A pool's number of instances, until a reload changes the file's:
    // up starts the new indexes, down stops the highest first. Nullopt once
    // under way, and `done` is told once every instance runs and none is on
    // its way out (by the pool's own supervisor, however deep); else why not.
    std::optional<std::string> scale(std::string_view path, unsigned n, Reply done);
    // A dynamic supervisor's children (supervisor_dynamic.cpp): one added
    // from the template of the dynamic supervisor at `path` ("" for this
    // one), or removed by name. Nullopt once under way, and `done` is told
    // the outcome: the child running (or why it did not start: it is then
    // not kept, as with OTP's start_child), or the child gone. Else why not.
    std::optional<std::string> add_child(std::string_view path, const Addition& a, Reply done);
    std::optional<std::string> remove_child(std::string_view path, std::string_view name, Reply done);
    // What STATUS says of the child at `path`: "running", "stopped"...; ""
    // if nothing is known of it (no such child, or below a supervisor that
    // has sent no snapshot yet).
    std::string state_at(std::string_view path) const;
    // Takes a new spec for the children (seqctl reload): starts the added,
    // stops the removed, restarts the changed, and leaves the same ones
    // running. A nested supervisor whose subtree changed is handed the new
    // subtree, unless the sockets it holds changed: then it is restarted.
    // Returns what it did, in words.
    std::string reconfigure(const SupervisorSpec& spec, Environment env);
    // Rollouts (supervisor_rollout.cpp). Whether one is under way here.
    bool rolling_out() const { return !rollouts_.empty(); }
    // What runs now, as a spec: each child's (a pool's own, once), its
    // subtree as this supervisor handed it down.
    SupervisorSpec running_spec() const;
    // `progress` is told each step of the rollouts, a line each; `done`,
    // once none is under way and the tree is where it should be: nullopt
    // if each went through, else why each that did not was rolled back.
    void watch_rollouts(std::function<void(const std::string&)> progress, Reply done);
    // Whether it gave up because the restart intensity was exceeded.
    bool gave_up() const { return gave_up_; }
    // The exit status of the significant child whose end shut it down
    // (auto_shutdown), as a shell gives it (128 + a signal's number).
    std::optional<int> auto_shutdown_status() const { return exit_status_; }
    // The state of the tree as a RESP reply (see sequence-protocol(7): STATUS JSON), and
    // as a value (what a nested supervisor sends its parent).
    void status(std::string& out);
    // The same as a value: the snapshot, with what each process uses
    // (one pass over /proc).
    TreeReport report();
    TreeReport snapshot();
    // Moves whenever anything in the subtree may have changed.
    std::uint64_t generation() const { return generation_; }
    // Called once, the first time every child runs (a nested supervisor's readiness).
    void on_first_settled(std::function<void()> f) { first_settled_ = std::move(f); }
    // Called once, when it begins to stop (asked to, or giving up).
    void on_stopping(std::function<void()> f) { on_stopping_ = std::move(f); }
    std::string child_names() const;
    // "children of jobs: a, b": what there is at the deepest supervisor
    // `path` reaches, for an error about a name that is not there.
    std::string children_along(std::string_view path) const;

    bool has_child(std::string_view path) const;
    // seqctl logs, seqctl why (supervisor_logs.cpp): the last `n` lines of
    // the children `path` names (a pool: all its instances; "/": all),
    // each as `seqctl logs` prints it; or their last deaths, newest first,
    // each with the lines before it, as a RESP array into `out`; or why not.
    std::optional<std::string> recent_lines(std::string_view path, std::size_t n, std::vector<std::string>& out) const;
    // A line a child's process wrote: kept, and told to whoever follows.
    void heard(Child& c, std::uint64_t wall_ms, pid_t pid, Stream stream, std::string_view line);
    // A line or a death below the nested supervisor `c`, as its process
    // sends them up (Uplink::line, Uplink::death): kept, and told on.
    void heard_below(Child& c, const resp::Value& event);
    // Each line and each death kept here, with the path of the child it is
    // of: for followers (Control), or for the parent (a nested supervisor's Uplink).
    using LineHeard = std::function<void(std::string_view path, const LogLine& line)>;
    using DeathHeard = std::function<void(std::string_view path, const Death& death)>;
    void on_line(LineHeard f) { line_heard_ = std::move(f); }
    void on_death_heard(DeathHeard f) { death_heard_ = std::move(f); }
    // Each event of the tree (tree_events.hpp), its own and those sent up
    // from below: kept (events()), and told to `f`.
    using EventHeard = std::function<void(const TreeEvent& e)>;
    void on_event(EventHeard f) { event_heard_ = std::move(f); }
    const RecentEvents& events() const { return events_; }
    // Whether `filter` names the child at `path`: "/" names every child; a
    // pool's path, each of its instances; a supervisor's, all below it.
    static bool names(std::string_view filter, std::string_view path);
    std::optional<std::string> deaths(std::string_view path, std::string& out) const;
    // seqctl logs --reopen, SIGUSR1: every log file here is opened again,
    // and each nested supervisor is sent SIGUSR1 to do the same.
    void reopen_logs();
    bool stopping() const { return shutting_down_; }
    // Every child that should run is running (a nested supervisor's too).
    bool settled() const;
    // A start or stop under way anywhere in the tree (a child waiting out its
    // backoff is not one: it is where it should be for now).
    bool in_transition() const;
    // How many times each supervisor along `path`, and the child at its end,
    // have been started: a restart of a nested supervisor starts its
    // children's counts again, and this still grows.
    std::vector<std::uint64_t> starts(std::string_view path) const;

private:
    // What a child is doing, as STATUS says it: its active instance's phase, or down.
    enum class State { down, starting, running, stopping };
    static State state_of(const Child& c);
    static const char* state_name(State s);
    // As STATUS says it: "stopped" for a child that is down and to stay so,
    // "waiting" for one backing off, else its state.
    static std::string child_state_name(const Child& c, std::uint64_t now);
    std::optional<std::string> control(std::string_view verb, std::string_view path,
                                       const std::function<std::optional<std::string>(Child&)>& here,
                                       const std::function<std::optional<std::string>(Child&, std::string_view)>& below);
    Child* find(std::string_view name) const;
    // Pools (supervisor_pool.cpp). The specs to run: each pool as its
    // instances' specs, as many as the file says, or as scale asked for
    // while the file's number is the same.
    std::vector<ChildSpec> expand(const std::vector<ChildSpec>& specs);
    // The instances of the pool `name` that are not being removed, by index.
    std::vector<Child*> members(std::string_view name) const;
    // The pool's own line in a report, from its instances' (in `instances`).
    static void sum_up(ChildReport& pool);
    // One more start of `c` (a spawn or an activation), and of its pool.
    void counted_start(Child& c);
    // Dynamic supervisors (supervisor_dynamic.cpp). The child of ours a
    // request for the dynamic supervisor at `path` goes through, and the
    // path relative to it; else why not.
    std::optional<std::string> to_dynamic(std::string_view path, Child*& via, std::string_view& rest) const;
    // In the dynamic supervisor itself: a child added, or removed.
    std::optional<std::string> adopt(const Addition& a, Reply done);
    std::optional<std::string> forget(std::string_view name, Reply done);
    // A dynamic child's first life ended before it ran: its ADD is told
    // why, and it is not kept. False for any other child, and for one we
    // stopped (`asked`): its ADD is told, and it goes on as asked.
    bool first_start_failed(Child& c, const std::string& how, bool asked = false);
    // The specs of our dynamic children, made again from `tmpl`.
    std::vector<ChildSpec> dynamic_children(const ChildSpec& tmpl) const;
    // The child of ours that `path` starts with, and the rest of the path below it.
    std::pair<Child*, std::string_view> route(std::string_view path) const;
    // What is kept of each child `path` names (names()): ours, and those
    // below our nested supervisors; or why there is none.
    struct Kept {
        std::string_view path;
        const RecentLines* recent;
        const Deaths* deaths;
    };
    std::optional<std::string> named_here(std::string_view path, std::vector<Kept>& out) const;
    const ChildReport* nested(std::string_view path) const;
    // One child, and for a nested supervisor the subtree its latest snapshot
    // shows: where it should be (running, or down for good), and whether a
    // start or stop is under way. What settled(), in_transition() and the
    // snapshot say all comes from these.
    static bool child_settled(const Child& c);
    static bool child_busy(const Child& c);
    // The ends of a new process's pipes that we keep.
    struct Pipes {
        Fd notify, output, errors, activate;
    };
    // `as_standby`: no sockets (they come at activation), and $SEQ_STANDBY_FD.
    SpawnArgs spawn_args(Child& c, std::vector<Fd>& keep, Pipes& ours, bool as_standby = false);
    // Under stash_acl: $SEQ_STASH_ACL, and for a program that uses the stash
    // its user there (`user`, with `spec`'s keys), its password and its URL,
    // the users' file written first if it does not say so yet. Throws if it
    // cannot be written.
    void stash_login(SpawnArgs& args, const std::string& user, const ChildSpec& spec);
    // The users' file made anew from every child (a user's patterns are
    // those of every spec of it that lives: old and new in a rollout), and
    // `extra`'s too. Throws if it cannot be written.
    void sync_stash_users(const std::map<std::string, std::vector<std::string>>& extra = {});
    std::unique_ptr<Child> make_child(ChildSpec spec);
    std::unique_ptr<Instance> make_instance(Child& c, lifecycle::Role role, const SpawnArgs& args, Spawned spawned,
                                            Pipes ours);
    // A new process of `c`'s spec in `role` (active, or a rollout's
    // successor), in no phase yet; `says_ready`: whether it will say it is
    // ready (else it is as soon as it runs).
    std::unique_ptr<Instance> start_instance(Child& c, lifecycle::Role role, bool& says_ready);

    void step();
    void converge();
    // Requests answered once the tree is as they asked (a scale): each
    // condition is looked at after every step, and the stop of the tree
    // answers what is left.
    void await(std::function<bool()> done, Reply reply);
    void answer_awaited();
    // Whether converge() has anything to do for `c`: a start, a stop, a
    // standby, a wait, or others waiting on it. The children that may are
    // in pending_, touched whenever their goal, process or phase changes.
    bool needs_work(const Child& c) const;
    void want(Child& c, Goal g);
    void touch(Child& c) { pending_.insert(&c); }
    void touch_all();
    void spawn(Child& c);
    // An instance's life (supervisor_instance.cpp): every event goes through
    // apply(), which asks lifecycle::decide and carries out the action;
    // enter() is the one place a phase changes.
    void apply(Instance& i, lifecycle::Event e);
    void enter(Instance& i, lifecycle::Phase p);
    void on_notify(Instance& i);
    void on_sd_notify(pid_t sender, std::string_view message);
    void arm_watchdog(Instance& i);
    void take_over(Instance& standby);
    void signal_group(const Instance& i, int sig);
    static int stop_signal(const ChildSpec& spec);
    // Rollouts (supervisor_rollout.cpp): `c` joins the rollout of its pool
    // (or its own) to `want`; each step moves every rollout on.
    void roll(Child& c, const ChildSpec& want, const ChildSpec* pool_from);
    Rollout* rollout_of(const Child& c);
    Rollout::Member* member_of(Rollout& r, const Child& c);
    // The spec an instance was started from (its timings): its child's, or
    // during a rollout the one it is leaving or taking.
    const ChildSpec& spec_of(const Instance& i);
    void advance_rollouts();
    void reload_below_answered(const std::string& path, const std::optional<std::string>& why);
    void roll_forward(Rollout& r);
    void roll_back(Rollout& r);
    void spawn_successor(Child& c);
    // A handover's next move for `m`: its new standby, then the old one's stop.
    void hand_over(Rollout::Member& m);
    // A member that does not run takes the new spec for its next start.
    void take_at_next_start(Rollout::Member& m);
    // Whether the end of `c`'s standby (of `generation`, how it ended)
    // fails a handover under way: then its old spec is back.
    bool handover_failed(Child& c, std::uint64_t generation, const std::string& how);
    void succeed(Instance& successor);
    void fail_rollout(Rollout& r, const std::string& why);
    // Whether the death of `c`'s active instance (`ended`) is the rollout's
    // to carry out: it was on the new spec and failed its gate.
    bool rollout_failed(Child& c, lifecycle::Phase phase, std::uint64_t ready_ms, std::uint64_t generation,
                        const std::string& how);
    void on_successor_death(Child& c, int status);
    // The new spec's `migrate`, run once before its first instance.
    void start_migration(Rollout& r);
    void on_migration_death(Instance& i, int status);
    void on_retiring_death(Instance& i, int status);
    // A line of a rollout: logged, and told to whoever watches.
    void say(const std::string& line);
    // Standbys (supervisor_standby.cpp): started once the tree has settled,
    // activated in place of a spawn, and told to go with their child.
    void spawn_standby(Child& c);
    void defer_standby(Child& c, std::uint64_t ms);
    void activate_standby(Child& c);
    // An instance of a pool about to start takes the pool's idle standby.
    void borrow_standby(Child& c);
    void on_standby_death(Child& c, int status);
    // True while a standby is still on its way out (the caller waits for it).
    bool stop_standby(Child& c, const char* why);
    // A step at not_before_ms.
    void wait_until_due(Child& c);
    void start_failed(Child& c, const std::string& why);
    void reap();
    void reap_all();
    // Reaps `i` if it has died, and carries out its death; false if it has not.
    bool reap_instance(Instance& i);
    // Reaps what is left and looks for orphans, `ms` from the first call.
    void sweep_soon(std::uint64_t ms = 20);
    Cgroups* cgroups_ = nullptr;
    // The cgroup place() made for a start not yet taken by an instance:
    // one that failed (a spawn that threw) leaves it here, removed at the
    // next start or sweep.
    std::string unclaimed_cgroup_;
    void release_unclaimed();
    // A process's own cgroup, if cgroups are on: into `args`, its fd into `keep`.
    // With its controllers' limits, or args.refuse saying why they cannot be held.
    void place(SpawnArgs& args, std::vector<Fd>& keep, const ChildSpec& spec);
    // "killed by the kernel: out of memory (memory_max 200 MiB)", or "".
    std::string killed_by_kernel(const Instance& i, int status);
    void on_death(Child& c, int status);
    void significant_ended(const Child& c, int status);
    void give_up(const std::string& what);
    // An instance that died, once reaped: what is left to say of it (its
    // exit, or the exec it could not do), its output read to the end.
    struct Retired {
        pid_t pid;
        lifecycle::Phase phase;
        std::uint64_t uptime_ms;
        std::uint64_t ready_ms, generation;
        std::string how;
        bool exec_failed;
        std::string ended_for;  // Instance::ended_for
        std::string_view reason;  // lifecycle::death_reason
    };
    Retired retire(std::unique_ptr<Instance> i, int status);
    // With `all`, kills whatever is adopted (at the end, when no child runs).
    void sweep_orphans(bool all = false);
    // At the end: sweeps and reaps until nothing adopted is left.
    void reap_the_rest();
    std::string seconds(std::uint64_t ms) const;

    uv::Loop& loop_;
    SupervisorSpec options_;  // strategy and intensity (its children are in children_)
    Environment env_;
    // Before children_: their processes' outputs write to these files, and
    // may report to it as they go.
    LogFiles log_files_;
    std::vector<std::unique_ptr<Child>> children_;
    std::optional<StashUsers> stash_users_;  // under stash_acl
    // RELOADs handed to nested supervisors and not answered yet. Each is
    // answered once the tree there settled, with why if a rollout there was
    // rolled back; a watch of our rollouts waits for them. Declared after
    // children_, so gone before their links answer what they leave waiting.
    std::shared_ptr<unsigned> reloads_below_ = std::make_shared<unsigned>(0);
    struct Pool {
        ChildSpec spec;                 // as the file gives it
        unsigned file_instances = 0;    // its `instances`
        unsigned count = 0;             // how many run: the file's, or what scale asked for since
        std::uint64_t starts = 0;       // of its instances, ever: what a wait on the pool counts (never less)
    };
    std::map<std::string, Pool, std::less<>> pools_;
    // Every live process of ours, active or standby: a death, or a
    // notification, finds its instance without a look at every child.
    std::unordered_map<pid_t, Instance*> by_pid_;
    struct ByIndex {
        bool operator()(const Child* a, const Child* b) const { return a->index < b->index; }
    };
    std::set<Child*, ByIndex> pending_;  // may need converge's work (in start order)
    bool converging_ = false, again_ = false;
    bool pidfds_ = true;  // every instance has a pidfd (Linux 5.3 and later)
    Intensity intensity_;
    SpawnSlots slots_;  // low fds a new child's inheritance is laid on (process.hpp)
    uv::Signal sigchld_;
    uv::Timer sweep_;
    // memory_max where no cgroup holds it: each such instance's group looked
    // at once a second, while there is one (supervisor_limits.cpp).
    uv::Timer memory_watch_;
    ProcessUsage usage_{kept_stat_files_bound()};  // read by memory_watch_ and report()
    void watch_memory();
    void check_memory();
    // Adopted processes whose environment read empty (caught mid-execve):
    // how many sweeps have looked at each. They are looked at again, soon,
    // and killed as orphans once the count runs out.
    std::unordered_map<pid_t, unsigned> unsure_;
    std::optional<NotifySocket> notify_socket_;  // for sd_notify readiness, made when first needed
    std::uint64_t ignored_log_ms_ = 0;  // a look for orphans, soon after a death
    bool shutting_down_ = false;
    bool gave_up_ = false;
    std::optional<int> exit_status_;
    bool finished_ = false;
    std::uint64_t generation_ = 0;
    struct Awaited {
        std::function<bool()> done;
        Reply reply;
    };
    std::vector<Awaited> awaited_;
    std::vector<std::unique_ptr<Rollout>> rollouts_;
    // How each rollout that was rolled back ended, by pool or child name:
    // what runs is not the tree file's, until the next reload.
    std::map<std::string, std::string, std::less<>> rolled_back_;
    struct Watch {
        std::function<void(const std::string&)> progress;
        std::vector<std::string> failures;
    };
    std::vector<std::weak_ptr<Watch>> watches_;
    std::vector<std::string> said_;  // each line of the rollouts since the latest reload
    std::function<void()> first_settled_;
    LineHeard line_heard_;
    DeathHeard death_heard_;
    EventHeard event_heard_;
    RecentEvents events_;
    std::optional<CrashLoops> crash_loops_;  // at the top
    // What it runs for itself: hooks, health checks by command. Before
    // hooks_, which cancels its job through it.
    SideJobs side_;
    std::unique_ptr<EventHooks> hooks_;  // at the top, with on_event
    std::unique_ptr<HttpChecks> http_checks_;  // made for the first HTTP probe
    HttpChecks& http_checks();
    // `i`'s probe said `failure` (nullopt: it passed), `in_row` failed so
    // far, of the `failures` its spec allows.
    void probed(Instance& i, const std::optional<std::string>& failure, unsigned in_row, unsigned failures);
    // An event here: kept and told. `path` the child's (or "/" for this
    // supervisor itself, which a nested one says as its own path).
    void emit(std::string kind, std::string path, pid_t pid, std::string reason = "", std::string text = "",
              std::int64_t ms = -1);
    void heard_event(TreeEvent e);
    std::function<void()> on_stopping_;
    void begin_shutdown();
};

}  // namespace seq::sup
