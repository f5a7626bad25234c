#include "tree_events.hpp"

#include <cstdio>

#include "child_log.hpp"
#include "resp.hpp"

namespace seq::sup {

namespace {

std::string seconds(std::int64_t ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
}

}  // namespace

std::string event_line(const TreeEvent& e) {
    std::string line = rfc3339(e.wall_ms) + " " + e.kind + " " + e.path;
    if (e.pid) line += " (pid " + std::to_string(e.pid) + ")";
    if (!e.text.empty()) line += ": " + e.text;
    if (e.kind == "exited" && e.ms >= 0) line += " after " + seconds(e.ms);
    if (e.kind == "ready" && e.ms >= 0) line += " in " + std::to_string(e.ms) + " ms";
    if (!e.reason.empty()) line += " [" + e.reason + "]";
    return line;
}

void append_event(std::string& out, const TreeEvent& e) {
    resp::append_array(out, 2);
    resp::append_bulk(out, event_line(e));
    std::size_t pairs = 3 + (e.pid ? 1 : 0) + (!e.reason.empty() ? 1 : 0) + (!e.text.empty() ? 1 : 0) + (e.ms >= 0 ? 1 : 0);
    resp::append_array(out, 2 * pairs);
    resp::append_bulk(out, "time");
    resp::append_bulk(out, rfc3339(e.wall_ms));
    resp::append_bulk(out, "event");
    resp::append_bulk(out, e.kind);
    resp::append_bulk(out, "path");
    resp::append_bulk(out, e.path);
    if (e.pid) {
        resp::append_bulk(out, "pid");
        resp::append_int(out, e.pid);
    }
    if (!e.reason.empty()) {
        resp::append_bulk(out, "reason");
        resp::append_bulk(out, e.reason);
    }
    if (!e.text.empty()) {
        resp::append_bulk(out, "text");
        resp::append_bulk(out, e.text);
    }
    if (e.ms >= 0) {
        resp::append_bulk(out, e.kind == "exited" ? "uptime_ms" : e.kind == "ready" ? "ready_ms" : "delay_ms");
        resp::append_int(out, e.ms);
    }
}

void RecentEvents::add(TreeEvent e) {
    events_.push_back(std::move(e));
    if (events_.size() > keep) events_.pop_front();
}

}  // namespace seq::sup
