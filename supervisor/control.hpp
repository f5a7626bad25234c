// The supervisor's control socket: STATUS, RESTART name, STOP, PING over RESP,
// served only to peers of the same user (or root).
#pragma once

#include <span>
#include <string_view>

#include "server.hpp"
#include "supervisor.hpp"

namespace seq::sup {

Server::Verdict control(Supervisor& sup, Connection& c, std::span<const std::string_view> args);

// SO_PEERCRED: whether the peer on `fd` runs as our user or as root.
bool peer_is_trusted(int fd);

}  // namespace seq::sup
