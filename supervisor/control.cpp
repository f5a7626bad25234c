#include "control.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "commands.hpp"
#include "log.hpp"

namespace seq::sup {

Server::Verdict control(Supervisor& sup, Connection& c, std::span<const std::string_view> args) {
    auto& out = c.out();
    auto cmd = args[0];
    if (is_command(cmd, "status")) {
        if (args.size() != 1) resp::append_error(out, wrong_args(cmd));
        else sup.status(out);
    } else if (is_command(cmd, "restart")) {
        if (args.size() != 2) resp::append_error(out, wrong_args(cmd));
        else if (auto refused = sup.restart(args[1])) resp::append_error(out, *refused);
        else resp::append_simple(out, "OK");
    } else if (is_command(cmd, "stop")) {
        if (args.size() != 1) {
            resp::append_error(out, wrong_args(cmd));
        } else {
            resp::append_simple(out, "OK");
            sup.shutdown("STOP received on the control socket");
        }
    } else if (is_command(cmd, "ping")) {
        resp::append_simple(out, "PONG");
    } else {
        resp::append_error(out, unknown_command(cmd));
    }
    return Server::Verdict::done;
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
