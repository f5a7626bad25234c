#include "supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <set>

#include "log.hpp"
#include "process.hpp"
#include "resp.hpp"
#include "tree_file.hpp"
#include "notify_socket.hpp"

namespace seq::sup {

Supervisor::Supervisor(uv::Loop& loop, SupervisorSpec spec, Environment env)
    : loop_(loop), options_(spec), env_(std::move(env)), intensity_(spec.max_restarts, spec.max_seconds * 1000),
      sigchld_(uv::make_signal(loop.get())), sweep_(uv::make_timer(loop.get())) {
    options_.children.clear();
    for (auto& child : spec.children) {
        children_.push_back(make_child(std::move(child)));
        children_.back()->index = children_.size() - 1;
    }
    sigchld_->data = this;
    sweep_->data = this;
}

Supervisor::~Supervisor() {
    // Whatever still runs (the loop was stopped early) must not outlive us.
    for (auto& c : children_)
        if (c->pid > 0) {
            kill(-c->pid, SIGKILL);
            waitpid(c->pid, nullptr, 0);
        }
}

std::unique_ptr<Supervisor::Child> Supervisor::make_child(ChildSpec spec) {
    auto c = std::make_unique<Child>();
    c->spec = std::move(spec);
    c->path = env_.path.empty() ? c->spec.name : env_.path + "/" + c->spec.name;
    c->owner = this;
    c->timer = uv::make_timer(loop_.get());
    c->timer->data = c.get();
    return c;
}

std::string Supervisor::reconfigure(const SupervisorSpec& spec, Environment env) {
    env.path = env_.path;
    env.self = env_.self;
    env_ = std::move(env);
    if (spec.strategy != options_.strategy || spec.max_restarts != options_.max_restarts ||
        spec.max_seconds != options_.max_seconds) {
        options_.strategy = spec.strategy;
        options_.max_restarts = spec.max_restarts;
        options_.max_seconds = spec.max_seconds;
        intensity_ = Intensity(spec.max_restarts, spec.max_seconds * 1000);  // a new window
    }
    std::vector<std::unique_ptr<Child>> next;
    std::string added, changed, same, removed;
    auto note = [](std::string& list, const std::string& name) { list += (list.empty() ? "" : ", ") + name; };
    for (auto& want : spec.children) {
        auto it = std::find_if(children_.begin(), children_.end(), [&](auto& c) {
            return c && !c->removed && c->spec.name == want.name && c->spec.type == want.type;
        });
        if (it == children_.end()) {
            next.push_back(make_child(want));
            note(added, want.name);
            continue;
        }
        auto c = std::move(*it);
        if (c->spec == want) {
            note(same, c->spec.name);
        } else if (c->spec.type == ChildType::supervisor && sockets_of(c->spec.sub) == sockets_of(want.sub)) {
            // Its own fields take effect as they are used; its subtree is
            // its business: what is unchanged there keeps running too.
            bool subtree_changed = !(c->spec.sub == want.sub);
            c->spec = want;
            // A nested supervisor still starting runs its old subtree too.
            if (subtree_changed && (c->state == State::running || c->state == State::starting) && c->subtree) {
                Tree sub{want.sub, ""};
                if (auto why = c->subtree->reload(write_tree(sub))) log("%s: %s", c->path.c_str(), why->c_str());
            }
            note(changed, c->spec.name);
        } else {
            c->spec = want;
            c->want = true;
            if (c->state == State::starting || c->state == State::running) c->must_stop = true;
            note(changed, c->spec.name + " (restarted)");
        }
        next.push_back(std::move(c));
    }
    // What is no longer wanted is stopped, last in the order so first to go.
    for (auto& c : children_)
        if (c) {
            if (!c->removed) note(removed, c->spec.name);
            c->removed = true;
            c->want = false;
            c->must_stop = false;
            next.push_back(std::move(c));
        }
    children_ = std::move(next);
    for (std::size_t i = 0; i < children_.size(); ++i) children_[i]->index = i;
    auto said = "added: " + (added.empty() ? "-" : added) + "; removed: " + (removed.empty() ? "-" : removed) +
                "; changed: " + (changed.empty() ? "-" : changed) + "; unchanged: " + (same.empty() ? "-" : same);
    log("reloaded: %s", said.c_str());
    step();
    return said;
}

const char* Supervisor::state_name(State s) {
    switch (s) {
    case State::down: return "down";
    case State::starting: return "starting";
    case State::running: return "running";
    case State::stopping: return "stopping";
    }
    return "?";
}

std::string Supervisor::seconds(std::uint64_t ms) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
}

