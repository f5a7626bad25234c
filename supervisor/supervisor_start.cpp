// How the supervisor starts a child and learns that it is ready: what it is
// handed (argv, sockets, fds, environment, a pipe for its output), and the
// readiness protocols (a newline on an fd, or READY=1 on $NOTIFY_SOCKET).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>

#include "log.hpp"
#include "supervisor.hpp"
#include "tree_file.hpp"

namespace seq::sup {

// A start that failed (fork or a pipe refused, or the child's exec): not a
// crash, so no strategy runs and no sibling is touched; but it counts
// against the intensity, so a program that cannot start ends in giving up,
// and it is tried again after its backoff (at least 100 ms).
void Supervisor::start_failed(Child& c, const std::string& why) {
    c.last_exit = why;
    if (!intensity_.record(loop_.now())) {
        log("%s: %s; more than %u restarts in %llus: giving up", c.path.c_str(), why.c_str(),
            options_.max_restarts, static_cast<unsigned long long>(options_.max_seconds));
        gave_up_ = true;
        begin_shutdown();
        for (auto& other : children_) other->want = false;
        return step();
    }
    auto delay = std::max<std::uint64_t>(100, c.backoff.next(c.spec.backoff, 0));
    log("%s: %s; trying again in %llu ms", c.path.c_str(), why.c_str(), static_cast<unsigned long long>(delay));
    // Held off like a backoff: another step() meanwhile does not try (and
    // count) again at once.
    c.not_before_ms = loop_.now() + delay;
    uv_timer_start(c.timer.get(), [](uv_timer_t* t) {
        if (auto* child = uv::owner<Child>(t)) child->owner->step();
    }, delay, 0);
    step();
}

namespace {

std::pair<Fd, Fd> make_pipe(int read_flags) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    if (read_flags) fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | read_flags);
    return {Fd(p[0]), Fd(p[1])};
}

}  // namespace

// What the child is started with. Fds the child inherits are kept in
// `keep` until it is forked; the ends we read go to the child's record.
SpawnArgs Supervisor::spawn_args(Child& c, std::vector<Fd>& keep, Pipes& ours, bool as_standby) {
    SpawnArgs args;
    args.cwd = c.spec.cwd;
    args.nofile = env_.child_nofile;
    args.env.push_back("SEQ_NAME=" + c.path);
    args.env.push_back("SEQ_INSTANCE=" + std::to_string(c.spawns + 1));  // which start of it this is
    if (!env_.stash.empty()) args.env.push_back("SEQ_STASH=" + env_.stash);
    for (auto& [k, v] : c.spec.env) args.env.push_back(k + "=" + v);
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
        Tree sub{c.spec.sub, ""};
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
        c.subtree.emplace(loop_.get(), std::move(ours), c.path, [this] { step(); });
        args.argv = {env_.self, "--nested", c.path};
        if (log_bare()) args.env.push_back("SEQ_LOG=bare");  // our stderr is stamped by whoever reads it
        args.argv.push_back("--tree-fd");
        args.argv.push_back(pass(std::move(tree)));
        args.argv.push_back("--control-fd");
        args.argv.push_back(pass(Fd(sv[1])));
    } else {
        args.argv = c.spec.command;
        args.program = c.spec.program;
        if (!as_standby)
            for (auto& s : c.spec.sockets) args.listen_fds.emplace_back(s.name, env_.sockets.at(s.name));
        auto [r, w] = make_pipe(O_NONBLOCK);
        args.output_fd = w.get();
        keep.push_back(std::move(w));
        ours.output = std::move(r);
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
        c.standby.activate = Fd(sv[0]);
        args.env.push_back("SEQ_STANDBY_FD=" + pass(Fd(sv[1])));
        // Ours until reaped, so the number cannot name anyone else meanwhile.
        if (c.pid > 0) args.env.push_back("SEQ_STANDBY_FOR=" + std::to_string(c.pid));
    }
    return args;
}

void Supervisor::spawn(Child& c) {
    // A standby stands for the instance that ran when it was started (its
    // $SEQ_STANDBY_FOR), and may have asked for its state when that one
    // ended; a new instance started without it would write on behind its
    // back. So it goes, and a new one is started for the new instance.
    stop_standby(c, "the instance it stood for is replaced by a new start");
    std::vector<Fd> keep;
    Pipes ours;
    auto args = spawn_args(c, keep, ours);
    c.notify = std::move(ours.notify);
    const bool notify = c.notify.get() >= 0 || c.spec.readiness == Readiness::sd_notify;
    auto spawned = sup::spawn(args);
    c.pid = spawned.pid;
    c.exec.emplace(loop_.get(), std::move(spawned.exec_status), args.program.empty() ? args.argv[0] : args.program,
                   args.cwd);
    ++c.spawns;
    ++generation_;
    keep.clear();
    c.output.reset();
    if (ours.output) c.output = std::make_unique<ChildOutput>(loop_.get(), std::move(ours.output), c.path, c.pid);
    c.started_ms = loop_.now();
    c.start_failed = false;
    c.watchdog_fired = false;
    c.must_stop = false;
    if (!notify) {
        c.state = State::running;
        log("%s started (pid %d)", c.path.c_str(), c.pid);
        arm_watchdog(c);
        return;
    }
    c.state = State::starting;
    start_poll(c);
}

