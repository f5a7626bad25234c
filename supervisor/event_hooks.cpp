#include "event_hooks.hpp"

#include <algorithm>
#include <exception>

#include "log.hpp"

namespace seq::sup {

EventHooks::EventHooks(uv_loop_t* loop, SideJobs& jobs, HookSpec spec)
    : jobs_(jobs), spec_(std::move(spec)), drain_deadline_(uv::make_timer(loop)) {
    drain_deadline_->data = this;
}

EventHooks::~EventHooks() {
    if (running_) jobs_.cancel(running_);
}

void EventHooks::offer(const TreeEvent& e) {
    if (!spec_.events.empty() && std::find(spec_.events.begin(), spec_.events.end(), e.kind) == spec_.events.end())
        return;
    if (queue_.size() >= max_queued) {
        // Said at the first drop, then once a hundred: a storm of events
        // does not become a storm of log lines.
        if (dropped_++ % 100 == 0)
            log("on_event: %llu event(s) dropped so far: %zu are already waiting for the hook",
                static_cast<unsigned long long>(dropped_), queue_.size());
        return;
    }
    queue_.push_back({event_json(e) + "\n", e.kind, e.path});
    next();
}

void EventHooks::next() {
    while (running_ == 0 && !queue_.empty()) {
        Queued q = std::move(queue_.front());
        queue_.pop_front();
        SideJob job;
        job.argv = spec_.command;
        job.input = q.json;
        job.env = {"SEQ_EVENT=" + q.kind, "SEQ_EVENT_PATH=" + q.path};
        job.timeout_ms = spec_.timeout_ms;
        try {
            running_ = jobs_.run(job, [this, q](const SideJobEnd& end) { finished(q, end); });
        } catch (const std::exception& e) {
            log("on_event: cannot run %s for %s %s: %s", spec_.command[0].c_str(), q.kind.c_str(), q.path.c_str(), e.what());
        }
    }
    if (drained_ && idle()) stop_draining();
}

void EventHooks::finished(const Queued& q, const SideJobEnd& end) {
    if (!end.ok())
        log("on_event: %s for %s %s (pid %d): %s", spec_.command[0].c_str(), q.kind.c_str(), q.path.c_str(),
            static_cast<int>(running_), end.describe(spec_.timeout_ms).c_str());
    running_ = 0;
    next();
}

void EventHooks::drain(std::function<void()> done) {
    if (idle()) return done();
    if (drained_) {
        drained_ = std::move(done);
        return;
    }
    drained_ = std::move(done);
    uv_timer_start(drain_deadline_.get(), [](uv_timer_t* t) {
        auto* self = uv::owner<EventHooks>(t);
        if (!self) return;
        if (!self->queue_.empty())
            log("on_event: stopping: %zu event(s) dropped that the hook had not run for", self->queue_.size());
        self->queue_.clear();
        if (self->running_) {
            log("on_event: stopping: the hook still running (pid %d) is killed", static_cast<int>(self->running_));
            self->jobs_.cancel(self->running_);
            self->running_ = 0;
        }
        self->stop_draining();
    }, spec_.timeout_ms, 0);
}

void EventHooks::stop_draining() {
    uv_timer_stop(drain_deadline_.get());
    if (auto done = std::exchange(drained_, nullptr)) done();
}

}  // namespace seq::sup
