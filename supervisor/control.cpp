#include "control.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "dynamic_child.hpp"

#include "commands.hpp"
#include "log.hpp"
#include "process.hpp"

namespace seq::sup {

namespace {

struct Command {
    std::string_view name;
    std::size_t min_args, max_args;  // the command's name included
    Server::Verdict (Control::*run)(Connection&, Control::Args);
};

}  // namespace

Control::Control(uv::Loop& loop, Supervisor& sup, Fd listener, ServerOptions options)
    : sup_(sup),
      server_(loop.get(), std::move(listener), options,
              [this](Connection& c, Args args) { return handle(c, args); }, "control"),
      check_(uv::make_check(loop.get())),
      followers_gone_(uv::make_timer(loop.get())) {
    server_.set_peer_filter([this](int fd) { return peer_refusal(fd, operators_); });
    server_.on_close([this](Connection& c) {
        waiting_.erase(c.id());
        awaited_.erase(c.id());
        answers_.erase(c.id());
        followers_.erase(c.id());
    });
    sup_.on_line([this](std::string_view path, const LogLine& line) { tell_followers(path, line); });
    sup_.on_event([this](const TreeEvent& e) { tell_event_followers(e); });
    followers_gone_->data = this;
    check_->data = this;
    uv_check_start(check_.get(), [](uv_check_t* h) {
        if (auto* self = uv::owner<Control>(h)) self->resume_waiting();
    });
}

void Control::resume_waiting() {
    if (waiting_.empty()) return;
    auto ids = std::move(waiting_);
    waiting_.clear();
    for (auto id : ids)
        if (auto* c = server_.find(id)) server_.resume(*c);
}

Server::Verdict Control::handle(Connection& c, Args args) {
    static constexpr Command table[] = {
        {"status", 1, 1, &Control::status},     {"restart", 2, 2, &Control::restart},
        {"stop", 1, 2, &Control::stop},         {"start", 2, 2, &Control::start_child},
        {"signal", 3, 3, &Control::signal},     {"reload", 1, 1, &Control::reload},
        {"ping", 1, 1, &Control::ping},         {"scale", 3, 3, &Control::scale},
        {"add", 3, SIZE_MAX, &Control::add},    {"remove", 2, 2, &Control::remove},
        {"upgrade", 1, 2, &Control::upgrade},   {"logs", 2, 4, &Control::logs},
        {"why", 2, 2, &Control::why},           {"reopen", 1, 1, &Control::reopen},
        {"events", 2, 4, &Control::events},
    };
    for (auto& cmd : table) {
        if (!is_command(args[0], cmd.name)) continue;
        if (args.size() < cmd.min_args || args.size() > cmd.max_args) {
            resp::append_error(c.out(), wrong_args(args[0]));
            return Server::Verdict::done;
        }
        return (this->*cmd.run)(c, args);
    }
    resp::append_error(c.out(), unknown_command(args[0]));
    return Server::Verdict::done;
}

Server::Verdict Control::status(Connection& c, Args) {
    sup_.status(c.out());
    return Server::Verdict::done;
}

// LOGS PATH [N [FOLLOW]]: its last N lines (50 unless given; at most what
// is kept); with FOLLOW, as pushes, and then each line as it comes, until
// the client goes. PATH "/" is the whole tree.
namespace {

// LOGS's and EVENTS's [N [FOLLOW]]: how many, and whether to follow; or why not.
std::optional<std::string> tail_of(Control::Args args, std::string_view command, std::string_view what,
                                   std::size_t most, std::size_t& n, bool& following) {
    following = args.size() == 4;
    if (following && !is_command(args[3], "follow"))
        return "ERR " + std::string(command) + " takes FOLLOW after the number of " + std::string(what) + ", not " +
               std::string(args[3]);
    if (args.size() >= 3) {
        auto given = resp::parse_int(args[2]);
        if (!given || *given < 1 || static_cast<std::size_t>(*given) > most)
            return "ERR not a number of " + std::string(what) + " (1 to " + std::to_string(most) +
                   "): " + std::string(args[2]);
        n = static_cast<std::size_t>(*given);
    }
    return std::nullopt;
}

}  // namespace

Server::Verdict Control::logs(Connection& c, Args args) {
    if (followers_.count(c.id())) return follow(c);
    std::size_t n = 50;
    bool following = false;
    if (auto why = tail_of(args, "LOGS", "lines", RecentLines::max_lines, n, following)) {
        resp::append_error(c.out(), *why);
        return Server::Verdict::done;
    }
    std::vector<std::string> lines;
    if (auto why = sup_.recent_lines(args[1], n, lines)) {
        resp::append_error(c.out(), *why);
        return Server::Verdict::done;
    }
    if (!following) {
        resp::append_array(c.out(), lines.size());
        for (auto& l : lines) resp::append_bulk(c.out(), l);
        return Server::Verdict::done;
    }
    // The last lines, then each new one: all as pushes, [log, line].
    for (auto& l : lines) {
        c.out() += ">2\r\n";
        resp::append_bulk(c.out(), "log");
        resp::append_bulk(c.out(), l);
    }
    c.release_to(c.out_end());
    return followed(c, Follower{std::string(args[1])});
}

Server::Verdict Control::followed(Connection& c, Follower f) {
    followers_[c.id()] = std::move(f);
    // A paused connection is not polled: one that went away is looked for
    // once a second (let_go_of_gone_followers), not at every turn of the loop.
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(followers_gone_.get())))
        uv_timer_start(followers_gone_.get(), [](uv_timer_t* t) {
            if (auto* self = uv::owner<Control>(t)) self->let_go_of_gone_followers();
        }, 1000, 1000);
    return Server::Verdict::defer;  // seen again once cut off (tell_followers)
}

