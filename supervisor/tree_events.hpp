// What happens in a tree, one event at a time: a child started, became
// ready, exited (and why), a restart was planned, a supervisor gave up, a
// stop or a start was asked for. Each supervisor says what happens to its
// own children, and nested ones send theirs up (subtree.hpp), so the top
// one keeps the whole tree's: `seqctl events` reads and follows them.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace seq::sup {

struct TreeEvent {
    std::uint64_t wall_ms = 0;  // since the epoch
    std::string kind;  // one of event_kinds
    std::string path;  // the child's; a supervisor's own (gave_up): its path, "/" for the top
    pid_t pid = 0;     // 0 where no process is meant
    std::string reason;    // exited: as deaths are counted (lifecycle::death_reason)
    std::string text;      // as the log says it: "killed by SIGKILL", "restarting b, c in 1s"
    std::int64_t ms = -1;  // exited: its uptime; ready: from its start; restart_scheduled: the delay
};

// Every kind of event, as `seqctl events` and on_event's `events` name them.
inline constexpr std::string_view event_kinds[] = {
    "started",          // a process of the child started: its first, a restart (reason: why), an upgrade's
    "ready",            // it said so (ms: since its start)
    "exited",           // it ended (reason: as deaths are counted; ms: its uptime)
    "restart_scheduled",  // a strategy's plan after a death (ms: the delay)
    "crash_loop",       // more than crash_loop_restarts restarts within crash_loop_seconds
    "unhealthy",        // its health probe failed `failures` times in a row: it is ended
    "escalated",        // a nested supervisor went past its restart intensity: its parent decides
    "gave_up",          // a supervisor went past its restart intensity ("/": the top, which stops)
    "stop_requested",   // seqctl stop
    "start_requested",  // seqctl start
};
bool is_event_kind(std::string_view kind);
// "started, ready, ...", for an error.
std::string event_kinds_text();

// One event as EVENTS sends it: [line, [key, value, ...]], the line as
// seqctl prints it, the pairs for its JSON.
void append_event(std::string& out, const TreeEvent& e);
// "2026-12-07T18:20:01.123Z exited mid/low/leaf (pid 42): killed by SIGKILL after 3.2s [signal]"
std::string event_line(const TreeEvent& e);

// One event as one line of JSON (no newline): what `seqctl events --json`
// prints, and an on_event hook reads.
std::string event_json(const TreeEvent& e);

// The last `keep` events, oldest first.
class RecentEvents {
public:
    static constexpr std::size_t keep = 1000;
    void add(TreeEvent e);
    const TreeEvent& newest() const { return events_.back(); }  // after an add()
    // The last `n` whose path a filter names (Supervisor::names), oldest first.
    template <class Names>
    std::vector<const TreeEvent*> last(std::size_t n, Names names) const {
        std::vector<const TreeEvent*> out;
        for (auto it = events_.rbegin(); it != events_.rend() && out.size() < n; ++it)
            if (names(it->path)) out.push_back(&*it);
        return {out.rbegin(), out.rend()};
    }

    // The last `n` that `pred` takes, oldest first.
    template <class Pred>
    std::vector<const TreeEvent*> last_where(std::size_t n, Pred pred) const {
        std::vector<const TreeEvent*> out;
        for (auto it = events_.rbegin(); it != events_.rend() && out.size() < n; ++it)
            if (pred(*it)) out.push_back(&*it);
        return {out.rbegin(), out.rend()};
    }

private:
    std::deque<TreeEvent> events_;
};

}  // namespace seq::sup
