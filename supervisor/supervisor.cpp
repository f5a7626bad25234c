#include "supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "log.hpp"
#include "process.hpp"
#include "resp.hpp"

namespace seq::sup {

Supervisor::Supervisor(uv::Loop& loop, SupervisorSpec spec, Environment env)
    : loop_(loop), options_(spec), env_(std::move(env)), intensity_(spec.max_restarts, spec.max_seconds * 1000),
      sigchld_(uv::make_signal(loop.get())), sweep_(uv::make_timer(loop.get())) {
    options_.children.clear();
    for (auto& child : spec.children) {
        auto c = std::make_unique<Child>();
        c->spec = std::move(child);
        c->path = env_.path.empty() ? c->spec.name : env_.path + "/" + c->spec.name;
        c->index = children_.size();
        c->owner = this;
        c->timer = uv::make_timer(loop.get());
        c->timer->data = c.get();
        children_.push_back(std::move(c));
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
    if (finished_) return;
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

void Supervisor::spawn(Child& c) {
    SpawnArgs args;
    args.argv = c.spec.command;
    args.cwd = c.spec.cwd;
    for (auto& s : c.spec.sockets) args.listen_fds.emplace_back(s.name, env_.sockets.at(s.name));
    args.env.push_back("SEQ_NAME=" + c.path);
    if (!env_.stash.empty()) args.env.push_back("SEQ_STASH=" + env_.stash);
    for (auto& [k, v] : c.spec.env) args.env.push_back(k + "=" + v);
    const bool notify = c.spec.readiness == Readiness::notify_fd;
    Fd notify_write, output_write, output_read;
    if (notify) {
        auto [r, w] = make_pipe(O_NONBLOCK);
        c.notify = std::move(r);
        notify_write = std::move(w);
        args.extra_fds.push_back(notify_write.get());
        args.env.push_back("SEQ_NOTIFY_FD=" + std::to_string(child_fd(args, args.extra_fds.size() - 1)));
    }
    if (c.spec.type == ChildType::worker) {
        auto [r, w] = make_pipe(O_NONBLOCK);
        output_read = std::move(r);
        output_write = std::move(w);
        args.output_fd = output_write.get();
        args.env.push_back("SEQ_LOG=bare");
    }
    c.pid = sup::spawn(args);
    ++c.spawns;
    notify_write.reset();
    output_write.reset();
    if (output_read) c.output.emplace(loop_.get(), std::move(output_read), c.path, c.pid);
    c.started_ms = loop_.now();
    c.start_failed = false;
    c.must_stop = false;
    if (!notify) {
        c.state = State::running;
        log("%s started (pid %d)", c.path.c_str(), c.pid);
        return;
    }
    c.state = State::starting;
    c.notify_poll = uv::make_poll(loop_.get(), c.notify.get());
    c.notify_poll->data = &c;
    uv_poll_start(c.notify_poll.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
        if (auto* child = uv::owner<Child>(h)) child->owner->on_notify(*child);
    });
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
        // A temporary sibling is stopped with the others but never restarted (OTP).
        if (&r != &c && r.spec.restart == RestartType::temporary) {
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
    auto* c = find(name);
    if (!c) return "ERR no child named '" + std::string(name.substr(0, 64)) + "' (children: " + child_names() + ")";
    if (shutting_down_) return "ERR the supervisor is stopping: nothing is restarted";
    log("%s: restart requested", c->path.c_str());
    c->want = true;
    if (c->state == State::starting || c->state == State::running) c->must_stop = true;
    ++c->restarts;
    step();
    return std::nullopt;
}

Supervisor::Child* Supervisor::find(std::string_view name) const {
    for (auto& c : children_)
        if (c->spec.name == name) return c.get();
    return nullptr;
}

bool Supervisor::settled() const {
    if (shutting_down_) return false;
    for (auto& c : children_)
        if (c->want ? c->state != State::running : c->state != State::down) return false;
    return true;
}

std::uint64_t Supervisor::spawns(std::string_view name) const {
    auto* c = find(name);
    return c ? c->spawns : 0;
}

bool Supervisor::running_since(std::string_view name, std::uint64_t spawn) const {
    auto* c = find(name);
    return c && c->state == State::running && c->spawns >= spawn;
}

void Supervisor::status(std::string& out) {
    auto now = loop_.now();
    resp::append_array(out, 2);
    resp::append_array(out, 12);
    resp::append_bulk(out, "strategy");
    resp::append_bulk(out, to_string(options_.strategy));
    resp::append_bulk(out, "max_restarts");
    resp::append_int(out, options_.max_restarts);
    resp::append_bulk(out, "max_seconds");
    resp::append_int(out, static_cast<std::int64_t>(options_.max_seconds));
    resp::append_bulk(out, "restarts_in_window");
    resp::append_int(out, static_cast<std::int64_t>(intensity_.recent(now)));
    resp::append_bulk(out, "pid");
    resp::append_int(out, getpid());
    resp::append_bulk(out, "state");
    resp::append_bulk(out, shutting_down_ ? "stopping" : "running");
    resp::append_array(out, children_.size());
    for (auto& c : children_) {
        resp::append_array(out, 12);
        resp::append_bulk(out, "name");
        resp::append_bulk(out, c->spec.name);
        resp::append_bulk(out, "pid");
        if (c->pid > 0) resp::append_int(out, c->pid); else resp::append_nil(out);
        resp::append_bulk(out, "state");
        resp::append_bulk(out, c->state == State::down && !c->want ? "stopped" : state_name(c->state));
        resp::append_bulk(out, "restarts");
        resp::append_int(out, c->restarts);
        resp::append_bulk(out, "last_exit");
        if (c->last_exit.empty()) resp::append_nil(out); else resp::append_bulk(out, c->last_exit);
        resp::append_bulk(out, "uptime_ms");
        if (c->pid > 0) resp::append_int(out, static_cast<std::int64_t>(now - c->started_ms)); else resp::append_nil(out);
    }
}

}  // namespace seq::sup
