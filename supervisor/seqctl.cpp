// seqctl: the command line for people and shell scripts.
#include "cli.hpp"
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <iostream>
#include <limits>
#include <string>

#include "client.hpp"
#include "json.hpp"
#include "socket.hpp"

namespace {

using seq::json_string;

namespace code {
constexpr int ok = 0;
constexpr int server_error = 1;
constexpr int usage = 2;
constexpr int connect = 3;
constexpr int io = 4;
constexpr int output = 5;
}  // namespace code

const char* const exit_codes_help = R"(Exit codes:
  0  success
  1  the server replied with an error (printed on stderr)
  2  bad command line
  3  cannot connect (the message names the socket)
  4  the connection failed mid-call (closed, or no reply within --timeout)
  5  the reply could not be written to standard output (a number handed out
     by next or increment is then lost: it is never handed out again))";

// Prints a reply for people and scripts: numbers and strings bare, one per line.
void print(const seq::resp::Value& v) {
    using T = seq::resp::Value::Type;
    switch (v.type) {
    case T::integer: std::printf("%lld\n", static_cast<long long>(v.integer)); break;
    case T::simple:
    case T::bulk: {
        std::string s = v.str;
        for (std::size_t i; (i = s.find("\r\n")) != std::string::npos;) s.erase(i, 1);
        std::fputs(s.c_str(), stdout);
        if (s.empty() || s.back() != '\n') std::fputc('\n', stdout);
        break;
    }
    case T::nil: std::puts("(nil)"); break;
    case T::array:
        for (const auto& e : v.elems) print(e);
        break;
    case T::error: std::fprintf(stderr, "%s\n", v.str.c_str()); break;
    }
}

std::string json_value(const seq::resp::Value& v) {
    using T = seq::resp::Value::Type;
    switch (v.type) {
    case T::integer: return std::to_string(v.integer);
    case T::nil: return "null";
    case T::array: {
        std::string r = "[";
        for (std::size_t i = 0; i < v.elems.size(); ++i) r += (i ? ", " : "") + json_value(v.elems[i]);
        return r + "]";
    }
    default: return json_string(v.str);
    }
}

// A flat [key, value, key, value...] array as a JSON object; a nested
// supervisor's "children", a pool's "instances" and a child's "sockets" as
// arrays of such objects.
std::string json_object(const seq::resp::Value& kv) {
    std::string r = "{";
    for (std::size_t i = 0; i + 1 < kv.elems.size(); i += 2) {
        r += (i ? ", " : "") + json_string(kv.elems[i].str) + ": ";
        const auto& v = kv.elems[i + 1];
        const auto& key = kv.elems[i].str;
        if ((key == "children" || key == "sockets" || key == "instances") && v.type == seq::resp::Value::Type::array) {
            r += "[";
            for (std::size_t j = 0; j < v.elems.size(); ++j) r += (j ? ", " : "") + json_object(v.elems[j]);
            r += "]";
        } else {
            r += json_value(v);
        }
    }
    return r + "}";
}

using seq::resp::field;

std::string text(const seq::resp::Value* v) {
    if (!v || v->type == seq::resp::Value::Type::nil) return "-";
    if (v->type == seq::resp::Value::Type::integer) return std::to_string(v->integer);
    return v->str;
}

std::string uptime(const seq::resp::Value* v) {
    if (!v || v->type != seq::resp::Value::Type::integer) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(v->integer) / 1000.0);
    return buf;
}

// LAST EXIT, or why a stopped child is down when that is not its last exit.
std::string last_exit(const seq::resp::Value& c) {
    auto* by = field(c, "stopped_by");
    if (by && by->str == "request") return "by request";
    if (by && by->str == "autostart") return "autostart = false";
    return text(field(c, "last_exit"));
}

// CPU: "0.4s", then "12m03s" past a minute.
std::string cpu(const seq::resp::Value& c) {
    auto* v = field(c, "cpu_ms");
    if (!v || v->type != seq::resp::Value::Type::integer) return "-";
    char buf[32];
    if (v->integer < 60000) std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(v->integer) / 1000.0);
    else std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(v->integer / 60000),
                       static_cast<long long>(v->integer / 1000 % 60));
    return buf;
}

