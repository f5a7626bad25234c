// How long a child's starts took to become ready, as a Prometheus
// histogram counts them: seq_child_ready_seconds.
#pragma once

#include <array>
#include <cstdint>

namespace seq::sup {

struct ReadyTimes {
    // Upper bounds in ms, 5 ms to a minute; past the last, only +Inf.
    static constexpr std::array<std::uint64_t, 13> bounds_ms = {5,    10,   25,   50,    100,   250,  500,
                                                                1000, 2500, 5000, 10000, 30000, 60000};
    std::array<std::uint64_t, bounds_ms.size()> at_most{};  // starts within each bound (cumulative)
    std::uint64_t count = 0, sum_ms = 0;
    void add(std::uint64_t ms) {
        for (std::size_t i = 0; i < bounds_ms.size(); ++i)
            if (ms <= bounds_ms[i]) ++at_most[i];
        ++count;
        sum_ms += ms;
    }
    bool operator==(const ReadyTimes&) const = default;
};

}  // namespace seq::sup