// EVENTS PATH [N [FOLLOW]]: the last N events of the children at PATH (50
// unless given; at most the 1,000 kept), each [line, pairs]; with FOLLOW,
// as pushes [event, [line, pairs]], then each new one as it comes.
Server::Verdict Control::events(Connection& c, Args args) {
    if (followers_.count(c.id())) return follow(c);
    std::size_t n = 50;
    bool following = false;
    if (auto why = tail_of(args, "EVENTS", "events", RecentEvents::keep, n, following)) {
        resp::append_error(c.out(), *why);
        return Server::Verdict::done;
    }
    std::string_view path = args[1];
    auto last = sup_.events().last(n, [&](std::string_view p) { return Supervisor::names(path, p); });
    // One gone (a dynamic supervisor's, removed) is known by its events.
    if (path != "/" && last.empty() && !sup_.has_child(path)) {
        resp::append_error(c.out(), "ERR no such child: " + std::string(path));
        return Server::Verdict::done;
    }
    if (!following) {
        resp::append_array(c.out(), last.size());
        for (auto* e : last) append_event(c.out(), *e);
        return Server::Verdict::done;
    }
    for (auto* e : last) {
        c.out() += ">2\r\n";
        resp::append_bulk(c.out(), "event");
        append_event(c.out(), *e);
    }
    c.release_to(c.out_end());
    return followed(c, Follower{std::string(path), 0, false, true});
}

void Control::tell_event_followers(const TreeEvent& e) {
    if (followers_.empty()) return;
    std::string push;
    std::vector<std::uint64_t> ids;
    for (auto& [id, f] : followers_)
        if (f.events && Supervisor::names(f.path, e.path)) ids.push_back(id);
    for (auto id : ids) {
        auto it = followers_.find(id);
        auto* c = server_.find(id);
        if (it == followers_.end() || !c) continue;
        if (push.empty()) {
            push = ">2\r\n";
            resp::append_bulk(push, "event");
            append_event(push, e);
        }
        tell(*c, it->second, push);
    }
}

void Control::tell(Connection& c, Follower& f, const std::string& push) {
    if (f.cut) {
        ++f.dropped;
        return;
    }
    if (c.unsent() + push.size() > follow_limit) {
        f.cut = true;
        f.dropped = 1;
        waiting_.insert(c.id());  // its request ends, with why
        return;
    }
    c.out() += push;
    c.release_to(c.out_end());
}

void Control::let_go_of_gone_followers() {
    std::vector<std::uint64_t> gone;
    for (auto& [id, f] : followers_)
        if (auto* c = server_.find(id); !c || c->peer_gone()) gone.push_back(id);
    for (auto id : gone) {
        followers_.erase(id);
        if (auto* c = server_.find(id)) server_.close(*c);
    }
    if (followers_.empty()) uv_timer_stop(followers_gone_.get());
}

