#include "metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <functional>
#include <vector>

namespace seq::sup {

std::string label_value(std::string_view s) {
    std::string r;
    for (char c : s) {
        if (c == '\\' || c == '"') r += '\\', r += c;
        else if (c == '\n') r += "\\n";
        else r += c;
    }
    return r;
}

namespace {

struct Family {
    const char* name;
    const char* type;
    const char* help;
    std::string samples;
};

// Each child at every depth, a pool's instances one by one: `f(child,
// its path as seqctl names it, its labels)`.
using Visit = std::function<void(const ChildReport&, const std::string&, const std::string&)>;
void each_child(const std::vector<ChildReport>& children, const std::string& prefix, const Visit& f) {
    for (auto& k : children) {
        auto path = prefix + k.name;
        if (k.pool) {
            for (auto& i : k.instances) {
                auto hash = i.name.rfind('#');
                auto index = hash == std::string::npos ? i.name : i.name.substr(hash + 1);
                f(i, path + "#" + index, "path=\"" + label_value(path) + "\",instance=\"" + label_value(index) + "\"");
            }
        } else {
            f(k, path, "path=\"" + label_value(path) + "\"");
        }
        each_child(k.children, path + "/", f);
    }
}

// Integers as they are; seconds from milliseconds, to the millisecond.
struct Value {
    std::int64_t n;
    bool ms = false;
};
Value count(std::int64_t n) { return {n, false}; }
Value seconds(std::int64_t ms) { return {ms, true}; }

// Appended in place: a fresh scrape of 1,000 children writes some 20,000
// of these.
void append(std::string& out, Value value) {
    char v[32];
    char* end = v;
    if (!value.ms) {
        end = std::to_chars(v, v + sizeof v, value.n).ptr;
    } else {
        // Whole seconds, then the milliseconds: -500 ms is -0.500.
        auto n = value.n;
        if (n < 0) *end++ = '-';
        auto ms = n < 0 ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
        end = std::to_chars(end, v + sizeof v, ms / 1000).ptr;
        *end++ = '.';
        *end++ = static_cast<char>('0' + ms / 100 % 10);
        *end++ = static_cast<char>('0' + ms / 10 % 10);
        *end++ = static_cast<char>('0' + ms % 10);
    }
    out.append(v, end);
}

std::string text_of(Value value) {
    std::string v;
    append(v, value);
    return v;
}

// `name{labels<more>} value`: `more` is another label, with its comma.
void sample(std::string& out, const char* name, const std::string& labels, Value value, std::string_view more = {}) {
    out += name;
    out += '{';
    out += labels;
    out += more;
    out += "} ";
    append(out, value);
    out += '\n';
}

}  // namespace

std::string metrics_text(const TreeReport& r) {
    Family up{"seq_child_up", "gauge", "1 if the child runs (ready), else 0.", {}};
    Family restarts{"seq_child_restarts_total", "counter", "Starts of the child after its first, whatever caused them.", {}};
    Family deaths{"seq_child_deaths_total", "counter",
                  "Ends of the child's processes, by reason: signal, exit, normal, watchdog, start_timeout, "
                  "memory_limit, oom, health, exec_failed, stopped.",
                  {}};
    Family ready{"seq_child_ready_seconds", "histogram", "Time from a start of the child to its readiness.", {}};
    Family uptime{"seq_child_uptime_seconds", "gauge", "How long the child's current process has run.", {}};
    Family cpu{"seq_child_cpu_seconds_total", "counter", "CPU time of the child's current processes (user and system).", {}};
    Family memory{"seq_child_memory_bytes", "gauge", "Resident memory of the child's current processes.", {}};
    Family window{"seq_supervisor_restarts_in_window", "gauge", "Restarts within the supervisor's intensity window.", {}};
    Family most{"seq_supervisor_max_restarts", "gauge", "Restarts the supervisor allows within its window (one more and it gives up).", {}};
    // The buckets' labels, the same for every child.
    std::array<std::string, ReadyTimes::bounds_ms.size()> le;
    for (std::size_t i = 0; i < le.size(); ++i)
        le[i] = ",le=\"" + text_of(seconds(static_cast<std::int64_t>(ReadyTimes::bounds_ms[i]))) + "\"";
    sample(window.samples, window.name, "path=\"/\"", count(r.restarts_in_window));
    sample(most.samples, most.name, "path=\"/\"", count(r.max_restarts));
    each_child(r.children, "", [&](const ChildReport& k, const std::string&, const std::string& labels) {
        sample(up.samples, up.name, labels, count(k.state == "running" ? 1 : 0));
        sample(restarts.samples, restarts.name, labels, count(k.restarts));
        for (auto& [reason, n] : k.deaths_by_reason)
            sample(deaths.samples, deaths.name, labels, count(n), ",reason=\"" + label_value(reason) + "\"");
        if (k.ready_times) {
            auto& t = *k.ready_times;
            for (std::size_t i = 0; i < t.bounds_ms.size(); ++i) {
                sample(ready.samples, "seq_child_ready_seconds_bucket", labels,
                       count(static_cast<std::int64_t>(t.at_most[i])), le[i]);
            }
            sample(ready.samples, "seq_child_ready_seconds_bucket", labels, count(static_cast<std::int64_t>(t.count)),
                   ",le=\"+Inf\"");
            sample(ready.samples, "seq_child_ready_seconds_sum", labels, seconds(static_cast<std::int64_t>(t.sum)));
            sample(ready.samples, "seq_child_ready_seconds_count", labels, count(static_cast<std::int64_t>(t.count)));
        }
        if (k.uptime_ms) sample(uptime.samples, uptime.name, labels, seconds(std::max<std::int64_t>(*k.uptime_ms, 0)));
        if (k.cpu_ms) sample(cpu.samples, cpu.name, labels, seconds(std::max<std::int64_t>(*k.cpu_ms, 0)));
        if (k.memory_bytes) sample(memory.samples, memory.name, labels, count(*k.memory_bytes));
        if (k.type != "worker") {
            sample(window.samples, window.name, labels, count(k.restarts_in_window));
            sample(most.samples, most.name, labels, count(k.max_restarts));
        }
    });
    std::string out;
    for (auto* f : {&up, &restarts, &deaths, &ready, &uptime, &cpu, &memory, &window, &most}) {
        if (f->samples.empty()) continue;
        out += std::string("# HELP ") + f->name + " " + f->help + "\n# TYPE " + f->name + " " + f->type + "\n";
        out += f->samples;
    }
    return out;
}

TreeHealth tree_readiness(const TreeReport& r) {
    TreeHealth out;
    if (r.state == "stopping") out.body += "the tree is stopping\n";
    each_child(r.children, "", [&](const ChildReport& k, const std::string& path, const std::string&) {
        if (k.state == "running" || k.state == "stopped") return;
        out.body += path + ": " + k.state + "\n";
    });
    out.ready = out.body.empty();
    if (out.ready) out.body = "ready\n";
    return out;
}

}  // namespace seq::sup
