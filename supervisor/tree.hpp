// A supervision tree as data: OTP's child specs and supervisor flags. The
// built-in sequence tree and every tree file come to this; the supervisor
// runs it, and a nested supervisor is handed its own subtree in the same form.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backoff.hpp"
#include "limits.hpp"
#include "strategy.hpp"

namespace seq::sup {

enum class ChildType { worker, supervisor };
// How a child says it serves: not at all (running once exec'd), a newline on
// the fd passed as --notify-fd (s6), READY=1 on $NOTIFY_SOCKET (systemd), or
// by passing its health probe for the first time (docker's service_healthy).
enum class Readiness { none, notify_fd, sd_notify, health };

// OTP 24's auto_shutdown: what the end of a significant child does to its
// supervisor.
enum class AutoShutdown { never, any_significant, all_significant };

// How a change of a worker's spec is applied (by a reload or an upgrade):
// stopped, then started; rolling, a new instance started beside each old
// one, which is stopped once the new one is ready; or handover, for a
// singleton whose state has one writer: the new one started as a standby,
// the old one stopped, and the standby activated the moment it is gone
// (seq-tree(5): DEPLOYING).
enum class Update { restart, rolling, handover };
std::optional<Update> parse_update(std::string_view s);
std::string_view to_string(Update u);

std::optional<ChildType> parse_child_type(std::string_view s);
std::optional<AutoShutdown> parse_auto_shutdown(std::string_view s);
std::string_view to_string(AutoShutdown a);
std::string_view to_string(ChildType t);
std::optional<Readiness> parse_readiness(std::string_view s);
std::string_view to_string(Readiness r);

// A listening socket the top supervisor binds and keeps across its users'
// lives: a Unix one at `path`, or a TCP one at `listen`.
struct SocketSpec {
    static constexpr int default_backlog = 4096;  // Linux's SOMAXCONN since 5.4; the kernel caps it at net.core.somaxconn
    std::string name;    // as the child finds it in LISTEN_FDNAMES
    std::string path;    // Unix: relative to the run dir, or absolute; empty for TCP
    std::string listen;  // TCP: HOST:PORT, written as to_string(ListenAddress) writes it; empty for Unix
    int backlog = default_backlog;
    bool reuse_address = true;  // TCP: SO_REUSEADDR, so that a restarted tree binds past TIME_WAIT
    bool ipv6_only = true;      // TCP over IPv6: IPV6_V6ONLY; false takes IPv4 too on [::]
    // Unix: who may connect, as the socket file's mode, owner and group say
    // (by name as given, by number as loaded; unset: the supervisor's own).
    // Changed by a reload in place: not part of what makes two specs the
    // same socket (==), so it restarts no child.
    std::uint32_t mode = 0600;
    std::string owner, group;
    std::optional<std::uint32_t> uid, gid;
    bool same_access(const SocketSpec& o) const { return mode == o.mode && uid == o.uid && gid == o.gid; }
    bool tcp() const { return !listen.empty(); }
    // Where it is bound: the same where means the same socket, kept across a
    // reload. A port the kernel picks (port 0) is known by its name instead.
    std::string where() const {
        if (!tcp()) return path;
        return "tcp " + listen + (listen.ends_with(":0") ? " " + name : "");
    }
    bool operator==(const SocketSpec& o) const {
        return name == o.name && path == o.path && listen == o.listen && backlog == o.backlog &&
               reuse_address == o.reuse_address && ipv6_only == o.ipv6_only;
    }
};

inline SocketSpec unix_socket(std::string name, std::string path) {
    SocketSpec s;
    s.name = std::move(name);
    s.path = std::move(path);
    return s;
}

struct ChildSpec;

struct SupervisorSpec {
    Strategy strategy = Strategy::one_for_one;
    unsigned max_restarts = 3;
    std::uint64_t max_seconds = 5;
    AutoShutdown auto_shutdown = AutoShutdown::never;
    std::vector<ChildSpec> children;
    // A dynamic supervisor (type = "dynamic", OTP's DynamicSupervisor): no
    // children in the file, each added at run time (seqctl add) from its
    // template. One template, or none for any other supervisor (a vector,
    // since ChildSpec is not yet complete here).
    std::vector<ChildSpec> child_template;
    unsigned max_children = 0;  // dynamic: at most this many at once; 0, no bound but the system's
    bool dynamic() const { return !child_template.empty(); }
    bool operator==(const SupervisorSpec&) const;
};

// Where a child's lines go besides the supervisor's memory of them.
struct LogSpec {
    std::string file;                         // absolute once loaded; empty: no file
    std::uint64_t max_size = 10 << 20;        // bytes, then the file is rotated
    unsigned keep = 5;                        // rotated files kept: file.1 (newest) .. file.keep
    bool to_stderr = true;                    // and on the supervisor's stderr, as ever
    bool operator==(const LogSpec&) const = default;
};

// Whom a child runs as (`user`, `group`, `supplementary_groups`), by name
// as the file gives them and by number as the loader found them.
struct Credentials {
    std::string user, group;
    std::vector<std::string> supplementary;  // as given; empty with `supplementary_given` false: the user's
    bool supplementary_given = false;
    std::uint32_t uid = 0, gid = 0;
    std::vector<std::uint32_t> groups;       // what setgroups gets
    bool operator==(const Credentials&) const = default;
};

// One of `limits`: a resource's soft and hard limit (max: unlimited).
struct ResourceLimit {
    std::string name;  // "nofile", "core", ...
    int resource = 0;  // RLIMIT_*
    std::uint64_t soft = 0, hard = 0;
    bool operator==(const ResourceLimit&) const = default;
};

// A child's health probe: an HTTP GET that must answer 2xx or 3xx, a TCP
// connect, or a command that must exit 0; every interval, each given its
// timeout. `failures` in a row end the child as a failure, as its watchdog
// would.
struct HealthSpec {
    enum class Kind { http, tcp, command };
    Kind kind = Kind::tcp;
    std::string target;                // http: the URL; tcp: HOST:PORT
    std::vector<std::string> command;  // command: argv, argv[0] resolved
    std::uint64_t interval_ms = 5000, timeout_ms = 1000;
    unsigned failures = 3;
    bool operator==(const HealthSpec&) const = default;
};

// A tree's on_event: a command run for each event of these kinds, one at a
// time, with the event as one line of JSON on its stdin.
struct HookSpec {
    std::vector<std::string> command;  // argv, argv[0] resolved
    std::vector<std::string> events;   // the kinds it is run for (tree_events.hpp); empty: every one
    std::uint64_t timeout_ms = 10'000;
    bool operator==(const HookSpec&) const = default;
};

struct ChildSpec {
    std::string name;
    ChildType type = ChildType::worker;
    std::vector<std::string> command;  // argv as written, argv[0] included
    std::string program;               // the file exec'd: command[0] (or `program`) resolved once loaded
    RestartType restart = RestartType::permanent;
    bool autostart = true;  // false: the tree starts without it, `seqctl start` brings it up
    // Its end by itself (a transient's normal exit, any end of a temporary)
    // ends its supervisor, as auto_shutdown says.
    bool significant = false;
    // ms from SIGTERM to SIGKILL; 0 is brutal_kill, nullopt infinity.
    std::optional<std::uint64_t> shutdown_ms = 5000;
    Readiness readiness = Readiness::none;
    std::uint64_t start_timeout_ms = 5000;
    BackoffSpec backoff;  // the delay before a restart; none by default
    std::uint64_t watchdog_ms = 0;  // WATCHDOG=1 at least this often once running; 0: no watchdog
    std::optional<HealthSpec> health;
    std::uint64_t reserve = 0;  // $SEQ_RESERVE for the child (seq-worker's --reserve); 0: not set
    // Keep one more instance started and idle, activated when this one dies
    // (sequence-protocol(7): STANDBY PROTOCOL). Needs notify-fd readiness and a socket.
    bool standby = false;
    // A pool: this many processes of the one spec, each given the same
    // sockets (the kernel spreads the connections), each restarted alone.
    // 0: not a pool, one process as ever.
    unsigned instances = 0;
    // The spec of one instance of a pool, as member_spec makes it from the
    // pool's: its pool's name and its index ($SEQ_INDEX). Empty otherwise.
    std::string pool;
    unsigned pool_index = 0;
    std::vector<SocketSpec> sockets;
    std::map<std::string, std::string> env;
    // Read again at each start, before `env` (which wins): absolute once
    // loaded; an optional one may be missing ("-file" in the tree file).
    struct EnvFile {
        std::string path;
        bool optional = false;
        bool operator==(const EnvFile&) const = default;
    };
    std::vector<EnvFile> env_files;
    std::string cwd;  // empty: the supervisor's own
    // How a change of this spec is applied; for rolling, how many new
    // instances start at once, and how long each must run once ready for
    // the rollout to count it good (its gate).
    Update update = Update::restart;
    unsigned max_surge = 1;
    std::uint64_t min_uptime_ms = 5000;
    // OTP's code_change: a command run once, with $SEQ_STASH, after a new
    // spec of it is taken and before its first new instance starts (a
    // rollout's first step); if it fails, nothing is replaced. Its program
    // resolved, as command's is. Empty: none.
    std::vector<std::string> migrate;
    // Grows by one with each change of the spec a reload applies (the top
    // supervisor numbers them for the whole tree, so a nested supervisor
    // is handed them): its processes get it as $SEQ_GENERATION.
    std::uint64_t generation = 1;
    // Run as another user (only by a root supervisor), with its umask,
    // nice value and resource limits, set in the child before its exec.
    std::optional<Credentials> run_as;
    std::optional<std::uint32_t> umask;
    std::optional<int> nice;
    std::vector<ResourceLimit> limits;
    // Its memory, at most (bytes): memory.max of its cgroup where the
    // memory controller is there; else the sum of its processes' RSS,
    // checked by the supervisor once a second, and over it, it is ended as
    // a failure.
    std::optional<std::uint64_t> memory_max;
    // Held by its cgroup's controllers alone: a start where one is missing
    // is refused, saying so. cpu_max as cpu.max takes it ("50000 100000").
    std::optional<std::uint64_t> memory_high, pids_max, io_weight;
    std::string cpu_max;
    // Key patterns of the stash it may touch besides its own (`path:*`),
    // under the tree's stash_acl.
    std::vector<std::string> stash_keys;
    // Its own output's file; from a supervisor's log_dir unless it says
    // otherwise. A nested supervisor's subtree carries each one resolved.
    LogSpec log;
    SupervisorSpec sub;  // type == supervisor: its flags and children
    bool operator==(const ChildSpec&) const = default;
};

inline bool SupervisorSpec::operator==(const SupervisorSpec& o) const {
    return strategy == o.strategy && max_restarts == o.max_restarts && max_seconds == o.max_seconds &&
           auto_shutdown == o.auto_shutdown && children == o.children && child_template == o.child_template &&
           max_children == o.max_children;
}

// The ranges of a tree file's numbers. seq-supervisor's flags for the
// built-in tree take the same, so that --print-config prints a valid file.
struct Bounds {
    std::int64_t lo, hi;
};
namespace bounds {
inline constexpr Bounds max_restarts{0, 1'000'000};
inline constexpr Bounds max_seconds{1, 86400 * 365};
inline constexpr Bounds ms{0, 86'400'000};  // shutdown, and each of backoff's
inline constexpr Bounds start_timeout{1, 86'400'000};
inline constexpr Bounds watchdog{10, 86'400'000};
inline constexpr Bounds reserve{1, max_reserve};
inline constexpr Bounds backlog{1, 65535};
inline constexpr Bounds instances{1, 10'000};
inline constexpr Bounds max_children{1, 1'000'000};
inline constexpr Bounds max_surge{1, 10'000};
inline constexpr Bounds min_uptime{0, 86'400'000};
inline constexpr Bounds generation{1, std::int64_t{1} << 53};
inline constexpr Bounds log_max_size{4096, std::int64_t{1} << 50};
inline constexpr Bounds log_keep{0, 1000};
inline constexpr Bounds nice{-20, 19};
inline constexpr Bounds memory_max{1 << 20, std::int64_t{1} << 50};
inline constexpr Bounds pids_max{1, 4'194'304};
inline constexpr Bounds io_weight{1, 10000};
inline constexpr Bounds crash_loop_restarts{0, 1'000'000};
inline constexpr Bounds crash_loop_seconds{1, 86400};
inline constexpr Bounds hook_timeout{10, 3'600'000};
inline constexpr Bounds health_interval{10, 86'400'000};
inline constexpr Bounds health_timeout{10, 3'600'000};
inline constexpr Bounds health_failures{1, 1000};
}  // namespace bounds

// A child's name (and a socket's): 1 to 64 letters, digits, '_', '-' or
// '.', starting with a letter, digit or '_'. What the rule is, in words.
bool valid_name(std::string_view s);
inline constexpr const char* name_rule =
    "1 to 64 letters, digits, '_', '-' or '.', starting with a letter, digit or '_'";
// "supervisor", "dynamic" or "worker", as a tree file's `type` says it.
std::string_view type_name(const ChildSpec& c);

// A group named in the tree file, and its number as loaded.
struct NamedGroup {
    std::string name;
    std::uint32_t gid = 0;
    bool operator==(const NamedGroup&) const = default;
};

struct Tree {
    SupervisorSpec root;
    std::string stash;  // a socket's name: its path goes to every child as $SEQ_STASH
    // Each child its own user of the stash, with its own password, touching
    // only its own keys (`path:...`) and those its stash_keys grant.
    bool stash_acl = true;
    // The read-only HTTP listener (/metrics, /livez, /readyz): HOST:PORT or
    // a Unix socket's path (relative: in the run dir); empty: none.
    std::string http;
    // A crash_loop event (seqctl events) when a child is restarted after a
    // death more than this many times within this many seconds.
    std::uint32_t crash_loop_restarts = 5, crash_loop_seconds = 60;
    std::optional<HookSpec> on_event;
    // Who besides the supervisor's user may enter the run dir (to reach the
    // sockets there, each as its own mode allows), and use the control socket.
    std::optional<NamedGroup> run_dir_group, control_group;
};

// The run dir's mode and group, as a tree's run_dir_group and control_group
// want them: 0700 and ours with neither; 0710 and that group with one (or
// both the same); 0711 with two groups, since a dir has one (each socket's
// own mode and group still say who may connect).
struct DirAccess {
    std::uint32_t mode = 0700;
    std::optional<std::uint32_t> gid;
};
DirAccess run_dir_access(const Tree& t);
// The control socket's: 0660 and control_group's, or 0600 and ours.
SocketSpec control_socket_spec(const Tree& t, std::string path);

// The spec of the child at `path` ("mailer", "deep/leaf") below `s`, or null.
const ChildSpec* find_spec(const SupervisorSpec& s, std::string_view path);

// Instance `k` of the pool `pool`: its spec, named "web#3".
ChildSpec member_spec(const ChildSpec& pool, unsigned k);
// "web#3": the pool's name and the index, if `name` names an instance.
std::optional<std::pair<std::string_view, unsigned>> split_member(std::string_view name);

// Whether `path` names a child of a dynamic supervisor below `s` (one
// added at run time, which no spec lists).
bool below_dynamic(const SupervisorSpec& s, std::string_view path);

// Whether a process started from `a` runs what `b` says: they differ in no
// more than their generation and, for a pool, its number of instances.
bool same_process_spec(const ChildSpec& a, const ChildSpec& b);
// Each child of `next` (templates and subtrees too) numbered against the
// one of the same name and type in `running`: the same generation if its
// spec is the same, one more if it changed; 1 for a child that is new.
void number_generations(const SupervisorSpec& running, SupervisorSpec& next);

// `into` with the child at `path` ("web", "jobs/mailer") as `from` has it
// (added, changed, or gone if `from` has none there): what an upgrade of
// one part of the tree applies. Why not, if no supervisor along the path
// has it.
std::optional<std::string> graft(SupervisorSpec& into, const SupervisorSpec& from, std::string_view path);

// Every socket of the subtree, in start order, depth first.
std::vector<SocketSpec> sockets_of(const SupervisorSpec& s);

}  // namespace seq::sup
