// Bounds that more than one program checks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace seq {

// The largest --reserve, for seq-worker, seq-supervisor and a tree file's
// `reserve` alike: a larger block would only skip more after a crash.
inline constexpr std::int64_t max_reserve = 1'000'000'000;

// What one MULTI may queue before EXEC, in bytes of arguments plus a string's
// own size for each: without a bound, one client could grow a daemon that the
// whole tree depends on until the kernel kills it.
inline constexpr std::size_t max_transaction = 16 << 20;

}  // namespace seq
