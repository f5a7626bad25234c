// seqctl logs and seqctl why: what the children a path names wrote lately,
// and how their processes ended lately (child_log.hpp keeps both).
#include <algorithm>
#include <csignal>

#include "resp.hpp"
#include "supervisor.hpp"

namespace seq::sup {

void Supervisor::heard(Child& c, pid_t pid, Stream stream, std::string_view line) {
    c.recent.add(wall_now_ms(), pid, stream, line);
    if (line_heard_) line_heard_(c, c.recent.newest());
}

void Supervisor::reopen_logs() {
    log_files_.reopen_all();
    for (auto& c : children_)
        if (c->spec.type == ChildType::supervisor)
            // Once it runs: before its loop is up, SIGUSR1 would end it.
            if (auto* i = c->active.get(); i && i->phase == lifecycle::Phase::running) kill(i->pid, SIGUSR1);
}

bool Supervisor::names(std::string_view path, const Child& c) {
    return path == "/" || c.path == path || (!c.spec.pool.empty() && c.pool_path() == path);
}

std::optional<std::string> Supervisor::named_here(std::string_view path, std::vector<const Child*>& out) const {
    if (path == "/") {  // the whole tree (what this supervisor keeps of it)
        for (auto& child : children_) out.push_back(child.get());
        return std::nullopt;
    }
    auto [c, rest] = route(path);
    if (c && rest.empty()) {
        out.push_back(c);
        return std::nullopt;
    }
    if (c)  // below a nested supervisor: its lines are kept there
        return "ERR " + std::string(path) +
               " is below a nested supervisor: its lines are in the log, not kept here (not yet)";
    if (pools_.count(path)) {
        for (auto& child : children_)
            if (child->spec.pool == path) out.push_back(child.get());
        return std::nullopt;
    }
    return "ERR no such child: " + std::string(path);
}

std::optional<std::string> Supervisor::recent_lines(std::string_view path, std::size_t n,
                                                    std::vector<std::string>& out) const {
    std::vector<const Child*> named;
    if (auto why = named_here(path, named)) return why;
    // Merged by time from the tails (each child's lines are in order): the
    // newest n of a whole tree cost n picks, not a copy of n lines a child.
    std::vector<std::size_t> left;  // of each named child, its lines not yet taken
    for (auto* c : named) left.push_back(c->recent.size());
    std::vector<std::pair<const LogLine*, const Child*>> picked;
    while (picked.size() < n) {
        std::optional<std::size_t> best;
        for (std::size_t k = 0; k < named.size(); ++k)
            if (left[k] && (!best || named[k]->recent.at(left[k] - 1).wall_ms >=
                                         named[*best]->recent.at(left[*best] - 1).wall_ms))
                best = k;
        if (!best) break;
        picked.emplace_back(&named[*best]->recent.at(--left[*best]), named[*best]);
    }
    for (auto it = picked.rbegin(); it != picked.rend(); ++it) out.push_back(format_line(*it->first, it->second->path));
    return std::nullopt;
}

std::optional<std::string> Supervisor::deaths(std::string_view path, std::string& out) const {
    std::vector<const Child*> named;
    if (auto why = named_here(path, named)) return why;
    std::vector<std::pair<const Death*, const Child*>> all;
    for (auto* c : named)
        for (auto& d : c->deaths.newest_first()) all.emplace_back(&d, c);
    std::stable_sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first->wall_ms > b.first->wall_ms; });
    if (all.size() > Deaths::keep) all.resize(Deaths::keep);  // a pool's: its latest, whichever instance
    resp::append_array(out, all.size());
    for (auto& [d, c] : all) {
        std::string block = rfc3339(d->wall_ms) + " " + c->path + " (pid " + std::to_string(d->pid) + "): " + d->why +
                            " after " + seconds(d->uptime_ms) + "\n";
        if (d->last_lines.empty()) block += "  (it wrote nothing before)\n";
        for (auto& l : d->last_lines) block += "  " + format_line(l, c->path) + "\n";
        resp::append_bulk(out, block);
    }
    return std::nullopt;
}

}  // namespace seq::sup
