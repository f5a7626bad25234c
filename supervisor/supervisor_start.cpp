// How the supervisor starts a child: what it is handed (argv, sockets, fds,
// environment, a pipe for its output), the fork and exec, and a start that
// fails. Its readiness is read in supervisor_instance.cpp.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <cstring>
#include <algorithm>

#include "env_file.hpp"
#include "log.hpp"
#include "supervisor.hpp"
#include "tree_file.hpp"

namespace seq::sup {

// A start that failed (fork or a pipe refused, or the child's exec): not a
// crash, so no strategy runs and no sibling is touched; but it counts
// against the intensity, so a program that cannot start ends in giving up,
// and it is tried again after its backoff (at least 100 ms).
// A start that failed (fork or a pipe refused, or the child's exec): not a
// crash, so no strategy runs and no sibling is touched; but it counts
// against the intensity, so a program that cannot start ends in giving up,
// and it is tried again after its backoff (at least 100 ms).
void Supervisor::start_failed(Child& c, const std::string& why) {
    c.last_exit = why;
    if (first_start_failed(c, why)) return;
    if (!intensity_.record(loop_.now())) return give_up(c.path + ": " + why);
    auto delay = std::max<std::uint64_t>(100, c.backoff.next(c.spec.backoff, 0));
    log("%s: %s; trying again in %llu ms", c.path.c_str(), why.c_str(), static_cast<unsigned long long>(delay));
    // Held off like a backoff: another step() meanwhile does not try (and
    // count) again at once.
    c.not_before_ms = loop_.now() + delay;
    step();
}

void Supervisor::wait_until_due(Child& c) {
    auto now = loop_.now();
    uv_timer_start(c.wait.get(), [](uv_timer_t* t) {
        if (auto* child = uv::owner<Child>(t)) {
            child->owner->touch(*child);
            child->owner->step();
        }
    }, c.not_before_ms > now ? c.not_before_ms - now : 0, 0);
}

namespace {

std::pair<Fd, Fd> make_pipe(int read_flags) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    if (read_flags) fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | read_flags);
    return {Fd(p[0]), Fd(p[1])};
}

}  // namespace

void Supervisor::release_unclaimed() {
    if (cgroups_ && !unclaimed_cgroup_.empty()) cgroups_->release(std::exchange(unclaimed_cgroup_, {}));
}

void Supervisor::place(SpawnArgs& args, std::vector<Fd>& keep, const ChildSpec& spec) {
    release_unclaimed();
    // What only a controller can hold is refused, never ignored, where none can.
    const char* needs = spec.memory_high ? "memory_high"
                        : !spec.cpu_max.empty() ? "cpu_max"
                        : spec.pids_max ? "pids_max"
                        : spec.io_weight ? "io_weight"
                                         : nullptr;
    auto leaf = cgroups_ ? cgroups_->leaf(spec.name) : std::nullopt;
    if (!leaf) {
        if (needs)
            args.refuse = std::string(needs) + " needs a cgroup of its own, and there is none (" +
                          (cgroups_ && !cgroups_->on() ? cgroups_->why_not() : std::string("see the log")) + ")";
        return;
    }
    if (spec.type == ChildType::supervisor) cgroups_->open_controllers(spec.name);
    if (auto why = cgroups_->limit(*leaf, spec.name,
                                   {spec.memory_max, spec.memory_high, spec.pids_max, spec.io_weight, spec.cpu_max}))
        args.refuse = *why;
    args.cgroup_procs = leaf->procs.get();
    args.cgroup = leaf->dir;
    unclaimed_cgroup_ = leaf->dir;
    args.env.push_back("SEQ_CGROUP=" + leaf->dir);
    keep.push_back(std::move(leaf->procs));
}

void confine(SpawnArgs& args, const ChildSpec& spec) {
    for (auto& l : spec.limits) {
        auto value = [](std::uint64_t v) { return v == ~std::uint64_t{0} ? RLIM_INFINITY : static_cast<rlim_t>(v); };
        args.limits.push_back({l.resource, rlimit{value(l.soft), value(l.hard)}});
    }
    args.nice = spec.nice;
    if (spec.umask) args.umask = static_cast<mode_t>(*spec.umask);
    // Naming ourselves changes nothing (and a supervisor not root may).
    if (auto& who = spec.run_as; who && (geteuid() == 0 || who->uid != geteuid()))
        args.identity = SpawnArgs::Identity{who->uid, who->gid, {who->groups.begin(), who->groups.end()}};
}

namespace {

// What `user` may touch: its own keys, and what its spec grants.
std::vector<std::string> stash_patterns(const std::string& user, const ChildSpec& spec) {
    std::vector<std::string> k{user + ":*"};
    k.insert(k.end(), spec.stash_keys.begin(), spec.stash_keys.end());
    return k;
}

void add_patterns(std::vector<std::string>& to, const std::vector<std::string>& more) {
    for (auto& p : more)
        if (std::find(to.begin(), to.end(), p) == to.end()) to.push_back(p);
}

}  // namespace

