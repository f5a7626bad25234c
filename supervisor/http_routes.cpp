#include "http_routes.hpp"

#include <string>

#include "metrics.hpp"
#include "process.hpp"
#include "supervisor.hpp"

namespace seq::sup {

namespace {

constexpr std::uint64_t max_age_ms = 1000;

HttpReply text(unsigned status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body)}; }

}  // namespace

const std::string& HttpRoutes::metrics() {
    const auto now = uv_now(loop_);
    const auto generation = supervisor_.generation();
    if (!metrics_made_ || now - metrics_at_ >= max_age_ms || generation != metrics_generation_) {
        metrics_ = metrics_text(supervisor_.report(usage_by_group()));
        metrics_at_ = now;
        metrics_generation_ = generation;
        metrics_made_ = true;
    }
    return metrics_;
}

HttpReply HttpRoutes::operator()(std::string_view url) {
    if (url == "/metrics")
        return {200, "text/plain; version=0.0.4; charset=utf-8", metrics()};
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
    if (url == "/") return text(200, "seq-supervisor: /metrics (Prometheus), /livez, /readyz\n");
    return text(404, "not found: /metrics, /livez and /readyz are served here\n");
}

}  // namespace seq::sup
