// The worker's commands as pure functions of the current number: no sockets,
// so every rule (argument checks, overflow) is unit-tested directly.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace seq::worker {

enum class Command { next, increment, get, ping, info, quit, multi, exec, discard, unknown };

Command classify(std::string_view name);

// Whether the command's reply depends on the number, and so must wait until
// the stash holds the number it reports.
inline bool reads_value(Command c) {
    return c == Command::next || c == Command::increment || c == Command::get;
}

// Applies NEXT, INCREMENT or GET to `value`, appending the RESP reply to
// `out`. Returns whether `value` changed; on any error it does not.
bool apply(Command c, std::span<const std::string_view> args, std::int64_t& value, std::string& out);

// With --reserve N: the mark that reserves the block starting at `value`,
// value + N, or the 64-bit maximum if that is past it. NEXT never hands out
// the maximum itself, so a mark there covers every number there is.
std::int64_t mark_for(std::int64_t value, std::int64_t reserve);

}  // namespace seq::worker