// Waits for the child's readiness, within its start timeout.
void Supervisor::start_poll(Child& c) {
    if (c.notify) {
        if (!c.notify_poll) c.notify_poll = uv::make_poll(loop_.get(), c.notify.get());
        c.notify_poll->data = &c;
        uv_poll_start(c.notify_poll.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
            if (auto* child = uv::owner<Child>(h)) child->owner->on_notify(*child);
        });
    }
    uv_timer_start(c.timer.get(), [](uv_timer_t* t) {
        auto* child = uv::owner<Child>(t);
        if (!child || child->state != State::starting) return;
        log("%s (pid %d) not ready after %llu ms; killing it", child->path.c_str(), child->pid,
            static_cast<unsigned long long>(child->spec.start_timeout_ms));
        child->start_failed = true;
        child->owner->signal_group(*child, SIGKILL);
    }, c.spec.start_timeout_ms, 0);
}

// s6's rule: ready at the first newline, whatever comes before it, in as
// many writes as the child likes; the pipe's end without one says nothing.
void Supervisor::on_notify(Child& c) {
    char buf[64];
    for (;;) {
        ssize_t n = read(c.notify.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;  // more to come
        bool ready = n > 0 && std::string_view(buf, static_cast<std::size_t>(n)).find('\n') != std::string_view::npos;
        if (n > 0 && !ready) continue;
        end_notify(c);
        if (ready) became_ready(c);
        return;  // closed without a newline: its death or the start timeout decides
    }
}

// A notification counts for the child that sent it, or one in its process
// group (a helper it ran, such as systemd-notify), and from nobody else.
void Supervisor::on_sd_notify(pid_t sender, std::string_view message) {
    Child* from = nullptr;
    for (auto& c : children_)
        if (c->pid == sender) from = c.get();
    if (!from) {
        pid_t group = live_process_group(sender);
        for (auto& c : children_)
            if (c->pid > 0 && c->pid == group) from = c.get();
    }
    if (!from) {
        // At most a line a second, whoever floods the socket.
        if (loop_.now() >= ignored_log_ms_ + 1000) {
            ignored_log_ms_ = loop_.now();
            log("ignored a notification from pid %d: not a child of this supervisor", static_cast<int>(sender));
        }
        return;
    }
    if (from->state == State::starting && from->spec.readiness == Readiness::sd_notify && says_ready(message))
        became_ready(*from);
    if (from->state == State::running && from->spec.watchdog_ms > 0) {
        if (says(message, "WATCHDOG=trigger")) watchdog_timeout(*from);  // it asks to be treated as hung
        else if (says(message, "WATCHDOG=1")) arm_watchdog(*from);
    }
}

// Counted from when the child is running (ready): its start has its own
// timeout. Each WATCHDOG=1 moves the deadline on.
void Supervisor::arm_watchdog(Child& c) {
    if (c.spec.watchdog_ms == 0) return;
    uv_timer_start(c.watchdog.get(), [](uv_timer_t* t) {
        if (auto* child = uv::owner<Child>(t)) child->owner->watchdog_timeout(*child);
    }, c.spec.watchdog_ms, 0);
}

// A hung child is a crashed child: SIGABRT (a core where cores are on), then
// SIGKILL after its shutdown time; its death is a crash like any other.
void Supervisor::watchdog_timeout(Child& c) {
    if (c.state != State::running || c.watchdog_fired) return;
    c.watchdog_fired = true;
    uv_timer_stop(c.watchdog.get());
    log("%s (pid %d) watchdog timeout: no WATCHDOG=1 for %llu ms; sending SIGABRT", c.path.c_str(), c.pid,
        static_cast<unsigned long long>(c.spec.watchdog_ms));
    signal_group(c, SIGABRT);
    signal_group(c, SIGCONT);  // a stopped child takes its SIGABRT now, not when someone continues it
    auto grace = c.spec.shutdown_ms.value_or(5000);
    uv_timer_start(c.timer.get(), [](uv_timer_t* t) {
        auto* child = uv::owner<Child>(t);
        if (!child || child->state != State::running || !child->watchdog_fired) return;
        log("%s (pid %d) still running after SIGABRT; sending SIGKILL", child->path.c_str(), child->pid);
        child->owner->signal_group(*child, SIGKILL);
    }, grace, 0);
}

void Supervisor::became_ready(Child& c) {
    uv_timer_stop(c.timer.get());
    c.state = State::running;
    log("%s ready (pid %d) in %llu ms", c.path.c_str(), c.pid,
        static_cast<unsigned long long>(loop_.now() - c.started_ms));
    arm_watchdog(c);
    step();
}

void Supervisor::end_notify(Child& c) {
    c.notify_poll.close();
    c.notify.reset();
}

// The child and every process of its group: what it started goes with it.

}  // namespace seq::sup
