#include "child_log.hpp"

#include <time.h>

#include <cstdio>

namespace seq::sup {

void RecentLines::add(std::uint64_t wall_ms, pid_t pid, Stream stream, std::string_view text) {
    lines_.push_back({wall_ms, pid, stream, std::string(text)});
    bytes_ += text.size();
    while (lines_.size() > max_lines || (bytes_ > max_bytes && lines_.size() > 1)) {
        bytes_ -= lines_.front().text.size();
        lines_.pop_front();
    }
}

std::vector<LogLine> RecentLines::last(std::size_t n) const {
    auto from = lines_.size() > n ? lines_.size() - n : 0;
    return {lines_.begin() + static_cast<std::ptrdiff_t>(from), lines_.end()};
}

std::vector<LogLine> RecentLines::last_of(pid_t pid, std::size_t n) const {
    std::vector<LogLine> out;
    for (auto it = lines_.rbegin(); it != lines_.rend() && out.size() < n; ++it)
        if (it->pid == pid) out.push_back(*it);
    return {out.rbegin(), out.rend()};
}

void Deaths::add(Death d) {
    ++by_reason_[d.reason.empty() ? "unknown" : d.reason];
    deaths_.push_front(std::move(d));
    if (deaths_.size() > keep) deaths_.pop_back();
}

std::string rfc3339(std::uint64_t wall_ms) {
    time_t secs = static_cast<time_t>(wall_ms / 1000);
    tm t{};
    gmtime_r(&secs, &t);
    char buf[80];  // room for any int the compiler can imagine in each field
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec, static_cast<unsigned>(wall_ms % 1000));
    return buf;
}

std::uint64_t wall_now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

std::string format_line(const LogLine& l, std::string_view path) {
    std::string out = rfc3339(l.wall_ms);
    out += l.stream == Stream::err ? " err " : " out ";
    out += path;
    out += '[' + std::to_string(l.pid) + "] ";
    out += l.text;
    return out;
}

}  // namespace seq::sup
