// A tree's on_event: its command run for each event of the kinds it names,
// with the event as one line of JSON on its stdin (supervisord's event
// listeners, PM2's hooks). One runs at a time, each within its timeout, so a
// hook that hangs is killed and one that fails is logged; the supervision
// never waits for one. Events that come while one runs wait in a bounded
// queue; past it they are dropped, and counted in the log.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "side_jobs.hpp"
#include "tree.hpp"
#include "tree_events.hpp"
#include "uv.hpp"

namespace seq::sup {

class EventHooks {
public:
    static constexpr std::size_t max_queued = 100;
    EventHooks(uv_loop_t* loop, SideJobs& jobs, HookSpec spec);
    ~EventHooks();
    EventHooks(const EventHooks&) = delete;
    EventHooks& operator=(const EventHooks&) = delete;

    // `e` happened: its hook runs, now or once those before it have.
    void offer(const TreeEvent& e);
    // A reload's spec: the next hook runs it; the one running goes on.
    void respec(HookSpec spec) { spec_ = std::move(spec); }
    bool idle() const { return running_ == 0 && queue_.empty(); }
    // The tree has stopped: what is queued still runs, for at most one
    // timeout from now; then the rest is dropped. `done` once idle.
    void drain(std::function<void()> done);

private:
    struct Queued {
        std::string json, kind, path;
    };
    void next();
    void finished(const Queued& q, const SideJobEnd& end);
    void stop_draining();

    SideJobs& jobs_;
    HookSpec spec_;
    std::deque<Queued> queue_;
    pid_t running_ = 0;
    std::uint64_t dropped_ = 0;
    uv::Timer drain_deadline_;
    std::function<void()> drained_;
};

}  // namespace seq::sup