std::string bytes(std::int64_t n) {
    char buf[32];
    if (n < (1 << 20)) std::snprintf(buf, sizeof buf, "%lldK", static_cast<long long>(n >> 10));
    else if (n < (std::int64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / (1 << 20));
    else std::snprintf(buf, sizeof buf, "%.2fG", static_cast<double>(n) / (1 << 30));
    return buf;
}

// MEM: "12.3M", and "/200.0M" with its memory_max.
std::string memory(const seq::resp::Value& c) {
    auto* v = field(c, "memory_bytes");
    auto* max = field(c, "memory_max");
    using T = seq::resp::Value::Type;
    std::string out = v && v->type == T::integer ? bytes(v->integer) : "-";
    if (max && max->type == T::integer) out += "/" + bytes(max->integer);
    return out;
}

// A waiting child (restart backoff) shows how long it has left to wait.
std::string uptime_or_wait(const seq::resp::Value& c) {
    auto* wait = field(c, "restart_in_ms");
    if (wait && wait->type == seq::resp::Value::Type::integer) return "restart in " + uptime(wait);
    return uptime(field(c, "uptime_ms"));
}

// STATUS replies [supervisor fields, [child fields...]], each a flat key/value array.
bool well_formed_status(const seq::resp::Value& v) {
    using T = seq::resp::Value::Type;
    if (v.type != T::array || v.elems.size() != 2 || v.elems[0].type != T::array || v.elems[1].type != T::array)
        return false;
    for (const auto& c : v.elems[1].elems)
        if (c.type != T::array) return false;
    return true;
}

// The widest name, indented two spaces a level.
void measure(const std::vector<seq::resp::Value>& children, std::size_t depth, std::size_t& width) {
    for (const auto& c : children) {
        width = std::max(width, depth * 2 + text(field(c, "name")).size());
        if (field(c, "standby") || field(c, "surge_pid") || field(c, "draining"))
            width = std::max(width, depth * 2 + 2 + std::string_view("(standby)").size());
        if (auto* below = field(c, "children")) measure(below->elems, depth + 1, width);
        if (auto* below = field(c, "instances")) measure(below->elems, depth + 1, width);
    }
}

void print_children(const std::vector<seq::resp::Value>& children, std::size_t depth, std::size_t width) {
    auto row = [&](const std::string& name, const std::string& pid, const std::string& state, const std::string& gen,
                   const std::string& restarts, const std::string& exit, const std::string& up,
                   const std::string& cpu_time = "-", const std::string& mem = "-") {
        std::printf("%-*s %-8s %-9s %-4s %-9s %-26s %-7s %-13s %s\n", static_cast<int>(width), name.c_str(), pid.c_str(),
                    state.c_str(), gen.c_str(), restarts.c_str(), exit.c_str(), cpu_time.c_str(), mem.c_str(), up.c_str());
    };
    for (const auto& c : children) {
        auto indent = std::string(depth * 2, ' ');
        // A pool's line sums up its instances: their generations are theirs.
        auto gen = field(c, "instances") ? std::string("-") : text(field(c, "generation"));
        row(indent + text(field(c, "name")), text(field(c, "pid")), text(field(c, "state")), gen,
            text(field(c, "restarts")), last_exit(c), uptime_or_wait(c), cpu(c), memory(c));
        // Its standby, idle and ready to take over, on a line of its own;
        // during a rollout, the new instance starting beside it and the
        // old ones draining.
        if (auto* sb = field(c, "standby"); sb && sb->type == seq::resp::Value::Type::integer)
            row(indent + "  (standby)", text(sb), "idle", "-", "-", "-", "-");
        if (auto* sp = field(c, "surge_pid"); sp && sp->type == seq::resp::Value::Type::integer)
            row(indent + "  (new)", text(sp), "starting", "-", "-", "-", "-");
        if (auto* dr = field(c, "draining"))
            for (const auto& pid : dr->elems) row(indent + "  (old)", text(&pid), "draining", "-", "-", "-", "-");
        if (auto* up = field(c, "upgrade")) std::printf("%s  upgrade: %s\n", indent.c_str(), up->str.c_str());
        if (auto* dropped = field(c, "log_dropped"); dropped && dropped->type == seq::resp::Value::Type::integer)
            std::printf("%s  log: %lld lines dropped, the disk being full or failing: %s\n", indent.c_str(),
                        static_cast<long long>(dropped->integer), text(field(c, "log_file")).c_str());
        if (auto* below = field(c, "children")) print_children(below->elems, depth + 1, width);
        if (auto* below = field(c, "instances")) print_children(below->elems, depth + 1, width);
    }
}

// `json_extra`: more ", key: value" pairs for the JSON object's end.
void print_status(const seq::resp::Value& v, bool json, const std::string& json_extra) {
    const auto& top = v.elems[0];
    const auto& children = v.elems[1].elems;
    if (json) {
        std::string r = json_object(top);
        r.pop_back();
        r += std::string(top.elems.empty() ? "" : ", ") + "\"children\": [";
        for (std::size_t i = 0; i < children.size(); ++i) r += (i ? ", " : "") + json_object(children[i]);
        std::printf("%s]%s}\n", r.c_str(), json_extra.c_str());
        return;
    }
    std::printf("supervisor pid %s, %s; strategy %s, at most %s restarts in %ss (%s in the current window)\n",
                text(field(top, "pid")).c_str(), text(field(top, "state")).c_str(),
                text(field(top, "strategy")).c_str(), text(field(top, "max_restarts")).c_str(),
                text(field(top, "max_seconds")).c_str(), text(field(top, "restarts_in_window")).c_str());
    std::size_t width = 8;
    measure(children, 0, width);
    std::printf("%-*s %-8s %-9s %-4s %-9s %-26s %-7s %-13s %s\n", static_cast<int>(width), "NAME", "PID", "STATE", "GEN",
                "RESTARTS", "LAST EXIT", "CPU", "MEM", "UPTIME");
    print_children(children, 0, width);
}

// A closed standard fd would be the next one open() or socket() returns: our
// connection would become "stdout", and the reply would go back to the server
// instead of to the user. Stdin and stderr are plugged with /dev/null; a
// closed stdout cannot take the number it asks for, so nothing is asked.
bool std_fds_usable() {
    for (int fd : {0, 2})
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd) return false;
    return fcntl(1, F_GETFD) >= 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);  // a reader gone from stdout is EPIPE, reported as such (exit 5)
    if (!std_fds_usable()) {
        std::fprintf(stderr, "seqctl: standard output is closed: nowhere to print a reply, so nothing was asked\n");
        return code::output;
    }
    CLI::App app{"seqctl: talk to a sequence tree (worker and supervisor) from a shell."};
    app.footer(exit_codes_help);
    // At most one command, and one is needed (checked after parsing, so that
    // an unknown word is named as such rather than taken for a missing command).
    app.require_subcommand(0, 1);
    std::string run_dir;
    std::string socket;
    int timeout_ms = 5000;
    auto* rd = app.add_option("--run-dir", run_dir,
                              "the tree's run dir (default: $SEQUENCE_RUN_DIR, else $XDG_RUNTIME_DIR/sequence, "
                              "else /tmp/sequence-$UID)");
    app.add_option("--socket", socket, "the worker's socket, instead of <run dir>/sequence.sock (next, increment, get, ping, info)")->excludes(rd);
    app.add_option("--timeout", timeout_ms, "milliseconds to wait for a reply")->capture_default_str()->check(
        seq::integer_in(1, 86'400'000));

    std::vector<std::string> request;
    auto* next = app.add_subcommand("next", "hand out the current number and advance (prints it)");
    std::string delta;
    auto* increment = app.add_subcommand("increment", "add N to the sequence (prints the new current number)");
    increment->add_option("N", delta, "a non-negative integer")
        ->required()
        ->check(seq::integer_in(0, std::numeric_limits<std::int64_t>::max()));
    auto* get = app.add_subcommand("get", "print the current number without changing it");
    auto* ping = app.add_subcommand("ping", "check that the worker answers");
    auto* info = app.add_subcommand("info", "the worker's state as key:value lines");
    bool json = false;
    auto* status = app.add_subcommand("status", "the supervisor's children: pid, state, restarts, last exit");
    status->add_flag("--json", json, "one JSON object, for scripts");
    std::string status_path;
    status->add_option("PATH", status_path, "then that child's last death: when, why, after how long, and the "
                                            "lines it wrote before (seqctl why PATH has its last 10)");
    std::string child;
    auto* restart = app.add_subcommand("restart", "stop a child and start it again");
    restart->add_option("PATH", child, "the child's path in the tree: stash or worker in the built-in tree, "
                                       "jobs/mailer under a nested supervisor; a pool (all its instances) or "
                                       "web#3 (one)")->required();
    std::string stop_path;
    auto* stop = app.add_subcommand("stop", "with PATH: stop that child and keep it stopped (no strategy restarts "
                                            "it; seqctl start does); without: stop every child in reverse order, "
                                            "then the supervisor");
    stop->add_option("PATH", stop_path, "the child's path in the tree (a supervisor stops its subtree first)");
    std::string start_path;
    auto* start = app.add_subcommand("start", "start a child that seqctl stop stopped, or that has autostart = false");
    start->add_option("PATH", start_path, "the child's path in the tree")->required();
    std::string signal_path, signal_name;
    auto* signal = app.add_subcommand("signal", "send a signal to a child's process group");
    signal->add_option("PATH", signal_path, "the child's path in the tree")->required();
    signal->add_option("SIGNAL", signal_name, "HUP, INT, QUIT, KILL, USR1, USR2 or TERM (or its number)")->required();
    std::string scale_path, scale_n;
    auto* scale = app.add_subcommand("scale", "run N instances of a pool (a worker with instances in the tree "
                                              "file): up starts the new ones, down stops the highest first; "
                                              "answers once they run, and lasts until a reload changes the "
                                              "file's instances");
    scale->add_option("PATH", scale_path, "the pool's path in the tree")->required();
    scale->add_option("N", scale_n, "1 to 10000")->required();
    std::string add_path, add_name;
    std::vector<std::string> add_env, add_args;
    auto* add = app.add_subcommand("add", "start a child of a dynamic supervisor (type = \"dynamic\" in the tree "
                                          "file) from its template: answers once it runs, or says why it did not "
                                          "start (it is then not kept)");
    add->add_option("PATH", add_path, "the dynamic supervisor's path in the tree")->required();
    add->add_option("NAME", add_name, "the new child's name: letters, digits, '_', '-' or '.'")->required();
    add->add_option("--env", add_env, "NAME=VALUE in its environment, over the template's (repeatable)")
        ->type_name("NAME=VALUE")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    add->add_option("ARG", add_args, "after --: arguments appended to the template's command");
    std::string remove_path;
    auto* remove = app.add_subcommand("remove", "stop a child of a dynamic supervisor and forget it");
    remove->add_option("PATH", remove_path, "the child's path: the dynamic supervisor's, then its name "
                                            "(jobs/tenant-1)")->required();
    auto* reload = app.add_subcommand("reload", "read the tree file again: start added children, stop removed ones, "
                                                "restart changed ones, leave the rest running");
    std::string upgrade_path;
    auto* upgrade = app.add_subcommand("upgrade", "read the tree file again and apply its changes (below PATH, or "
                                                  "everywhere) by each child's update policy; prints each step, "
                                                  "waits until every rollout is over, and exits 0 if each went "
                                                  "through, 1 if one was rolled back (with why)");
    upgrade->add_option("PATH", upgrade_path, "a child's or a pool's path in the tree: only its changes are applied");
    std::string logs_path = "/", logs_n;
    bool logs_follow = false;
    auto* logs = app.add_subcommand("logs", "print the last lines a child wrote (kept by the supervisor, across its "
                                            "restarts: up to 1000 lines or 256 KiB a child)");
    logs->add_option("PATH", logs_path, "the child's path in the tree; a pool (all its instances, merged by time) "
                                        "or web#3 (one); without it, every child's");
    logs->add_option("-n,--lines", logs_n, "how many: 1 to 1000 (default 50)");
    logs->add_flag("-f,--follow", logs_follow, "then print each new line as it comes, until interrupted");
    bool logs_reopen = false;
    logs->add_flag("--reopen", logs_reopen, "reopen every log file instead (after an external logrotate moved "
                                            "them), nested supervisors' too; as SIGUSR1 to the supervisor");
    std::string why_path;
    auto* why = app.add_subcommand("why", "how a child's processes ended lately (its last 10 deaths, newest first): "
                                          "when, why, after how long, and the last 20 lines each wrote");
    why->add_option("PATH", why_path, "the child's path in the tree, or a pool's")->required();
    std::string events_path = "/", events_n;
    bool events_follow = false, events_json = false;
    auto* events = app.add_subcommand("events", "print the tree's last events, nested supervisors' too (kept by the "
                                                "top supervisor: up to 1000): started, ready, exited (with why, and "
                                                "its reason), restart_scheduled, gave_up, stop_requested, "
                                                "start_requested");
    events->add_option("PATH", events_path, "only those of the children at this path (a supervisor's: all below "
                                            "it; a pool's: its instances); without it, all");
    events->add_option("-n,--lines", events_n, "how many: 1 to 1000 (default 50)");
    events->add_flag("-f,--follow", events_follow, "then print each new one as it comes, until interrupted");
    events->add_flag("--json", events_json, "each event as one JSON object on a line of its own");
    if (auto code = seq::parse_command_line(app, argc, argv)) return *code;
    if (app.get_subcommands().empty()) {
        std::string names;
        for (auto* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
        std::fprintf(stderr, "seqctl: a command is needed: one of %s (seqctl --help says what each does)\n",
                     names.c_str());
        return code::usage;
    }
    if (run_dir.empty()) run_dir = seq::default_run_dir();
    bool to_supervisor = *status || *restart || *reload || *stop || *start || *signal || *scale || *add || *remove ||
                         *upgrade || *logs || *why || *events;
    if (to_supervisor && !socket.empty()) {
        std::fprintf(stderr, "seqctl: --socket names a worker's socket; %s talks to the supervisor: "
                             "use --run-dir\n", app.get_subcommands().front()->get_name().c_str());
        return code::usage;
    }
    if (socket.empty()) socket = run_dir + (to_supervisor ? "/control.sock" : "/sequence.sock");

    if (*next) request = {"NEXT"};
    if (*increment) request = {"INCREMENT", delta};
    if (*get) request = {"GET"};
    if (*ping) request = {"PING"};
    if (*info) request = {"INFO"};
    if (*status) request = {"STATUS"};
    if (*restart) request = {"RESTART", child};
    if (*reload) request = {"RELOAD"};
    if (*stop) request = stop_path.empty() ? std::vector<std::string>{"STOP"} : std::vector<std::string>{"STOP", stop_path};
    if (*start) request = {"START", start_path};
    if (*signal) request = {"SIGNAL", signal_path, signal_name};
    if (*scale) request = {"SCALE", scale_path, scale_n};
    if (*add) {
        request = {"ADD", add_path, add_name};
        for (auto& kv : add_env) request.insert(request.end(), {"ENV", kv});
        if (!add_args.empty()) request.emplace_back("ARGS");
        request.insert(request.end(), add_args.begin(), add_args.end());
    }
    if (*remove) request = {"REMOVE", remove_path};
    if (*logs) {
        request = {"LOGS", logs_path, logs_n.empty() ? "50" : logs_n};
        if (logs_follow) request.push_back("FOLLOW");
        if (logs_reopen && (logs_follow || !logs_n.empty() || logs_path != "/")) {
            std::fprintf(stderr, "seqctl: logs --reopen reopens every file: it takes no PATH, -n or -f\n");
            return code::usage;
        }
        if (logs_reopen) request = {"REOPEN"};
    }
    if (*why) request = {"WHY", why_path};
    if (*events) {
        request = {"EVENTS", events_path, events_n.empty() ? "50" : events_n};
        if (events_follow) request.push_back("FOLLOW");
    }
    if (*upgrade) request = upgrade_path.empty() ? std::vector<std::string>{"UPGRADE"}
                                                 : std::vector<std::string>{"UPGRADE", upgrade_path};
    // A rollout waits for each new instance to start and to run its
    // min_uptime: no reply deadline unless one is given.
    if ((*upgrade || logs_follow || events_follow) && app.get_option("--timeout")->count() == 0) timeout_ms = 86'400'000;

    try {
        // STATUS of a large tree is one array per child.
        seq::Client client(socket, std::chrono::milliseconds(timeout_ms),
                           *status ? seq::resp::tree_state_limits() : seq::resp::Limits{});
        std::vector<std::string_view> args(request.begin(), request.end());
        auto reply = client.call(args);
        // An event, [line, [key, value...]]: the line, or the pairs as JSON.
        auto print_event = [&](const seq::resp::Value& e) {
            if (e.type != seq::resp::Value::Type::array || e.elems.size() != 2) return;
            std::printf("%s\n", events_json ? json_object(e.elems[1]).c_str() : e.elems[0].str.c_str());
        };
        // EVENTS FOLLOW's, each as [event, [line, pairs]], until the supervisor ends it.
        while (events_follow && reply.type == seq::resp::Value::Type::array && reply.elems.size() == 2 &&
               reply.elems[0].str == "event") {
            print_event(reply.elems[1]);
            std::fflush(stdout);
            reply = client.read_reply();
        }
        // UPGRADE's steps come first, each as [upgrade, line], as they happen.
        // LOGS FOLLOW's lines, each as [log, line], until the supervisor ends it.
        while ((*upgrade || logs_follow) && reply.type == seq::resp::Value::Type::array && reply.elems.size() == 2) {
            std::printf("%s\n", reply.elems[1].str.c_str());
            std::fflush(stdout);
            reply = client.read_reply();
        }
        if (reply.is_error()) {
            std::fprintf(stderr, "seqctl: %s\n", reply.str.c_str());
            return code::server_error;
        }
        if (*status) {
            if (!well_formed_status(reply)) {
                std::fprintf(stderr, "seqctl: unexpected STATUS reply from %s\n", socket.c_str());
                return code::io;
            }
            // With PATH, its deaths too (WHY): in the JSON object, or the
            // last one below the table.
            seq::resp::Value deaths;
            std::string extra;
            if (!status_path.empty()) {
                std::vector<std::string_view> why_args{"WHY", status_path};
                deaths = client.call(why_args);
                if (deaths.is_error()) {
                    std::fprintf(stderr, "seqctl: %s\n", deaths.str.c_str());
                    return code::server_error;
                }
                extra = ", \"path\": " + json_string(status_path) + ", \"deaths\": [";
                for (std::size_t i = 0; i < deaths.elems.size(); ++i)
                    extra += (i ? ", " : "") + json_string(deaths.elems[i].str);
                extra += "]";
            }
            print_status(reply, json, extra);
            if (!json && !status_path.empty()) {
                if (deaths.elems.empty())
                    std::printf("\n%s: no death recorded\n", status_path.c_str());
                else
                    std::printf("\nlast death of %s:\n%s", status_path.c_str(), deaths.elems.front().str.c_str());
            }
        } else if (*upgrade) {
            std::printf("upgrade done\n");
        } else if (*events) {
            // A follow ends only with an error (cut off), or the socket's end.
            if (events_follow || reply.type != seq::resp::Value::Type::array) {
                std::fprintf(stderr, "seqctl: unexpected EVENTS reply from %s\n", socket.c_str());
                return code::io;
            }
            for (auto& e : reply.elems) print_event(e);
        } else if (*why && reply.type == seq::resp::Value::Type::array && reply.elems.empty()) {
            std::printf("%s has not died since the supervisor started\n",
                        why_path.c_str());
        } else {
            print(reply);
        }
        // A script must not take silence for success: its number is gone.
        if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
            std::fprintf(stderr, "seqctl: cannot write the reply to standard output: %s\n", std::strerror(errno));
            return code::output;
        }
        return code::ok;
    } catch (const seq::ConnectError& e) {
        std::fprintf(stderr, "seqctl: cannot connect: %s\n", e.what());
        return code::connect;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "seqctl: %s\n", e.what());
        return code::io;
    }
}