std::string Supervisor::child_names() const {
    std::string s;
    for (auto& c : children_) s += (s.empty() ? "" : ", ") + c->spec.name;
    return s;
}

void Supervisor::start() {
    // Whatever a child leaves behind (a background job, a double fork) is
    // adopted by us rather than by init, so that we can stop it and reap it.
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) log("cannot become a subreaper: %s", std::strerror(errno));
    uv::check(uv_signal_start(sigchld_.get(), [](uv_signal_t* h, int) {
        if (auto* s = uv::owner<Supervisor>(h)) s->reap();
    }, SIGCHLD), "uv_signal_start(SIGCHLD)");
    log("supervising %s; %s, at most %u restarts in %llus", child_names().c_str(),
        std::string(to_string(options_.strategy)).c_str(), options_.max_restarts,
        static_cast<unsigned long long>(options_.max_seconds));
    step();
}

// Brings the children one move closer to what is wanted. Stops come first,
// one at a time in reverse start order; then starts, in start order, each
// only when every child before it is ready.
void Supervisor::step() {
    ++generation_;
    converge();
    if (first_settled_ && settled()) std::exchange(first_settled_, nullptr)();
}

void Supervisor::converge() {
    if (finished_) return;
    // Children gone from the spec are forgotten once they are down.
    if (std::erase_if(children_, [](auto& c) { return c->removed && c->state == State::down; }))
        for (std::size_t i = 0; i < children_.size(); ++i) children_[i]->index = i;
    for (auto& c : children_)
        if (c->state == State::stopping) return;
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
        auto& c = **it;
        if ((c.must_stop || !c.want) && (c.state == State::starting || c.state == State::running)) {
            begin_stop(c);
            return;
        }
    }
    if (shutting_down_) {
        finished_ = true;
        ++generation_;
        sweep_orphans();
        log("all children stopped");
        loop_.stop();
        return;
    }
    for (auto& c : children_) {
        if (c->state == State::starting) return;
        if (c->state == State::down && c->want) {
            try {
                spawn(*c);
            } catch (const std::exception& e) {
                return spawn_failed(*c, e.what());
            }
            if (c->state != State::running) return;
        }
    }
}

// fork or pipe failed (no memory, no pids, no fds): a failed start like any
// other, counted against the intensity, and tried again shortly.
void Supervisor::spawn_failed(Child& c, const std::string& why) {
    c.last_exit = "could not start: " + why;
    if (!intensity_.record(loop_.now())) {
        log("cannot start %s: %s; more than %u restarts in %llus: giving up", c.path.c_str(), why.c_str(),
            options_.max_restarts, static_cast<unsigned long long>(options_.max_seconds));
        gave_up_ = true;
        shutting_down_ = true;
        for (auto& other : children_) other->want = false;
        return step();
    }
    log("cannot start %s: %s; trying again in 100 ms", c.path.c_str(), why.c_str());
    uv_timer_start(c.timer.get(), [](uv_timer_t* t) {
        if (auto* child = uv::owner<Child>(t)) child->owner->step();
    }, 100, 0);
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
SpawnArgs Supervisor::spawn_args(Child& c, std::vector<Fd>& keep) {
    SpawnArgs args;
    args.cwd = c.spec.cwd;
    args.env.push_back("SEQ_NAME=" + c.path);
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
        for (auto& s : c.spec.sockets) args.listen_fds.emplace_back(s.name, env_.sockets.at(s.name));
        auto [r, w] = make_pipe(O_NONBLOCK);
        args.output_fd = w.get();
        keep.push_back(std::move(w));
        c.output.reset();
        c.output_read = std::move(r);
        args.env.push_back("SEQ_LOG=bare");
    }
    if (c.spec.readiness == Readiness::sd_notify) {
        if (!notify_socket_)
            notify_socket_.emplace(loop_.get(), [this](pid_t sender, std::string_view m) { on_sd_notify(sender, m); });
        args.env.push_back("NOTIFY_SOCKET=" + notify_socket_->address());
    }
    if (c.spec.readiness == Readiness::notify_fd || c.spec.type == ChildType::supervisor) {
        auto [r, w] = make_pipe(O_NONBLOCK);
        c.notify = std::move(r);
        args.env.push_back("SEQ_NOTIFY_FD=" + pass(std::move(w)));
    }
    return args;
}

