#include "health_probe.hpp"

#include <algorithm>
#include <exception>

#include "http_checks.hpp"

namespace seq::sup {

// A TCP connect in flight: the handle and its request live until the
// handle's close callback, which libuv runs after the request's callback
// (cancelled, if the close came first).
struct HealthProbe::Tcp {
    uv_tcp_t handle{};
    uv_connect_t request{};
    HealthProbe* owner = nullptr;  // null once the probe no longer waits for it
    void close() {
        owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&handle),
                 [](uv_handle_t* h) { std::unique_ptr<Tcp>(static_cast<Tcp*>(h->data)); });
    }
};

HealthProbe::HealthProbe(uv_loop_t* loop, HealthSpec spec, std::string cwd, Tools tools, bool serving, Told told)
    : loop_(loop), spec_(std::move(spec)), cwd_(std::move(cwd)), tools_(std::move(tools)), told_(std::move(told)),
      next_(uv::make_timer(loop)), timeout_(uv::make_timer(loop)), serving_(serving) {
    next_->data = this;
    timeout_->data = this;
    if (spec_.kind == HealthSpec::Kind::tcp) {
        std::string why;
        tcp_at_ = parse_listen_address(spec_.target, why);  // checked as the tree was loaded
    }
    delay_ = std::min(delay_, spec_.interval_ms);
    schedule(serving_ ? spec_.interval_ms : delay_);
}

HealthProbe::~HealthProbe() { cancel(); }

void HealthProbe::serving() {
    if (serving_) return;
    serving_ = true;
    in_row_ = 0;
    if (!in_flight_) schedule(spec_.interval_ms);
}

void HealthProbe::cancel() {
    if (job_) tools_.jobs->cancel(std::exchange(job_, 0));
    if (http_) {
        // Made already, or there would be no transfer to cancel.
        tools_.http().cancel(std::exchange(http_, 0));
    }
    if (tcp_) std::exchange(tcp_, nullptr)->close();
    uv_timer_stop(timeout_.get());
    in_flight_ = false;
}

void HealthProbe::schedule(std::uint64_t ms) {
    uv_timer_start(next_.get(), [](uv_timer_t* t) {
        auto* p = uv::owner<HealthProbe>(t);
        if (!p) return;
        if (p->pending_) return p->done(std::exchange(p->pending_, std::nullopt));
        p->check();
    }, ms, 0);
}

void HealthProbe::check() {
    in_flight_ = true;
    // A failure to even start a check is told from the loop, as any other.
    auto fail_now = [&](std::string why) {
        pending_ = std::move(why);
        schedule(0);
    };
    try {
        switch (spec_.kind) {
        case HealthSpec::Kind::command: {
            SideJob job;
            job.argv = spec_.command;
            job.cwd = cwd_;
            job.timeout_ms = spec_.timeout_ms;
            job_ = tools_.jobs->run(job, [this](const SideJobEnd& end) {
                job_ = 0;
                done(end.ok() ? std::nullopt : std::optional<std::string>(end.describe(spec_.timeout_ms)));
            });
            return;
        }
        case HealthSpec::Kind::http:
            http_ = tools_.http().get(spec_.target, spec_.timeout_ms, [this](std::optional<std::string> failure) {
                http_ = 0;
                done(std::move(failure));
            });
            return;
        case HealthSpec::Kind::tcp: {
            auto t = std::make_unique<Tcp>();
            if (int rc = uv_tcp_init(loop_, &t->handle); rc < 0) return fail_now(std::string("socket: ") + uv_strerror(rc));
            t->handle.data = t.get();
            t->request.data = t.get();
            t->owner = this;
            tcp_ = t.release();
            int rc = uv_tcp_connect(&tcp_->request, &tcp_->handle, reinterpret_cast<const sockaddr*>(&tcp_at_->addr),
                                    [](uv_connect_t* req, int status) {
                                        auto* attempt = static_cast<Tcp*>(req->data);
                                        auto* p = attempt->owner;
                                        if (!p) return;  // cancelled, or timed out
                                        uv_timer_stop(p->timeout_.get());
                                        std::exchange(p->tcp_, nullptr)->close();
                                        p->done(status < 0 ? std::optional<std::string>(
                                                                 "connect to " + p->spec_.target + ": " + uv_strerror(status))
                                                           : std::nullopt);
                                    });
            if (rc < 0) {
                std::exchange(tcp_, nullptr)->close();
                return fail_now("connect to " + spec_.target + ": " + uv_strerror(rc));
            }
            uv_timer_start(timeout_.get(), [](uv_timer_t* h) {
                auto* p = uv::owner<HealthProbe>(h);
                if (!p || !p->tcp_) return;
                std::exchange(p->tcp_, nullptr)->close();
                p->done("connect to " + p->spec_.target + ": no answer within " + std::to_string(p->spec_.timeout_ms) +
                        " ms");
            }, spec_.timeout_ms, 0);
            return;
        }
        }
    } catch (const std::exception& e) {
        fail_now(e.what());
    }
}

void HealthProbe::done(std::optional<std::string> failure) {
    in_flight_ = false;
    // While starting, failures are expected and not counted: its start
    // timeout bounds the wait.
    if (!failure) in_row_ = 0;
    else if (serving_) ++in_row_;
    if (serving_) schedule(spec_.interval_ms);
    else {
        schedule(delay_ = std::min({delay_ * 2, spec_.interval_ms, std::uint64_t{1000}}));
    }
    // Last: whoever is told may destroy this probe.
    told_(failure, in_row_, spec_.failures);
}

}  // namespace seq::sup
