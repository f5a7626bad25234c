#include "tree_events.hpp"

#include <cstdio>

#include "child_log.hpp"
#include "json.hpp"
#include "resp.hpp"

namespace seq::sup {

namespace {

std::string seconds(std::int64_t ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
}

// Each field of `e` as EVENTS and the JSON give it: `text(key, value)` or
// `number(key, value)`.
template <class Text, class Number>
void each_field(const TreeEvent& e, Text text, Number number) {
    text("time", rfc3339(e.wall_ms));
    text("event", e.kind);
    text("path", e.path);
    if (e.pid) number("pid", e.pid);
    if (!e.reason.empty()) text("reason", e.reason);
    if (!e.text.empty()) text("text", e.text);
    if (e.ms >= 0) number(e.kind == "exited" ? "uptime_ms" : e.kind == "ready" ? "ready_ms" : "delay_ms", e.ms);
}

}  // namespace

bool is_event_kind(std::string_view kind) {
    for (auto k : event_kinds)
        if (k == kind) return true;
    return false;
}

std::string event_kinds_text() {
    std::string out;
    for (auto k : event_kinds) out += (out.empty() ? "" : ", ") + std::string(k);
    return out;
}

std::string event_json(const TreeEvent& e) {
    std::string out = "{";
    auto sep = [&] { out += out.size() > 1 ? ", " : ""; };
    each_field(
        e, [&](std::string_view k, const std::string& v) { sep(), out += json_string(k) + ": " + json_string(v); },
        [&](std::string_view k, std::int64_t v) { sep(), out += json_string(k) + ": " + std::to_string(v); });
    return out + "}";
}

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
    std::size_t fields = 0;
    each_field(e, [&](auto, const auto&) { ++fields; }, [&](auto, auto) { ++fields; });
    resp::append_array(out, 2 * fields);
    each_field(
        e, [&](std::string_view k, const std::string& v) { resp::append_bulk(out, k), resp::append_bulk(out, v); },
        [&](std::string_view k, std::int64_t v) { resp::append_bulk(out, k), resp::append_int(out, v); });
}

void RecentEvents::add(TreeEvent e) {
    events_.push_back(std::move(e));
    if (events_.size() > keep) events_.pop_front();
}

}  // namespace seq::sup