void Supervisor::spawn(Child& c) {
    std::vector<Fd> keep;
    auto args = spawn_args(c, keep);
    const bool notify = c.notify.get() >= 0 || c.spec.readiness == Readiness::sd_notify;
    c.pid = sup::spawn(args);
    ++c.spawns;
    ++generation_;
    keep.clear();
    if (c.output_read) c.output.emplace(loop_.get(), std::move(c.output_read), c.path, c.pid);
    c.started_ms = loop_.now();
    c.start_failed = false;
    c.must_stop = false;
    if (!notify) {
        c.state = State::running;
        log("%s started (pid %d)", c.path.c_str(), c.pid);
        return;
    }
    c.state = State::starting;
    if (c.notify) {
        c.notify_poll = uv::make_poll(loop_.get(), c.notify.get());
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

void Supervisor::on_notify(Child& c) {
    char buf[64];
    ssize_t n = read(c.notify.get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    bool ready = n > 0 && std::string_view(buf, static_cast<std::size_t>(n)).find('\n') != std::string_view::npos;
    end_notify(c);
    if (!ready) return;  // closed without a word: its death or the start timeout decides
    became_ready(c);
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
}

void Supervisor::became_ready(Child& c) {
    uv_timer_stop(c.timer.get());
    c.state = State::running;
    log("%s ready (pid %d) in %llu ms", c.path.c_str(), c.pid,
        static_cast<unsigned long long>(loop_.now() - c.started_ms));
    step();
}

void Supervisor::end_notify(Child& c) {
    c.notify_poll.close();
    c.notify.reset();
}

// The child and every process of its group: what it started goes with it.
void Supervisor::signal_group(Child& c, int sig) {
    if (c.pid > 0 && kill(-c.pid, sig) < 0) kill(c.pid, sig);
}

void Supervisor::begin_stop(Child& c) {
    end_notify(c);
    c.state = State::stopping;
    if (c.spec.shutdown_ms == 0u) {  // brutal_kill
        signal_group(c, SIGKILL);
        return;
    }
    signal_group(c, SIGTERM);
    if (!c.spec.shutdown_ms) return;  // infinity: it takes what it takes
    uv_timer_start(c.timer.get(), [](uv_timer_t* t) {
        auto* child = uv::owner<Child>(t);
        if (!child || child->state != State::stopping) return;
        log("%s (pid %d) still running %llu ms after SIGTERM; sending SIGKILL", child->path.c_str(), child->pid,
            static_cast<unsigned long long>(*child->spec.shutdown_ms));
        child->owner->signal_group(*child, SIGKILL);
    }, *c.spec.shutdown_ms, 0);
}

// Processes we adopted whose group has no running child of ours: left by a
// child that is gone (a double fork, a background job of a killed shell, the
// subtree of a nested supervisor killed with -9). No orphans: they go too.
void Supervisor::sweep_orphans() {
    std::set<pid_t> known;
    for (auto& c : children_)
        if (c->pid > 0) known.insert(c->pid);
    for (pid_t pid : adopted_children(known)) {
        pid_t group = live_process_group(pid);
        if (group < 0) continue;                // dead already: only its reaping is left
        if (known.count(group)) continue;       // in a live child's group: it goes with that child
        log("killing pid %d (%s), left behind by a child that is gone", pid, process_name(pid).c_str());
        // Its group was made by one of our descendants (each child has its
        // own), and no number of a group is reused while it has members.
        if (group != getpgrp()) kill(-group, SIGKILL);
        kill(pid, SIGKILL);
    }
}

void Supervisor::reap() {
    bool adopted = false;
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;
        bool ours = false;
        for (auto& c : children_)
            if (c->pid == pid) {
                on_death(*c, status);
                ours = true;
                break;
            }
        adopted = adopted || !ours;
    }
    // An adopted process died: its own children may be ours now. The look
    // waits a moment, so a restart never waits for it.
    if (adopted && !finished_) uv_timer_start(sweep_.get(), [](uv_timer_t* t) {
        if (auto* s = uv::owner<Supervisor>(t)) s->sweep_orphans();
    }, 20, 0);
}

void Supervisor::on_death(Child& c, int status) {
    auto now = loop_.now();
    auto ran = seconds(now - c.started_ms);
    auto how = describe_exit(status);
    auto pid = c.pid;
    bool asked = c.state == State::stopping;
    // What it started and left running goes with it.
    if (kill(-pid, SIGKILL) == 0 && !asked && !shutting_down_)
        log("%s (pid %d): killed what was left of its process group", c.path.c_str(), pid);
    if (c.output) {
        c.output->finish();
        c.output.reset();
    }
    c.subtree.reset();
    uv_timer_start(sweep_.get(), [](uv_timer_t* t) {
        if (auto* s = uv::owner<Supervisor>(t)) s->sweep_orphans();
    }, 20, 0);
    end_notify(c);
    uv_timer_stop(c.timer.get());
    c.state = State::down;
    c.pid = 0;
    c.last_exit = how;
    c.must_stop = false;
    const char* name = c.path.c_str();
    if (asked || shutting_down_) {
        log("%s (pid %d) stopped: %s after %s", name, pid, how.c_str(), ran.c_str());
        return step();
    }
    if (c.start_failed) how += ", having never become ready";
    bool normal = is_normal_exit(status) && !c.start_failed;
    if (!c.want || !wants_restart(c.spec.restart, normal)) {
        c.want = false;
        log("%s (pid %d) %s after %s; %s child: not restarted", name, pid, how.c_str(), ran.c_str(),
            std::string(to_string(c.spec.restart)).c_str());
        return step();
    }
    if (!intensity_.record(now)) {
        log("%s (pid %d) %s after %s; more than %u restarts in %llus: giving up, stopping every child", name, pid,
            how.c_str(), ran.c_str(), options_.max_restarts, static_cast<unsigned long long>(options_.max_seconds));
        gave_up_ = true;
        shutting_down_ = true;
        for (auto& other : children_) other->want = false;
        return step();
    }
    auto plan = plan_restart(options_.strategy, children_.size(), c.index);
    // Only what runs can be stopped: a flag left on a child that is down
    // would stop it again the moment its restart made it ready.
    for (auto i : plan.stop)
        if (children_[i]->state != State::down) children_[i]->must_stop = true;
    std::string restarting;
    for (auto i : plan.start) {
        auto& r = *children_[i];
        // A temporary sibling is stopped with the others but never restarted
        // (OTP); one removed by a reload is only stopped.
        if (&r != &c && (r.spec.restart == RestartType::temporary || r.removed)) {
            r.want = false;
            continue;
        }
        r.want = true;
        ++r.restarts;
        restarting += (restarting.empty() ? "" : ", ") + r.spec.name;
    }
    log("%s (pid %d) %s after %s; %s: restarting %s (restart %zu of %u in %llus)", name, pid, how.c_str(),
        ran.c_str(), std::string(to_string(options_.strategy)).c_str(), restarting.c_str(), intensity_.recent(now),
        options_.max_restarts, static_cast<unsigned long long>(options_.max_seconds));
    step();
}

void Supervisor::shutdown(const std::string& why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    log("%s; stopping children in reverse order", why.c_str());
    for (auto& c : children_) c->want = false;
    step();
}

std::optional<std::string> Supervisor::restart(std::string_view name) {
    if (!has_child(name))
        return "ERR no child at '" + std::string(name.substr(0, 128)) + "' (children: " + child_names() + ")";
    if (shutting_down_) return "ERR the supervisor is stopping: nothing is restarted";
    auto [c, rest] = route(name);
    if (!rest.empty()) {
        if (c->state != State::running || !c->subtree) return "ERR " + c->path + " is not running";
        log("%s: restart requested", (c->path + "/" + std::string(rest)).c_str());
        return c->subtree->restart(rest);
    }
    log("%s: restart requested", c->path.c_str());
    c->want = true;
    if (c->state == State::starting || c->state == State::running) c->must_stop = true;
    ++c->restarts;
    step();
    return std::nullopt;
}

Supervisor::Child* Supervisor::find(std::string_view name) const {
    for (auto& c : children_)
        if (!c->removed && c->spec.name == name) return c.get();
    return nullptr;
}

std::pair<Supervisor::Child*, std::string_view> Supervisor::route(std::string_view path) const {
    auto slash = path.find('/');
    auto* c = find(path.substr(0, slash));
    if (!c || slash == std::string_view::npos) return {c, {}};
    return {c->spec.type == ChildType::supervisor ? c : nullptr, path.substr(slash + 1)};
}

// A child below a nested supervisor, as its latest snapshot has it.
const resp::Value* Supervisor::nested(std::string_view path) const {
    auto [c, rest] = route(path);
    if (!c || rest.empty() || !c->subtree || !c->subtree->snapshot()) return nullptr;
    return find_in_snapshot(*c->subtree->snapshot(), rest);
}

bool Supervisor::has_child(std::string_view path) const {
    auto [c, rest] = route(path);
    if (!c) return false;
    if (rest.empty()) return true;
    // Below a nested supervisor: in its spec, whether or not it runs now.
    const SupervisorSpec* spec = &c->spec.sub;
    for (;;) {
        auto slash = rest.find('/');
        auto name = rest.substr(0, slash);
        const ChildSpec* found = nullptr;
        for (auto& k : spec->children)
            if (k.name == name) found = &k;
        if (!found) return false;
        if (slash == std::string_view::npos) return true;
        if (found->type != ChildType::supervisor) return false;
        spec = &found->sub;
        rest = rest.substr(slash + 1);
    }
}

bool Supervisor::settled() const {
    if (shutting_down_) return false;
    for (auto& c : children_) {
        if (c->want ? c->state != State::running : c->state != State::down) return false;
        if (c->spec.type == ChildType::supervisor && c->state == State::running &&
            !(c->subtree && c->subtree->snapshot() && snapshot_settled(*c->subtree->snapshot())))
            return false;
    }
    return true;
}

std::uint64_t Supervisor::spawns(std::string_view name) const {
    auto [c, rest] = route(name);
    if (c && rest.empty()) return c->spawns;
    auto* v = nested(name);
    auto* n = v ? field(*v, "spawns") : nullptr;
    return n ? static_cast<std::uint64_t>(n->integer) : 0;
}

bool Supervisor::running_since(std::string_view name, std::uint64_t spawn) const {
    auto [c, rest] = route(name);
    if (c && rest.empty()) return c->state == State::running && c->spawns >= spawn;
    auto* v = nested(name);
    auto* state = v ? field(*v, "state") : nullptr;
    auto* n = v ? field(*v, "spawns") : nullptr;
    return state && n && state->str == "running" && static_cast<std::uint64_t>(n->integer) >= spawn;
}

namespace {

resp::Value bulk(std::string_view s) {
    resp::Value v;
    v.type = resp::Value::Type::bulk;
    v.str = s;
    return v;
}

resp::Value integer(std::int64_t n) {
    resp::Value v;
    v.type = resp::Value::Type::integer;
    v.integer = n;
    return v;
}

resp::Value array() {
    resp::Value v;
    v.type = resp::Value::Type::array;
    return v;
}

void put(resp::Value& kv, std::string_view key, resp::Value value) {
    kv.elems.push_back(bulk(key));
    kv.elems.push_back(std::move(value));
}

}  // namespace

resp::Value Supervisor::snapshot() {
    auto now = loop_.now();
    auto top = array();
    put(top, "strategy", bulk(to_string(options_.strategy)));
    put(top, "max_restarts", integer(options_.max_restarts));
    put(top, "max_seconds", integer(static_cast<std::int64_t>(options_.max_seconds)));
    put(top, "restarts_in_window", integer(static_cast<std::int64_t>(intensity_.recent(now))));
    put(top, "pid", integer(getpid()));
    put(top, "state", bulk(shutting_down_ ? "stopping" : "running"));
    auto children = array();
    for (auto& c : children_) {
        auto kv = array();
        put(kv, "name", bulk(c->spec.name));
        put(kv, "type", bulk(to_string(c->spec.type)));
        put(kv, "pid", c->pid > 0 ? integer(c->pid) : resp::Value{});
        put(kv, "state", bulk(c->state == State::down && !c->want ? "stopped" : state_name(c->state)));
        put(kv, "restarts", integer(c->restarts));
        put(kv, "spawns", integer(static_cast<std::int64_t>(c->spawns)));
        put(kv, "last_exit", c->last_exit.empty() ? resp::Value{} : bulk(c->last_exit));
        put(kv, "uptime_ms", c->pid > 0 ? integer(static_cast<std::int64_t>(now - c->started_ms)) : resp::Value{});
        bool settled = c->want ? c->state == State::running : c->state == State::down;
        if (c->spec.type == ChildType::supervisor) {
            put(kv, "strategy", bulk(to_string(c->spec.sub.strategy)));
            put(kv, "max_restarts", integer(c->spec.sub.max_restarts));
            put(kv, "max_seconds", integer(static_cast<std::int64_t>(c->spec.sub.max_seconds)));
            const resp::Value* snap = c->pid > 0 && c->subtree ? c->subtree->snapshot() : nullptr;
            auto* window = snap && !snap->elems.empty() ? field(snap->elems[0], "restarts_in_window") : nullptr;
            put(kv, "restarts_in_window", window ? *window : integer(0));
            put(kv, "children", snap ? aged_children(*snap, now - c->subtree->received_ms()) : array());
            if (c->state == State::running) settled = settled && snap && snapshot_settled(*snap);
        }
        put(kv, "settled", integer(settled ? 1 : 0));
        children.elems.push_back(std::move(kv));
    }
    auto v = array();
    v.elems.push_back(std::move(top));
    v.elems.push_back(std::move(children));
    return v;
}

void Supervisor::status(std::string& out) { resp::append_value(out, snapshot()); }

}  // namespace seq::sup
