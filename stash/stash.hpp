// The stash's commands: PING, GET, SET, DEL, INFO, QUIT, with Redis's replies.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "server.hpp"
#include "store.hpp"

namespace seq::stash {

// Executes one request against `store`, appending the reply to `out`.
// Returns false when the client asked to close (QUIT).
bool execute(Store& store, std::span<const std::string_view> args, std::string& out, int proto = 2);

}  // namespace seq::stash
