// Bounds that more than one program checks.
#pragma once

#include <cstdint>

namespace seq {

// The largest --reserve, for seq-worker, seq-supervisor and a tree file's
// `reserve` alike: a larger block would only skip more after a crash.
inline constexpr std::int64_t max_reserve = 1'000'000'000;

}  // namespace seq
