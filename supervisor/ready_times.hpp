// How long a child's starts took to become ready, as a Prometheus
// histogram counts them: seq_child_ready_seconds.
#pragma once

#include <cstdint>

#include "histogram.hpp"

namespace seq::sup {

struct ReadyTimes : Histogram<13> {
    // Upper bounds in ms, 5 ms to a minute; past the last, only +Inf.
    static constexpr Bounds bounds_ms = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};
    void add(std::uint64_t ms) { Histogram::add(bounds_ms, ms); }
    bool operator==(const ReadyTimes&) const = default;
};

}  // namespace seq::sup