Server::Verdict Control::follow(Connection& c) {
    auto it = followers_.find(c.id());
    if (!it->second.cut) return Server::Verdict::defer;
    const char* what = it->second.events ? "events" : "lines";
    resp::append_error(c.out(), std::string("ERR this follower did not read its ") + what + " (over " +
                                    std::to_string(follow_limit >> 10) + " KiB waiting): cut off, " +
                                    std::to_string(it->second.dropped) + " " + what + " not sent");
    followers_.erase(it);
    c.close_after_reply();
    return Server::Verdict::done;
}

void Control::tell_followers(std::string_view path, const LogLine& line) {
    if (followers_.empty()) return;
    std::string push;
    // A write may find a follower gone, and its close erases it from
    // followers_: the ids are taken first.
    std::vector<std::uint64_t> ids;
    for (auto& [id, f] : followers_)
        if (!f.events && Supervisor::names(f.path, path)) ids.push_back(id);
    for (auto id : ids) {
        auto it = followers_.find(id);
        auto* c = server_.find(id);
        if (it == followers_.end() || !c) continue;
        if (push.empty()) {
            push = ">2\r\n";
            resp::append_bulk(push, "log");
            resp::append_bulk(push, format_line(line, path));
        }
        tell(*c, it->second, push);
    }
}

// WHY PATH: its last deaths, newest first, each with the lines before it.
Server::Verdict Control::why(Connection& c, Args args) {
    if (auto why = sup_.deaths(args[1], c.out())) resp::append_error(c.out(), *why);
    return Server::Verdict::done;
}

Server::Verdict Control::reopen(Connection& c, Args) {
    log("reopening the log files (seqctl logs --reopen)");
    sup_.reopen_logs();
    resp::append_simple(c.out(), "OK");
    return Server::Verdict::done;
}

Server::Verdict Control::ping(Connection& c, Args) {
    resp::append_simple(c.out(), "PONG");
    return Server::Verdict::done;
}

Server::Verdict Control::reload(Connection& c, Args) {
    auto& out = c.out();
    if (sup_.stopping()) {
        resp::append_error(out, "ERR the supervisor is stopping: nothing is reloaded");
        return Server::Verdict::done;
    }
    auto r = reload_ ? reload_("") : Outcome{false, "ERR reload is not available here"};
    if (r.ok) resp::append_simple(out, "OK " + r.text);
    else resp::append_error(out, r.text);
    return Server::Verdict::done;
}

Server::Verdict Control::upgrade(Connection& c, Args args) {
    if (answers_.count(c.id())) return answer(c);
    if (sup_.stopping()) {
        resp::append_error(c.out(), "ERR the supervisor is stopping: nothing is upgraded");
        return Server::Verdict::done;
    }
    auto r = reload_ ? reload_(args.size() > 1 ? args[1] : "") : Outcome{false, "ERR upgrade is not available here"};
    if (!r.ok) {
        resp::append_error(c.out(), r.text);
        return Server::Verdict::done;
    }
    auto done = expect(c);
    std::weak_ptr<Answer> w = answers_[c.id()];
    w.lock()->progress.push_back(r.text);
    sup_.watch_rollouts([w](const std::string& line) {
        if (auto a = w.lock()) a->progress.push_back(line);
    }, std::move(done));
    return answer(c);
}

Server::Verdict Control::defer(Connection& c) {
    waiting_.insert(c.id());
    return Server::Verdict::defer;
}

