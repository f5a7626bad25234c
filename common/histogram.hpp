// Counts of a measure as a Prometheus histogram keeps them: cumulative
// counts at each upper bound (past the last, only +Inf: `count`), and the
// sum. The supervisor's ready times and the stash's commit times are two.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace seq {

template <std::size_t N>
struct Histogram {
    using Bounds = std::array<std::uint64_t, N>;
    std::array<std::uint64_t, N> at_most{};  // measures within each bound (cumulative)
    std::uint64_t count = 0, sum = 0;
    void add(const Bounds& bounds, std::uint64_t v) {
        for (std::size_t i = 0; i < N; ++i)
            if (v <= bounds[i]) ++at_most[i];
        ++count;
        sum += v;
    }
    bool operator==(const Histogram&) const = default;
};

}  // namespace seq
