#include "daemon_figures.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "fd.hpp"
#include "metrics.hpp"
#include "resp.hpp"
#include "socket.hpp"

namespace seq::sup {

std::vector<DaemonTarget> daemon_targets(const SupervisorSpec& s, const std::string& run_dir,
                                         const std::string& stash_password) {
    std::vector<DaemonTarget> out;
    std::function<void(const SupervisorSpec&, const std::string&)> walk = [&](const SupervisorSpec& at,
                                                                              const std::string& prefix) {
        for (auto& c : at.children) {
            const auto path = prefix + c.name;
            if (c.type == ChildType::supervisor) {
                walk(c.sub, path + "/");
                continue;
            }
            if (c.instances > 0) continue;
            const auto program = std::filesystem::path(c.program.empty() ? c.command.front() : c.program).filename();
            const bool stash = program == "seq-stash", worker = program == "seq-worker";
            if (!stash && !worker) continue;
            for (auto& sock : c.sockets) {
                if (sock.tcp()) continue;
                DaemonTarget t;
                t.path = path;
                t.kind = stash ? DaemonTarget::Kind::stash : DaemonTarget::Kind::worker;
                t.socket = sock.path.starts_with('/') ? sock.path : run_dir + "/" + sock.path;
                if (stash) t.password = stash_password;
                out.push_back(std::move(t));
                break;
            }
        }
    };
    walk(s, "");
    return out;
}

InfoFields parse_info(std::string_view text) {
    InfoFields out;
    while (!text.empty()) {
        auto end = text.find('\n');
        auto line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) continue;
        out.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
    return out;
}

namespace {

// A whole number at the start of `s`, or nullopt.
std::optional<std::uint64_t> number(std::string_view s) {
    std::uint64_t n = 0;
    std::size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) n = n * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (i == 0) return std::nullopt;
    return n;
}

std::string micros_as_seconds(std::uint64_t us) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llu.%06llu", static_cast<unsigned long long>(us / 1'000'000),
                  static_cast<unsigned long long>(us % 1'000'000));
    return buf;
}

}  // namespace

std::string daemon_metrics_text(const std::map<std::string, DaemonInfo>& figures) {
    std::string keys, commands, commits, next;
    for (auto& [path, info] : figures) {
        const auto label = "path=\"" + label_value(path) + "\"";
        const auto& f = info.fields;
        if (info.kind == DaemonTarget::Kind::worker) {
            if (auto it = f.find("next_served"); it != f.end())
                if (auto n = number(it->second)) next += "seq_worker_next_total{" + label + "} " + std::to_string(*n) + "\n";
            continue;
        }
        std::uint64_t key_count = 0;
        if (auto it = f.find("db0"); it != f.end() && it->second.starts_with("keys="))
            key_count = number(std::string_view(it->second).substr(5)).value_or(0);
        keys += "seq_stash_keys{" + label + "} " + std::to_string(key_count) + "\n";
        for (auto& [name, value] : f) {
            if (!name.starts_with("cmdstat_") || !value.starts_with("calls=")) continue;
            if (auto n = number(std::string_view(value).substr(6)))
                commands += "seq_stash_commands_total{" + label + ",command=\"" + label_value(name.substr(8)) + "\"} " +
                            std::to_string(*n) + "\n";
        }
        auto total_at = f.find("commits");
        auto sum_at = f.find("commit_usec_sum");
        if (total_at == f.end() || sum_at == f.end()) continue;
        const auto total_read = number(total_at->second), sum_read = number(sum_at->second);
        if (!total_read || !sum_read) continue;
        const std::uint64_t total = *total_read, sum = *sum_read;
        // The fields come sorted by name ("le_1000" before "le_250"): the
        // buckets go out by bound.
        std::vector<std::pair<std::uint64_t, std::uint64_t>> buckets;
        for (auto& [name, value] : f) {
            if (!name.starts_with("commit_usec_le_")) continue;
            auto bound = number(std::string_view(name).substr(15));
            auto n = number(value);
            if (bound && n) buckets.emplace_back(*bound, *n);
        }
        std::sort(buckets.begin(), buckets.end());
        for (auto [bound, n] : buckets) {
            char le[32];
            std::snprintf(le, sizeof le, "%g", static_cast<double>(bound) / 1e6);
            commits += "seq_stash_commit_seconds_bucket{" + label + ",le=\"" + le + "\"} " + std::to_string(n) + "\n";
        }
        commits += "seq_stash_commit_seconds_bucket{" + label + ",le=\"+Inf\"} " + std::to_string(total) + "\n";
        commits += "seq_stash_commit_seconds_sum{" + label + "} " + micros_as_seconds(sum) + "\n";
        commits += "seq_stash_commit_seconds_count{" + label + "} " + std::to_string(total) + "\n";
    }
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help, const std::string& samples) {
        if (samples.empty()) return;
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + samples;
    };
    family("seq_stash_keys", "gauge", "Keys the stash holds.", keys);
    family("seq_stash_commands_total", "counter", "Commands the stash has run, by name.", commands);
    family("seq_stash_commit_seconds", "histogram", "Time the stash's store took for each commit.", commits);
    family("seq_worker_next_total", "counter", "Numbers handed out by NEXT.", next);
    return out;
}

