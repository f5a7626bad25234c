// Restart backoff as a pure decision: how long a child that died waits
// before it starts again. The delay grows by `factor` at each restart up to
// `max`, and goes back to `initial` once the child has stayed up for
// `reset_after`: a crash loop is slowed down, and a child that has been
// healthy for a while restarts at once again (systemd's RestartSteps never
// forgets; s6 waits a fixed second). Time comes in from the caller, so tests
// drive it with their own clock. Intensity still counts every restart.
#pragma once

#include <algorithm>
#include <cstdint>

namespace seq::sup {

struct BackoffSpec {
    std::uint64_t initial_ms = 0;  // 0: no delay at all (the default)
    double factor = 2.0;
    std::uint64_t max_ms = 30000;
    std::uint64_t reset_after_ms = 10000;
    bool operator==(const BackoffSpec&) const = default;
};

class Backoff {
public:
    // The delay before the next start of a child that ran for `uptime_ms`.
    std::uint64_t next(const BackoffSpec& s, std::uint64_t uptime_ms) {
        if (uptime_ms >= s.reset_after_ms || delay_ms_ == 0) {
            delay_ms_ = s.initial_ms;
        } else {
            auto grown = static_cast<double>(delay_ms_) * s.factor;
            delay_ms_ = grown >= static_cast<double>(s.max_ms) ? s.max_ms : static_cast<std::uint64_t>(grown);
        }
        delay_ms_ = std::min(delay_ms_, s.max_ms);
        return delay_ms_;
    }

private:
    std::uint64_t delay_ms_ = 0;  // the last delay given; 0 before any
};

}  // namespace seq::sup
