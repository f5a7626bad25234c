#include "control.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "commands.hpp"
#include "log.hpp"

namespace seq::sup {

Control::Control(uv::Loop& loop, Supervisor& sup, Fd listener, ServerOptions options)
    : sup_(sup),
      server_(loop.get(), std::move(listener), options,
              [this](Connection& c, std::span<const std::string_view> args) { return handle(c, args); }, "control"),
      check_(uv::make_check(loop.get())) {
    server_.set_peer_filter(peer_refusal);
    server_.on_close([this](Connection& c) {
        waiting_.erase(c.id());
        awaited_.erase(c.id());
    });
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

Server::Verdict Control::handle(Connection& c, std::span<const std::string_view> args) {
    auto& out = c.out();
    auto cmd = args[0];
    if (is_command(cmd, "status")) {
        if (args.size() != 1) resp::append_error(out, wrong_args(cmd));
        else sup_.status(out);
    } else if (is_command(cmd, "restart")) {
        if (args.size() != 2) resp::append_error(out, wrong_args(cmd));
        else return restart(c, args[1]);
    } else if (is_command(cmd, "stop")) {
        if (args.size() != 1) {
            resp::append_error(out, wrong_args(cmd));
        } else {
            resp::append_simple(out, "OK");
            sup_.shutdown("STOP received on the control socket");
        }
    } else if (is_command(cmd, "reload")) {
        if (args.size() != 1) {
            resp::append_error(out, wrong_args(cmd));
        } else if (sup_.stopping()) {
            resp::append_error(out, "ERR the supervisor is stopping: nothing is reloaded");
        } else {
            auto r = reload_ ? reload_() : Outcome{false, "ERR reload is not available here"};
            if (r.ok) resp::append_simple(out, "OK " + r.text);
            else resp::append_error(out, r.text);
        }
    } else if (is_command(cmd, "ping")) {
        resp::append_simple(out, "PONG");
    } else {
        resp::append_error(out, unknown_command(cmd));
    }
    return Server::Verdict::done;
}

// Seen again on every loop iteration while it waits (Server's defer).
Server::Verdict Control::restart(Connection& c, std::string_view name) {
    auto& out = c.out();
    auto defer = [&] {
        waiting_.insert(c.id());
        return Server::Verdict::defer;
    };
    if (auto it = awaited_.find(c.id()); it != awaited_.end()) {
        if (sup_.running_since(it->second.name, it->second.since)) {
            awaited_.erase(it);
            resp::append_simple(out, "OK");
        } else if (sup_.stopping()) {
            resp::append_error(out, "ERR the supervisor is stopping: " + it->second.name + " was not restarted");
            awaited_.erase(it);
        } else {
            return defer();
        }
        return Server::Verdict::done;
    }
    // A refusal (no such child, stopping) is said at once; a restart waits
    // for the tree to settle first.
    bool refused = !sup_.has_child(name) || sup_.stopping();
    // A start or stop under way finishes first; a child waiting out its
    // backoff does not hold a restart up (nor does the one restarted wait).
    if (!refused && sup_.in_transition()) return defer();
    auto since = sup_.starts(name);
    if (!since.empty()) ++since.back();
    if (auto why = sup_.restart(name)) {
        resp::append_error(out, *why);
        return Server::Verdict::done;
    }
    awaited_[c.id()] = {std::string(name), since};
    return defer();
}

std::optional<std::string> peer_refusal(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return std::string("cannot tell who you are: ") + std::strerror(errno);
    if (cred.uid == geteuid() || cred.uid == 0) return std::nullopt;
    log("control: refusing a client of uid %u (pid %d): not our user", static_cast<unsigned>(cred.uid),
        static_cast<int>(cred.pid));
    return "permission denied: uid " + std::to_string(cred.uid) + " is not the supervisor's user (uid " +
           std::to_string(geteuid()) + ") nor root";
}

}  // namespace seq::sup