// One INFO asked of one daemon: a connect, the request (with AUTH first
// where it needs one), and its reply, read as it comes.
struct DaemonFigures::Ask {
    DaemonFigures* owner;
    DaemonTarget target;
    Fd fd;
    uv::Poll poll;
    uv::Timer deadline;
    std::string in;
    resp::ReplyParser parser;
    int replies_left = 1;
};

DaemonFigures::DaemonFigures(uv_loop_t* loop, std::function<std::vector<DaemonTarget>()> targets)
    : loop_(loop), targets_(std::move(targets)), timer_(uv::make_timer(loop)) {
    timer_->data = this;
    uv_timer_start(timer_.get(), [](uv_timer_t* t) {
        if (auto* self = uv::owner<DaemonFigures>(t)) self->round();
    }, 0, every_ms);
}

DaemonFigures::~DaemonFigures() = default;

void DaemonFigures::round() {
    // From a libuv callback: nothing may be thrown out of it.
    try {
        ask_all();
    } catch (const std::exception&) {
    }
}

void DaemonFigures::ask_all() {
    const auto targets = targets_();
    // Children gone from the tree are forgotten.
    auto gone = [&](const auto& e) {
        return std::none_of(targets.begin(), targets.end(), [&](const DaemonTarget& t) { return t.path == e.first; });
    };
    std::erase_if(latest_, gone);
    std::erase_if(misses_, gone);
    for (auto& t : targets) {
        if (asking_.count(t.path)) continue;  // the last one still within its deadline
        auto a = std::make_unique<Ask>();
        a->owner = this;
        a->target = t;
        try {
            a->fd = connect_unix(t.socket, true);
        } catch (const std::exception&) {
            answered(t.path, t.kind, std::nullopt);
            continue;
        }
        std::string request;
        if (!t.password.empty()) {
            std::string_view auth[] = {"AUTH", "default", t.password};
            resp::append_command(request, auth);
            a->replies_left = 2;
        }
        std::string_view info[] = {"INFO", "everything"};
        resp::append_command(request, info);
        // A fresh connection's buffer takes these few bytes whole.
        if (::send(a->fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
            answered(t.path, t.kind, std::nullopt);
            continue;
        }
        a->poll = uv::make_poll(loop_, a->fd.get());
        a->poll->data = a.get();
        uv_poll_start(a->poll.get(), UV_READABLE, [](uv_poll_t* h, int status, int) {
            auto* ask = uv::owner<Ask>(h);
            if (!ask) return;
            auto* self = ask->owner;
            const auto path = ask->target.path;
            const auto kind = ask->target.kind;
            if (status < 0) return self->answered(path, kind, std::nullopt);
            char buf[16384];
            ssize_t n = ::read(ask->fd.get(), buf, sizeof buf);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (n <= 0) return self->answered(path, kind, std::nullopt);
            ask->in.append(buf, static_cast<std::size_t>(n));
            // A stash's INFO is a few KiB; more than this is not one.
            if (ask->in.size() > (1 << 20)) return self->answered(path, kind, std::nullopt);
            for (;;) {
                resp::Value v;
                auto st = ask->parser.parse(ask->in, v);
                if (st == resp::Status::incomplete) return;
                if (st != resp::Status::ok) return self->answered(path, kind, std::nullopt);
                ask->in.erase(0, ask->parser.consumed());
                // AUTH's answer does not matter: INFO's says whether it took.
                if (--ask->replies_left > 0) continue;
                if (v.type == resp::Value::Type::error) return self->answered(path, kind, std::nullopt);
                return self->answered(path, kind, v.str);
            }
        });
        a->deadline = uv::make_timer(loop_);
        a->deadline->data = a.get();
        uv_timer_start(a->deadline.get(), [](uv_timer_t* h) {
            if (auto* ask = uv::owner<Ask>(h)) ask->owner->answered(ask->target.path, ask->target.kind, std::nullopt);
        }, deadline_ms, 0);
        asking_[t.path] = std::move(a);
    }
}

void DaemonFigures::answered(std::string path, DaemonTarget::Kind kind, std::optional<std::string> info) {
    asking_.erase(path);
    if (!info) {
        if (++misses_[path] >= misses_kept) latest_.erase(path);
        return;
    }
    misses_.erase(path);
    latest_[path] = DaemonInfo{kind, parse_info(*info)};
}

}  // namespace seq::sup