void Supervisor::sync_stash_users(const std::map<std::string, std::vector<std::string>>& extra) {
    if (!stash_users_ || env_.stash.empty()) return;
    auto wanted = extra;
    for (auto& each : children_)
        if (each->spec.type == ChildType::worker && each->goal != Goal::removed)
            add_patterns(wanted[each->pool_path()], stash_patterns(each->pool_path(), each->spec));
    stash_users_->sync(wanted);
}

void Supervisor::stash_login(SpawnArgs& args, const std::string& user, const ChildSpec& spec) {
    // A tree that names no stash has no users of one: a seq-stash in it is
    // open to whoever may connect.
    if (!stash_users_ || env_.stash.empty()) return;
    // The stash reads its users there (so would any other seq-stash of the
    // tree), and a nested supervisor writes its own.
    args.env.push_back("SEQ_STASH_ACL=" + env_.stash_acl);
    if (spec.type != ChildType::worker) return;
    auto patterns = stash_patterns(user, spec);
    auto password = stash_users_->password(user, patterns);
    if (!password) {
        // A child new to the file, or with new keys (a rollout's new spec).
        sync_stash_users({{user, patterns}});
        password = stash_users_->password(user, patterns);
    }
    args.env.push_back("SEQ_STASH_USER=" + user);
    args.env.push_back("SEQ_STASH_PASSWORD=" + *password);
    args.env.push_back("SEQ_STASH_URL=" + stash_url(user, *password, env_.stash));
}

