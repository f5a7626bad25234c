// What each child used over the last ten minutes, for the live page's
// sparklines: a sample every ten seconds (its CPU as a share of one core
// since the sample before, and its memory), kept by path. A pure value:
// the HTTP routes feed it reports, tests feed it made-up ones.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "report.hpp"

namespace seq::sup {

class UsageHistory {
public:
    static constexpr std::uint64_t every_ms = 10'000;
    static constexpr std::size_t keep = 60;  // ten minutes of them
    struct Sample {
        std::int64_t cpu_permille = 0;  // of one core, since the sample before (0 for the first)
        std::int64_t memory_bytes = 0;
    };
    // The children of `r`, at every depth and each pool's instances, at `now_ms`.
    void add(const TreeReport& r, std::uint64_t now_ms);
    // Oldest first; empty for a path never seen.
    const std::deque<Sample>& of(std::string_view path) const;

private:
    struct Kept {
        std::deque<Sample> samples;
        std::int64_t last_cpu_ms = -1;
        std::int64_t last_pid = 0;
        std::uint64_t last_ms = 0;
    };
    std::map<std::string, Kept, std::less<>> kept_;
};

}  // namespace seq::sup