// Seen again on every loop iteration while it waits (Server's defer): the
// request was carried out once, and now its outcome is awaited.
Server::Verdict Control::wait(Connection& c, std::string_view path, Until until, std::vector<std::uint64_t> since) {
    auto it = awaited_.find(c.id());
    if (it == awaited_.end()) it = awaited_.emplace(c.id(), Awaited{until, std::string(path), std::move(since)}).first;
    auto& a = it->second;
    auto state = sup_.state_at(a.path);
    // A start: started since it was asked, and running, or already ended by
    // itself (a job that ran for a moment): a state it passed through
    // between two looks is not waited for. A restart: running again.
    auto starts = sup_.starts(a.path);
    bool started = starts.size() == a.since.size() && starts >= a.since;  // a later start along the path
    bool ended = a.until == Until::running && state == "stopped" && !sup_.stopping();
    bool done = a.until == Until::stopped ? state == "stopped" : started && (state == "running" || ended);
    if (done) {
        resp::append_simple(c.out(), "OK");
    } else if (sup_.stopping()) {
        const char* verb = a.until == Until::restarted ? "restarted" : a.until == Until::stopped ? "stopped" : "started";
        resp::append_error(c.out(), "ERR the supervisor is stopping: " + a.path + " was not " + verb);
    } else {
        return defer(c);
    }
    awaited_.erase(it);
    return Server::Verdict::done;
}

Server::Verdict Control::restart(Connection& c, Args args) {
    if (awaited_.count(c.id())) return wait(c, args[1], Until::restarted);
    // A refusal (no such child, stopping) is said at once; a restart waits
    // for the tree to settle first: a start or stop under way finishes
    // first (a child waiting out its backoff does not hold a restart up).
    bool refused = !sup_.has_child(args[1]) || sup_.stopping();
    if (!refused && (sup_.in_transition() || !known_to_depth(args[1]))) return defer(c);
    auto since = sup_.starts(args[1]);
    if (!since.empty()) ++since.back();
    if (auto why = sup_.restart(args[1])) {
        resp::append_error(c.out(), *why);
        return Server::Verdict::done;
    }
    return wait(c, args[1], Until::restarted, std::move(since));
}

Server::Verdict Control::stop(Connection& c, Args args) {
    if (args.size() == 1) {
        resp::append_simple(c.out(), "OK");
        sup_.shutdown("STOP received on the control socket");
        return Server::Verdict::done;
    }
    if (awaited_.count(c.id())) return wait(c, args[1], Until::stopped);
    if (auto why = sup_.stop_child(args[1])) {
        resp::append_error(c.out(), *why);
        return Server::Verdict::done;
    }
    return wait(c, args[1], Until::stopped);
}

Server::Verdict Control::start_child(Connection& c, Args args) {
    if (awaited_.count(c.id())) return wait(c, args[1], Until::running);
    bool refused = !sup_.has_child(args[1]) || sup_.stopping();
    if (!refused && !known_to_depth(args[1])) return defer(c);
    // Running already: nothing to start, nothing to wait for.
    auto since = sup_.starts(args[1]);
    if (!refused && sup_.state_at(args[1]) == "running") since.clear();
    if (!since.empty()) ++since.back();
    if (auto why = sup_.start_child(args[1])) {
        resp::append_error(c.out(), *why);
        return Server::Verdict::done;
    }
    if (since.empty()) {
        resp::append_simple(c.out(), "OK");
        return Server::Verdict::done;
    }
    return wait(c, args[1], Until::running, std::move(since));
}

// Whether the snapshots reach down to `path`: a child a reload just added
// below a nested supervisor is there only once that one has said so.
bool Control::known_to_depth(std::string_view path) const {
    auto depth = static_cast<std::size_t>(std::count(path.begin(), path.end(), '/')) + 1;
    auto known = sup_.starts(path).size();
    if (known == depth || known == 0) return true;
    // Below a supervisor that does not run, nothing more will be said: the
    // request is answered (refused, or kept for its next start) as it is.
    std::size_t cut = 0;
    for (std::size_t i = 0; i < known; ++i) cut = path.find('/', cut) + (i + 1 < known ? 1 : 0);
    return sup_.state_at(path.substr(0, cut)) != "running";
}

Server::Verdict Control::signal(Connection& c, Args args) {
    auto sig = parse_child_signal(args[2]);
    std::optional<std::string> why;
    if (!sig)
        why = "ERR '" + std::string(args[2].substr(0, 32)) +
              "' is not a signal to send: one of HUP, INT, QUIT, KILL, USR1, USR2, TERM, or its number";
    else why = sup_.signal_child(args[1], *sig);
    if (why) resp::append_error(c.out(), *why);
    else resp::append_simple(c.out(), "OK");
    return Server::Verdict::done;
}

