#include "http_routes.hpp"

#include <string>

#include "live_page.hpp"
#include "metrics.hpp"
#include "tree_events.hpp"
#include "process.hpp"
#include "supervisor.hpp"

namespace seq::sup {

namespace {

constexpr std::uint64_t max_age_ms = 1000;

HttpReply text(unsigned status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body)}; }

}  // namespace

HttpRoutes::HttpRoutes(Supervisor& supervisor, uv_loop_t* loop, std::function<std::vector<DaemonTarget>()> daemons)
    : supervisor_(supervisor), loop_(loop),
      usage_(std::make_shared<Usage>(Usage{uv::make_timer(loop), {}, &supervisor, {}})) {
    if (daemons) daemons_ = std::make_shared<DaemonFigures>(loop, std::move(daemons));
    usage_->timer->data = usage_.get();
    auto sample = [](uv_timer_t* t) {
        // Under a scraper the report is fresh already: no second read of /proc.
        if (auto* u = uv::owner<Usage>(t)) u->history.add(u->fresh(uv_now(t->loop), max_age_ms), uv_now(t->loop));
    };
    uv_timer_start(usage_->timer.get(), sample, 0, UsageHistory::every_ms);
}

const TreeReport& HttpRoutes::Usage::fresh(std::uint64_t now, std::uint64_t max_age) {
    return report.get(now, supervisor->generation(), max_age, [&] { return supervisor->report(); });
}

HttpReply HttpRoutes::operator()(std::string_view url) {
    if (url == "/metrics")
        return {200, "text/plain; version=0.0.4; charset=utf-8",
                metrics_.get(uv_now(loop_), supervisor_.generation(), max_age_ms,
                             [&] {
                                 auto text = metrics_text(usage_->fresh(uv_now(loop_), max_age_ms / 2));
                                 if (daemons_) text += daemon_metrics_text(daemons_->latest());
                                 return std::make_shared<const std::string>(std::move(text));
                             })};
    // Alive while it supervises; a supervisor past its intensity, or on its
    // way out, is for a restart of its own (Kubernetes: liveness).
    if (url == "/livez") {
        if (supervisor_.gave_up()) return text(503, "gave up: past its restart intensity\n");
        if (supervisor_.stopping()) return text(503, "stopping\n");
        return text(200, "live\n");
    }
    if (url == "/readyz") {
        auto r = tree_readiness(supervisor_.snapshot());
        return text(r.ready ? 200 : 503, r.body);
    }
    if (url == "/") return {200, "text/html; charset=utf-8", std::string(live_page_html())};
    if (url == "/tree.json") {
        return {200, "application/json", tree_.get(uv_now(loop_), supervisor_.generation(), max_age_ms / 2, [&] {
                    const auto now = wall_now_ms();
                    auto recent = supervisor_.events().last_where(RecentEvents::keep, [&](const TreeEvent& e) {
                        return now - e.wall_ms <= 3'600'000 &&
                               (e.kind == "exited" || (e.kind == "started" && !e.reason.empty()));
                    });
                    return std::make_shared<const std::string>(
                        tree_json(usage_->fresh(uv_now(loop_), max_age_ms / 2), usage_->history, recent, now));
                })};
    }
    if (url.starts_with("/child.json/")) {
        auto path = url.substr(std::string_view("/child.json/").size());
        std::vector<std::string> lines;
        if (auto why = supervisor_.recent_lines(path, 40, lines))
            return text(404, (why->starts_with("ERR ") ? why->substr(4) : *why) + "\n");
        auto deaths = supervisor_.events().last_where(
            10, [&](const TreeEvent& e) { return e.kind == "exited" && Supervisor::names(path, e.path); });
        return {200, "application/json", child_json(path, lines, deaths)};
    }
    return text(404, "not found: /, /metrics, /livez and /readyz are served here\n");
}

}  // namespace seq::sup