// What the child is started with. Fds the child inherits are kept in
// `keep` until it is forked; the ends we read go to the child's record.
SpawnArgs Supervisor::spawn_args(Child& c, std::vector<Fd>& keep, Pipes& ours, bool as_standby) {
    SpawnArgs args;
    args.cwd = c.spec.cwd;
    args.nofile = env_.child_nofile;
    confine(args, c.spec);
    // A pool's standby stands for whichever instance dies first: it is
    // the pool's, and learns no index.
    const bool pool_standby = as_standby && !c.spec.pool.empty();
    args.env.push_back("SEQ_NAME=" + (pool_standby ? c.pool_path() : c.path));
    args.env.push_back("SEQ_INSTANCE=" + std::to_string(c.spawns + 1));  // which start of it this is
    if (!c.spec.pool.empty() && !as_standby) args.env.push_back("SEQ_INDEX=" + std::to_string(c.spec.pool_index));
    args.env.push_back("SEQ_GENERATION=" + std::to_string(c.spec.generation));
    if (!env_.stash.empty()) args.env.push_back("SEQ_STASH=" + env_.stash);
    if (!env_.marker.empty()) args.env.push_back("SEQ_TREE=" + env_.marker);
    try {
        stash_login(args, c.pool_path(), c.spec);
    } catch (const std::exception& e) {
        args.refuse = std::string("the stash's users: ") + e.what();
    }
    place(args, keep, c.spec);
    // Its env_files, read again now (a changed secret is taken at a
    // restart), then its env, which wins.
    std::map<std::string, std::string> vars;
    for (auto& f : c.spec.env_files) {
        auto got = read_env_file(f.path, f.optional);
        if (auto* why = std::get_if<std::string>(&got)) {
            if (args.refuse.empty()) args.refuse = "env_file " + *why;
            break;
        }
        for (auto& [k, v] : std::get<0>(got)) vars[k] = v;
    }
    for (auto& [k, v] : c.spec.env) vars[k] = v;
    for (auto& [k, v] : vars) args.env.push_back(k + "=" + v);
    auto pass = [&](Fd fd) {
        args.extra_fds.push_back(fd.get());
        keep.push_back(std::move(fd));
        return std::to_string(child_fd(args, args.extra_fds.size() - 1));
    };
    if (c.spec.type == ChildType::supervisor) {
        // Its subtree as a tree file, on an fd; the sockets its children use;
        // a channel for snapshots up and restarts down. Its log lines are its
        // own, written to our stderr.
        for (auto& s : sockets_of(c.spec.sub)) args.listen_fds.emplace_back(s.name, env_.sockets.at(s.name));
        Tree sub;
        sub.root = c.spec.sub;
        auto text = write_tree(sub);
        Fd tree(memfd_create("subtree", MFD_CLOEXEC));
        if (!tree || ::write(tree.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
            throw std::runtime_error(std::string("memfd: ") + std::strerror(errno));
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
        Fd ours(sv[0]);
        fcntl(ours.get(), F_SETFL, O_NONBLOCK);
        c.subtree.reset();
        // Whether the tree has settled depends on what the snapshots say.
        c.subtree = std::make_unique<SubtreeLink>(loop_.get(), std::move(ours), c.path, [this] { step(); },
                                                  [this, &c](const resp::Value& e) { heard_below(c, e); });
        args.argv = {env_.self, "--nested", c.path};
        if (log_bare()) args.env.push_back("SEQ_LOG=bare");  // our stderr is stamped by whoever reads it
        args.argv.push_back("--tree-fd");
        args.argv.push_back(pass(std::move(tree)));
        args.argv.push_back("--control-fd");
        args.argv.push_back(pass(Fd(sv[1])));
        for (auto& [path, stop] : c.asked_below) {
            args.argv.push_back(stop ? "--stopped" : "--started");
            args.argv.push_back(path);
        }
    } else {
        args.argv = c.spec.command;
        args.program = c.spec.program;
        if (!as_standby)
            for (auto& s : c.spec.sockets) args.listen_fds.emplace_back(s.name, env_.sockets.at(s.name));
        // Its stdout and its stderr apart: each line says which it came by.
        auto [r, w] = make_pipe(O_NONBLOCK);
        args.output_fd = w.get();
        keep.push_back(std::move(w));
        ours.output = std::move(r);
        auto [er, ew] = make_pipe(O_NONBLOCK);
        args.error_fd = ew.get();
        keep.push_back(std::move(ew));
        ours.errors = std::move(er);
        args.env.push_back("SEQ_LOG=bare");
    }
    if (c.spec.reserve > 0) args.env.push_back("SEQ_RESERVE=" + std::to_string(c.spec.reserve));
    if (c.spec.watchdog_ms > 0) {
        args.env.push_back("WATCHDOG_USEC=" + std::to_string(c.spec.watchdog_ms * 1000));
        args.watchdog_pid = true;
    }
    if (c.spec.readiness == Readiness::sd_notify || c.spec.watchdog_ms > 0) {
        if (!notify_socket_)
            notify_socket_.emplace(loop_.get(), [this](pid_t sender, std::string_view m) { on_sd_notify(sender, m); });
        args.env.push_back("NOTIFY_SOCKET=" + notify_socket_->address());
    }
    if (c.spec.readiness == Readiness::notify_fd || c.spec.type == ChildType::supervisor) {
        auto [r, w] = make_pipe(O_NONBLOCK);
        ours.notify = std::move(r);
        args.env.push_back("SEQ_NOTIFY_FD=" + pass(std::move(w)));
    }
    if (as_standby) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
            throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
        ours.activate = Fd(sv[0]);
        args.env.push_back("SEQ_STANDBY_FD=" + pass(Fd(sv[1])));
        // Ours until reaped, so the number cannot name anyone else meanwhile.
        if (c.active && !pool_standby) args.env.push_back("SEQ_STANDBY_FOR=" + std::to_string(c.active->pid));
    }
    return args;
}

std::unique_ptr<Instance> Supervisor::start_instance(Child& c, lifecycle::Role role, bool& says_ready) {
    std::vector<Fd> keep;
    Pipes ours;
    auto args = spawn_args(c, keep, ours);
    auto spawned = sup::spawn(args, &slots_);
    keep.clear();
    says_ready = ours.notify || c.spec.readiness == Readiness::sd_notify || c.spec.readiness == Readiness::health;
    return make_instance(c, role, args, std::move(spawned), std::move(ours));
}

void Supervisor::spawn(Child& c) {
    // A standby stands for the instance that ran when it was started (its
    // $SEQ_STANDBY_FOR), and may have asked for its state when that one
    // ended; a new instance started without it would write on behind its
    // back. So it goes, and a new one is started for the new instance.
    stop_standby(c, "the instance it stood for is replaced by a new start");
    bool notify = false;
    c.active = start_instance(c, lifecycle::Role::active, notify);
    counted_start(c);
    c.last_cause = std::exchange(c.next_cause, Cause::strategy);
    if (c.goal == Goal::restart) want(c, Goal::run);
    // counted_start has counted it: past the first, a restart, and what caused it.
    emit("started", c.path, c.active->pid, c.spawns > 1 ? std::string(to_string(c.last_cause)) : "",
         c.spawns > 1 ? "restart" : "");
    if (notify) return enter(*c.active, lifecycle::Phase::starting);
    enter(*c.active, lifecycle::Phase::running);
    log("%s started (pid %d)", c.path.c_str(), c.active->pid);
    // (An exec that failed is not read here: ExecWatch::failure() reads and
    // closes its pipe, and where the spawn is a fork, not a vfork (under
    // ASan), the exec may not have happened yet. Its death follows.)
    emit("ready", c.path, c.active->pid, "", "", 0);
    c.ready_times.add(0);
}

}  // namespace seq::sup