Server::Verdict Control::scale(Connection& c, Args args) {
    if (answers_.count(c.id())) return answer(c);
    auto n = resp::parse_int(args[2]);
    std::optional<std::string> why;
    if (!n || *n < bounds::instances.lo || *n > bounds::instances.hi)
        why = "ERR '" + std::string(args[2].substr(0, 32)) + "' is not a number of instances: 1 to " +
              std::to_string(bounds::instances.hi);
    else why = sup_.scale(args[1], static_cast<unsigned>(*n), expect(c));
    return answer_or_refuse(c, std::move(why));
}

Reply Control::expect(Connection& c) {
    auto a = std::make_shared<Answer>();
    answers_[c.id()] = a;
    std::weak_ptr<Answer> w = a;
    return [w](std::optional<std::string> why) {
        if (auto answer = w.lock()) {
            answer->done = true;
            answer->why = std::move(why);
        }
    };
}

Server::Verdict Control::answer(Connection& c) {
    auto it = answers_.find(c.id());
    // Steps told so far go out now, each as a push, ahead of the answer.
    if (auto& lines = it->second->progress; !lines.empty()) {
        for (auto& line : lines) {
            c.out() += ">2\r\n";
            resp::append_bulk(c.out(), "upgrade");
            resp::append_bulk(c.out(), line);
        }
        lines.clear();
        c.release_to(c.out_end());
    }
    if (!it->second->done) return defer(c);
    if (auto& why = it->second->why) resp::append_error(c.out(), *why);
    else resp::append_simple(c.out(), "OK");
    answers_.erase(it);
    return Server::Verdict::done;
}

Server::Verdict Control::answer_or_refuse(Connection& c, std::optional<std::string> refused) {
    if (!refused) return answer(c);
    answers_.erase(c.id());
    resp::append_error(c.out(), *refused);
    return Server::Verdict::done;
}

Server::Verdict Control::add(Connection& c, Args args) {
    if (answers_.count(c.id())) return answer(c);
    std::string why;
    auto a = parse_addition(args.subspan(2), why);
    std::optional<std::string> refused;
    if (!a) refused = why;
    else if (args[1].empty()) refused = "ERR add takes the path of a dynamic supervisor (a child of type = \"dynamic\")";
    else refused = sup_.add_child(args[1], *a, expect(c));
    return answer_or_refuse(c, std::move(refused));
}

Server::Verdict Control::remove(Connection& c, Args args) {
    if (answers_.count(c.id())) return answer(c);
    auto slash = args[1].rfind('/');
    std::optional<std::string> refused;
    if (slash == std::string_view::npos)
        refused = "ERR remove takes PATH/NAME: a child of a dynamic supervisor, such as jobs/tenant-1";
    else
        refused = sup_.remove_child(args[1].substr(0, slash), args[1].substr(slash + 1), expect(c));
    return answer_or_refuse(c, std::move(refused));
}

std::optional<std::string> peer_refusal(int fd, std::optional<std::uint32_t> operators) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return std::string("cannot tell who you are: ") + std::strerror(errno);
    if (cred.uid == geteuid() || cred.uid == 0) return std::nullopt;
    if (operators) {
        // Its groups as they were at connect, from the kernel: SO_PEERCRED
        // has the primary one, SO_PEERGROUPS the rest.
        if (cred.gid == *operators) return std::nullopt;
        std::vector<gid_t> groups(64);
        socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) < 0) {
            if (errno == ERANGE) {
                groups.resize(size / sizeof(gid_t));
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) < 0) size = 0;
            } else {
                size = 0;  // none known: only the primary group counts
            }
        }
        groups.resize(std::min<std::size_t>(groups.size(), size / sizeof(gid_t)));
        if (std::find(groups.begin(), groups.end(), *operators) != groups.end()) return std::nullopt;
    }
    log("control: refusing a client of uid %u (pid %d): not our user%s", static_cast<unsigned>(cred.uid),
        static_cast<int>(cred.pid), operators ? " nor in control_group" : "");
    return "permission denied: uid " + std::to_string(cred.uid) + " is not the supervisor's user (uid " +
           std::to_string(geteuid()) + ") nor root" + (operators ? ", nor in its control_group" : "");
}

}  // namespace seq::sup
