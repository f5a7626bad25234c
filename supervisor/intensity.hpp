// OTP's restart intensity: more than `max_restarts` restarts within
// `period_ms` means the children cannot be kept up, and the supervisor gives
// up. Time comes in from the caller, so tests drive it with their own clock.
#pragma once

#include <cstdint>
#include <deque>

namespace seq::sup {

class Intensity {
public:
    Intensity(unsigned max_restarts, std::uint64_t period_ms) : max_(max_restarts), period_ms_(period_ms) {}

    // Records a restart at `now_ms`; false when that is one too many.
    bool record(std::uint64_t now_ms) {
        forget_before(now_ms);
        restarts_.push_back(now_ms);
        return restarts_.size() <= max_;
    }
    // Restarts inside the window that ends at `now_ms`.
    std::size_t recent(std::uint64_t now_ms) {
        forget_before(now_ms);
        return restarts_.size();
    }
    unsigned max_restarts() const { return max_; }
    std::uint64_t period_ms() const { return period_ms_; }

private:
    // As OTP's add_restart: a restart exactly `period` old still counts.
    void forget_before(std::uint64_t now_ms) {
        while (!restarts_.empty() && now_ms - restarts_.front() > period_ms_) restarts_.pop_front();
    }
    unsigned max_;
    std::uint64_t period_ms_;
    std::deque<std::uint64_t> restarts_;
};

}  // namespace seq::sup
