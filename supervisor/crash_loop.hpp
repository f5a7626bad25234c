// A child in a crash loop: restarted (after a death, not by request) more
// than `restarts` times within `seconds`. Said once when it begins, and
// again only after a window with no more than `restarts` of them. Pure:
// the caller gives the time (the loop's ms), so it is tested with any clock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace seq::sup {

class CrashLoops {
public:
    CrashLoops(std::uint32_t restarts, std::uint32_t seconds) : restarts_(restarts), window_ms_(seconds * 1000ull) {}
    // A restart of `path` at `now_ms`: the restarts within the window if
    // this one begins a crash loop, else nullopt.
    std::optional<std::size_t> restarted(std::string_view path, std::uint64_t now_ms) {
        // Bounded: paths come and go (a dynamic supervisor's children); one
        // with no restart within the window has nothing left to count.
        if (paths_.size() >= max_paths)
            std::erase_if(paths_, [&](auto& kv) { return now_ms - kv.second.times.back() >= window_ms_; });
        auto it = paths_.find(path);
        if (it == paths_.end()) it = paths_.emplace(std::string(path), Path{}).first;
        auto& p = it->second;
        while (!p.times.empty() && now_ms - p.times.front() >= window_ms_) p.times.pop_front();
        if (p.times.size() <= restarts_) p.looping = false;  // a calm window re-arms it
        p.times.push_back(now_ms);
        // Bounded: only the window's last restarts_ + 1 are needed.
        if (p.times.size() > restarts_ + 1u) p.times.pop_front();
        if (p.looping || p.times.size() <= restarts_) return std::nullopt;
        p.looping = true;
        return p.times.size();
    }
    std::size_t paths() const { return paths_.size(); }

    static constexpr std::size_t max_paths = 10'000;

private:
    struct Path {
        std::deque<std::uint64_t> times;
        bool looping = false;
    };
    std::uint32_t restarts_;
    std::uint64_t window_ms_;
    std::map<std::string, Path, std::less<>> paths_;
};

}  // namespace seq::sup
