// The commands about the connection itself, which every RESP socket of the
// project answers the same way, as Redis does, so that clients connect with
// their defaults: HELLO (RESP2 or RESP3), ECHO, SELECT 0, RESET, CLIENT
// (SETNAME, GETNAME, ID, SETINFO, INFO, LIST, REPLY),
// COMMAND (COUNT, DOCS, INFO, and bare), CONFIG GET, MONITOR, and AUTH.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server.hpp"

namespace seq {

// One command of a daemon, as COMMAND describes it (Redis 7's shape).
struct CommandSpec {
    std::string_view name;
    int arity;  // negative: at least -arity arguments, the name included
    std::vector<std::string_view> flags;
    int first_key = 0, last_key = 0, step = 0;
};

struct DaemonFacts {
    std::string_view server;   // HELLO's "server"
    std::string_view version;  // HELLO's "version"
    std::vector<CommandSpec> commands;  // the daemon's own; the connection commands are added
    // CONFIG GET: the value of a parameter the daemon has (save,
    // appendonly, databases), or nullopt.
    std::function<std::optional<std::string>(std::string_view)> config;
    // AUTH and HELLO's AUTH: what `user` with `password` may touch, or null
    // for a wrong pair. Unset: no passwords here, and, as Redis with its
    // default user and no password, AUTH default <anything> passes.
    std::function<std::shared_ptr<const KeyGrants>(std::string_view user, std::string_view password)> authenticate;
};

// The reply to a command from a client that has not authenticated where
// that is needed.
inline constexpr const char* no_auth_error = "NOAUTH Authentication required.";

// Answers `args` if it is a connection command, appending the reply to the
// connection's output; false if it is not one.
bool connection_command(Server& server, Connection& c, std::span<const std::string_view> args, const DaemonFacts& facts);

// Why `args` would be refused before it runs (an unknown command, a wrong
// number of arguments), as MULTI checks what it queues; nullopt if it would run.
std::optional<std::string> refusal(const DaemonFacts& facts, std::span<const std::string_view> args);

// The connection commands' own entries, for COMMAND.
const std::vector<CommandSpec>& connection_command_specs();

}  // namespace seq
