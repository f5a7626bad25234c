// The live page at `/`: one HTML file with its script inline (no build
// step, nothing fetched from elsewhere), which polls /tree.json twice a
// second and draws the tree, each child's sparklines and the last hour's
// deaths and restarts; a click on a child fetches /child.json/PATH, its
// last lines and deaths. The JSON is made here from the tree's report, its
// usage history and its events: pure functions, tested without a browser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "report.hpp"
#include "tree_events.hpp"
#include "usage_history.hpp"

namespace seq::sup {

std::string_view live_page_html();

// {"now": ms, "pid": n, "state": ..., "restarts_in_window": n, "max_restarts": n,
//  "children": [{"name", "path", "type", "state", "pid", "uptime_ms",
//  "restarts", "cpu_ms", "memory_bytes", "cpu": [permille...], "memory":
//  [bytes...], "instances": [...], "children": [...]}...], "timeline":
//  [{"t": ms, "event", "path", "reason"}...]}
std::string tree_json(const TreeReport& r, const UsageHistory& history, const std::vector<const TreeEvent*>& timeline,
                      std::uint64_t now_ms);
// {"path": ..., "lines": [...], "deaths": [{"t", "text", "reason"}...]}
std::string child_json(std::string_view path, const std::vector<std::string>& lines,
                       const std::vector<const TreeEvent*>& deaths);

}  // namespace seq::sup
