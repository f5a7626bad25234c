// The stash's key commands, as Redis's string commands: GET, SET with its
// options, INCR and kin, MGET/MSET, EXPIRE and TTL, KEYS, SCAN, DBSIZE,
// TYPE, FLUSHDB. Pure logic over a Store and a clock: no sockets here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acl.hpp"
#include "connection_commands.hpp"
#include "store.hpp"
#include "watches.hpp"

namespace seq::stash {

struct Context {
    Store& store;
    Watches& watches;
    std::int64_t now_ms;  // Unix milliseconds: expiry times are absolute
    int proto = 2;
    bool flush_allowed = false;  // FLUSHDB, only with seq-stash --allow-flush
    const KeyGrants* grants = nullptr;  // what KEYS and SCAN may show; null: every key
    // Out: the soonest expiry this command set (0: none), for the sweep.
    std::int64_t soonest_expiry = 0;
};

// Executes one key command, appending the reply to `out`; false if `args`
// is not one of them.
bool execute(Context& ctx, std::span<const std::string_view> args, std::string& out);

// Why a client with `grants` may not run `args`, as Redis's NOPERM says it:
// a key its patterns do not match, or a command on the whole store
// (FLUSHDB, MONITOR) without "~*"; nullopt if it may.
std::optional<std::string> forbidden(const KeyGrants& grants, std::span<const std::string_view> args);

// The key commands as COMMAND describes them.
const std::vector<CommandSpec>& key_command_specs();

}  // namespace seq::stash
