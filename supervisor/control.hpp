// The supervisor's control socket: STATUS, RESTART name, STOP, PING over RESP,
// served only to peers of the same user (or root).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "server.hpp"
#include "supervisor.hpp"

namespace seq::sup {

Server::Verdict control(Supervisor& sup, Connection& c, std::span<const std::string_view> args);

// SO_PEERCRED: nullopt if the peer on `fd` runs as our user or as root, else
// why it is refused.
std::optional<std::string> peer_refusal(int fd);

}  // namespace seq::sup
