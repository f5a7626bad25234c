// seqctl logs and seqctl why: what the children a path names wrote lately,
// and how their processes ended lately (child_log.hpp keeps both).
#include <algorithm>

#include "resp.hpp"
#include "supervisor.hpp"

namespace seq::sup {

void Supervisor::heard(Child& c, std::uint64_t wall_ms, pid_t pid, Stream stream, std::string_view line) {
    c.recent.add(wall_ms, pid, stream, line);
    if (line_heard_) line_heard_(c.path, c.recent.newest());
}

void Supervisor::heard_below(Child& c, const resp::Value& e) {
    // ["line", path, pid, "out"|"err", wall_ms, text] or
    // ["death", path, pid, wall_ms, uptime_ms, why, reason]: anything else is
    // ignored (a death without its reason, from an older binary, is "unknown").
    // ["event", path, pid, wall_ms, kind, reason, text, ms]: one of its
    // events (tree_events.hpp), or its own (gave_up).
    using Type = resp::Value::Type;
    auto& v = e.elems;
    if (v.size() < 6 || v[1].type != Type::bulk || v[2].type != Type::integer) return;
    const auto& path = v[1].str;
    if (v[0].str == "event") {
        if (v.size() != 8 || v[3].type != Type::integer || v[4].type != Type::bulk || v[5].type != Type::bulk ||
            v[6].type != Type::bulk || v[7].type != Type::integer || (path != c.path && !path.starts_with(c.path + "/")))
            return;
        heard_event({static_cast<std::uint64_t>(v[3].integer), v[4].str, path, static_cast<pid_t>(v[2].integer),
                     v[5].str, v[6].str, v[7].integer});
        if (v[4].str != "ready" || v[7].integer < 0) return;  // the rest is kept for its ready times
    }
    // Only what is below it: a nested supervisor speaks for its own subtree.
    if (!path.starts_with(c.path + "/")) return;
    const bool ready = v[0].str == "event" && v[4].str == "ready";
    // Bounded: paths come and go (a dynamic supervisor's children), and a
    // few hundred chatty ones could hold 256 KiB each. Past either bound,
    // the path heard from longest ago is forgotten.
    constexpr std::size_t most_paths = 1000, most_bytes = 64 << 20;
    auto it = c.below.find(path);
    if (it == c.below.end()) it = c.below.emplace(path, KeptBelow{}).first;
    auto before = it->second.recent.bytes();
    auto forget_oldest = [&] {
        auto oldest = c.below.end();
        for (auto k = c.below.begin(); k != c.below.end(); ++k)
            if (k != it && (oldest == c.below.end() || k->second.last_ms < oldest->second.last_ms)) oldest = k;
        if (oldest == c.below.end()) return false;
        c.below_bytes -= oldest->second.recent.bytes();
        c.below.erase(oldest);
        return true;
    };
    while (c.below.size() > most_paths && forget_oldest()) {
    }
    auto& kept = it->second;
    auto pid = static_cast<pid_t>(v[2].integer);
    if (ready) {
        kept.last_ms = static_cast<std::uint64_t>(v[3].integer);
        return kept.ready_times.add(static_cast<std::uint64_t>(v[7].integer));
    }
    if (v[0].str == "line" && v[3].type == Type::bulk && v[4].type == Type::integer && v[5].type == Type::bulk) {
        kept.last_ms = static_cast<std::uint64_t>(v[4].integer);
        kept.recent.add(kept.last_ms, pid, v[3].str == "err" ? Stream::err : Stream::out, v[5].str);
        c.below_bytes += kept.recent.bytes();
        c.below_bytes -= before;
        while (c.below_bytes > most_bytes && forget_oldest()) {
        }
        if (line_heard_) line_heard_(it->first, kept.recent.newest());
    } else if (v[0].str == "death" && v[3].type == Type::integer && v[4].type == Type::integer &&
               v[5].type == Type::bulk) {
        kept.last_ms = static_cast<std::uint64_t>(v[3].integer);
        std::string reason = v.size() > 6 && v[6].type == Type::bulk ? v[6].str : "";
        kept.deaths.add({kept.last_ms, pid, v[5].str, static_cast<std::uint64_t>(v[4].integer),
                         kept.recent.last_of(pid, Deaths::lines_each), std::move(reason)});
        if (death_heard_) death_heard_(it->first, kept.deaths.newest());
    }
}

void Supervisor::emit(std::string kind, std::string path, pid_t pid, std::string reason, std::string text,
                      std::int64_t ms) {
    heard_event({wall_now_ms(), std::move(kind), std::move(path), pid, std::move(reason), std::move(text), ms});
}

void Supervisor::heard_event(TreeEvent e) {
    // The top sees every restart of the tree: a crash loop is its to say.
    const bool restart = env_.path.empty() && e.kind == "started" && e.reason == "strategy";
    std::string path = restart ? e.path : "";
    const pid_t pid = e.pid;
    events_.add(std::move(e));
    if (event_heard_) event_heard_(events_.newest());
    if (hooks_) hooks_->offer(events_.newest());
    if (!restart) return;
    if (!crash_loops_) crash_loops_.emplace(env_.crash_loop_restarts, env_.crash_loop_seconds);
    if (auto n = crash_loops_->restarted(path, loop_.now()))
        emit("crash_loop", path, pid, "",
             "restarted " + std::to_string(*n) + " times within " + std::to_string(env_.crash_loop_seconds) + "s");
}

void Supervisor::reopen_logs() {
    log_files_.reopen_all();
    // Down the channel, not by a signal: a nested supervisor still starting
    // has it queued, one ending does not die of it.
    for (auto& c : children_)
        if (c->subtree) c->subtree->command({"REOPEN"});
}

bool Supervisor::names(std::string_view filter, std::string_view path) {
    if (filter == "/" || path == filter) return true;
    return path.size() > filter.size() && path.starts_with(filter) &&
           (path[filter.size()] == '#' || path[filter.size()] == '/');
}

std::optional<std::string> Supervisor::named_here(std::string_view path, std::vector<Kept>& out) const {
    auto [c, rest] = route(path);
    if (path != "/" && !c && !pools_.count(path)) return "ERR no such child: " + std::string(path);
    for (auto& child : children_) {
        if (names(path, child->path)) out.push_back({child->path, &child->recent, &child->deaths});
        for (auto& [below, kept] : child->below)
            if (names(path, below)) out.push_back({below, &kept.recent, &kept.deaths});
    }
    // Below a nested supervisor, a child that has written nothing yet, nor died.
    if (out.empty() && !has_child(path)) return "ERR no such child: " + std::string(path);
    return std::nullopt;
}

std::optional<std::string> Supervisor::recent_lines(std::string_view path, std::size_t n,
                                                    std::vector<std::string>& out) const {
    std::vector<Kept> named;
    if (auto why = named_here(path, named)) return why;
    // Merged by time from the tails (each child's lines are in order): the
    // newest n of a whole tree cost n picks, not a copy of n lines a child.
    std::vector<std::size_t> left;  // of each named child, its lines not yet taken
    for (auto& c : named) left.push_back(c.recent->size());
    std::vector<std::pair<const LogLine*, const Kept*>> picked;
    while (picked.size() < n) {
        std::optional<std::size_t> best;
        for (std::size_t k = 0; k < named.size(); ++k)
            if (left[k] && (!best || named[k].recent->at(left[k] - 1).wall_ms >=
                                         named[*best].recent->at(left[*best] - 1).wall_ms))
                best = k;
        if (!best) break;
        picked.emplace_back(&named[*best].recent->at(--left[*best]), &named[*best]);
    }
    for (auto it = picked.rbegin(); it != picked.rend(); ++it) out.push_back(format_line(*it->first, it->second->path));
    return std::nullopt;
}

std::optional<std::string> Supervisor::deaths(std::string_view path, std::string& out) const {
    std::vector<Kept> named;
    if (auto why = named_here(path, named)) return why;
    std::vector<std::pair<const Death*, const Kept*>> all;
    for (auto& c : named)
        for (auto& d : c.deaths->newest_first()) all.emplace_back(&d, &c);
    std::stable_sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first->wall_ms > b.first->wall_ms; });
    if (all.size() > Deaths::keep) all.resize(Deaths::keep);  // a pool's: its latest, whichever instance
    resp::append_array(out, all.size());
    for (auto& [d, c] : all) {
        std::string block = rfc3339(d->wall_ms) + " " + std::string(c->path) + " (pid " + std::to_string(d->pid) + "): " + d->why +
                            " after " + seconds(d->uptime_ms) + "\n";
        if (d->last_lines.empty()) block += "  (it wrote nothing before)\n";
        for (auto& l : d->last_lines) block += "  " + format_line(l, c->path) + "\n";
        resp::append_bulk(out, block);
    }
    return std::nullopt;
}

}  // namespace seq::sup
