// seq-supervisor: runs a supervision tree as an OTP supervisor would: the
// built-in sequence tree (seq-stash, then seq-worker), or any tree of
// programs described by a TOML file (--config).
#include <unistd.h>

#include "cli.hpp"
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "builtin_tree.hpp"
#include "commands.hpp"
#include "control.hpp"
#include "daemon.hpp"
#include "dynamic_child.hpp"
#include "held_sockets.hpp"
#include "http_checks.hpp"
#include "http_listener.hpp"
#include "http_routes.hpp"
#include "listen_address.hpp"
#include "leftovers.hpp"
#include "cgroups.hpp"
#include "log.hpp"
#include "process.hpp"
#include "run_dir.hpp"
#include "server.hpp"
#include "socket.hpp"
#include "subtree.hpp"
#include "stash_users.hpp"
#include "supervisor.hpp"
#include "tree_file.hpp"
#include "watchdog.hpp"

namespace {

// Whether a child anywhere below `s` has an HTTP health probe.
bool has_http_probe(const seq::sup::SupervisorSpec& s) {
    for (const auto& c : s.children)
        if ((c.health && c.health->kind == seq::sup::HealthSpec::Kind::http) || has_http_probe(c.sub)) return true;
    for (const auto& c : s.child_template)
        if (c.health && c.health->kind == seq::sup::HealthSpec::Kind::http) return true;
    return false;
}


const char* const exit_codes_help = R"(Exit codes:
  0  stopped in order (SIGTERM, SIGINT, SIGHUP, or seqctl stop): children stopped, sockets removed;
     with --check: the tree file is valid
  1  gave up: more than max_restarts restarts within max_seconds
  2  bad command line, or a tree file that is not valid (each error names file:line:column and the key)
  3  the run dir or a socket is unusable (held by another supervisor, wrong owner or mode)
  N  with auto_shutdown: a significant child ended the tree, and this is its exit status
     (128 + the signal's number if a signal ended it))";

std::string self_path() {
    char buf[PATH_MAX];
    auto n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n <= 0 ? "seq-supervisor" : std::string(buf, static_cast<std::size_t>(n));
}

// The children's programs live beside the supervisor's own.
std::string program_dir() {
    auto self = self_path();
    auto slash = self.rfind('/');
    return slash == std::string::npos ? "." : self.substr(0, slash);
}

// `run_dir`: where the tree's sockets will be bound, so that each is checked
// bindable; empty in a nested supervisor, which binds none.
// `subtree`: the text a nested supervisor is handed by its parent.
seq::sup::LoadContext load_context(const std::string& run_dir = "", bool subtree = false) {
    const char* path = std::getenv("PATH");
    return {program_dir(), path ? path : "/usr/local/bin:/usr/bin:/bin", run_dir, subtree};
}

// Loads a tree file, or says everything wrong with it on stderr.
std::optional<seq::sup::Tree> load(const std::string& file, const std::string& run_dir) {
    std::vector<std::string> errors;
    try {
        return seq::sup::load_tree_file(file, load_context(run_dir));
    } catch (const seq::sup::TreeFileError& e) {
        errors = e.errors;
    }
    for (auto& line : errors) std::fprintf(stderr, "seq-supervisor: %s\n", line.c_str());
    return std::nullopt;
}

// SIGUSR1 reopens the log files, as nginx's does (SIGHUP stops, as ever).
// A file past RLIMIT_FSIZE is then a write that fails, not SIGXFSZ's end.
seq::uv::Signal reopen_on_sigusr1(seq::uv::Loop& loop, seq::sup::Supervisor& supervisor) {
    std::signal(SIGXFSZ, SIG_IGN);
    auto h = seq::uv::make_signal(loop.get());
    h->data = &supervisor;
    seq::uv::check(uv_signal_start(h.get(), [](uv_signal_t* s, int) {
        if (auto* sup = seq::uv::owner<seq::sup::Supervisor>(s)) {
            seq::log("SIGUSR1 received: reopening the log files");
            sup->reopen_logs();
        }
    }, SIGUSR1), "uv_signal_start(SIGUSR1)");
    return h;
}

// How long what a killed supervisor left is given between SIGTERM and
// SIGKILL: the longest shutdown of the tree's children, or 5 s if none
// says (infinity, which a start cannot wait for, counts as 5 s too).
std::uint64_t grace_of(const seq::sup::SupervisorSpec& s) {
    std::uint64_t most = 0;
    bool any = false;
    for (auto* list : {&s.children, &s.child_template})
        for (auto& c : *list) {
            most = std::max(most, c.shutdown_ms.value_or(5000)), any = true;
            if (c.type == seq::sup::ChildType::supervisor) most = std::max(most, grace_of(c.sub)), any = true;
        }
    return any ? most : 5000;
}

// Binds the tree's sockets in the run dir, then supervises it until it
// stops. With a tree file, RELOAD on the control socket reads it again.
// With `http_by_flag`, --http named the listener and a reload keeps it,
// whatever the file says.
int run(const seq::sup::Tree& tree, const std::string& run_dir, const std::string& what, std::size_t max_clients,
        int notify_fd, bool cgroups_wanted, const std::string& file = "", bool http_by_flag = false) {
    using namespace seq;
    const auto child_nofile = sup::raise_fd_limit();
    auto inherited = inherited_listen_fds();  // before we open anything under their numbers
    uv::Loop loop;
    std::optional<sup::RunDir> dir;
    std::optional<sup::HeldSockets> sockets;
    std::unique_ptr<sup::HeldSocket> control_sock;
    std::optional<sup::Cgroups> cgroups;
    Fd http_socket;
    std::string http_path;  // a Unix socket's, removed at the end
    sup::Environment env;
    ServiceManager manager;  // systemd, when it started us (Type=notify)
    try {
        dir.emplace(run_dir, sup::run_dir_access(tree));
        // Ours alone now (its lock): what runs with its marker was left by
        // a supervisor killed here, and may hold what we are about to bind.
        auto marker = std::filesystem::absolute(dir->path()).lexically_normal().string();
        if (cgroups_wanted) cgroups.emplace(sup::tree_cgroup_name(marker), "");
        else cgroups.emplace(sup::Cgroups::Off{"--no-cgroups"});
        sup::stop_leftovers(marker, std::chrono::milliseconds(grace_of(tree.root)), *cgroups);
        cgroups->take();
        sockets.emplace(*dir, std::move(inherited));
        env = sockets->bind(tree);
        env.marker = marker;
        env.self = self_path();
        env.child_nofile = child_nofile;
        control_sock = sockets->control(tree);
        sockets->close_unclaimed();
        if (!tree.http.empty()) {
            if (sup::http_is_path(tree.http)) {
                http_path = tree.http.front() == '/' ? tree.http : dir->path() + "/" + tree.http;
                http_socket = listen_unix(http_path, 64);
            } else {
                sup::SocketSpec s;
                s.name = "http";
                s.listen = tree.http;
                http_socket = sup::listen_tcp(s);
            }
        }
        // Found missing now rather than at every probe's failure.
        if (has_http_probe(tree.root))
            if (auto why = sup::HttpChecks::unavailable()) throw std::runtime_error(*why);
        if (tree.stash_acl) {
            auto acl = sup::open_stash_acl(dir->path());
            env.stash_acl = acl.dir;
            env.stash_operator = acl.operator_password;
        }
    } catch (const std::exception& e) {
        log("cannot start: %s", e.what());
        return exit_code::socket;
    }
    const auto stash_operator = env.stash_operator;  // for /metrics to ask the stash
    sup::Supervisor supervisor(loop, tree.root, std::move(env));
    supervisor.use_cgroups(&*cgroups);
    ServerOptions control_opts;
    control_opts.max_clients = max_clients;
    sup::Control control(loop, supervisor, std::move(control_sock->fd), control_opts);
    auto operators = [](const sup::Tree& t) {
        return t.control_group ? std::optional<std::uint32_t>(t.control_group->gid) : std::nullopt;
    };
    control.allow_group(operators(tree));
    // Read-only: what it serves is made from the report, and acts on nothing.
    std::optional<sup::HttpListener> http;
    if (http_socket) {
        auto where = http_path.empty() ? seq::bound_address(http_socket.get()) : http_path;
        try {
            // Made again only when the tree has changed: a copy of a large
            // tree's spec every round would be most of what asking costs.
            auto daemons = [&supervisor, run = dir->path(), stash_operator,
                            made = std::optional<std::uint64_t>{}, targets = std::vector<sup::DaemonTarget>{}]() mutable {
                if (made != supervisor.generation()) {
                    targets = sup::daemon_targets(supervisor.running_spec(), run, stash_operator);
                    made = supervisor.generation();
                }
                return targets;
            };
            http.emplace(loop.get(), std::move(http_socket), sup::HttpRoutes(supervisor, loop.get(), daemons));
        } catch (const std::exception& e) {
            log("cannot start: %s", e.what());
            return exit_code::socket;
        }
        log("http: /metrics, /livez and /readyz on %s", where.c_str());
    }
    control.on_reload([&](std::string_view path) -> sup::Control::Outcome {
        if (file.empty())
            return {false, "ERR this supervisor runs the built-in tree: there is no tree file to read again "
                           "(start it with --config FILE)"};
        if (supervisor.rolling_out())
            return {false, "ERR a rollout is under way (seqctl status shows it): the tree file is read again once "
                           "it is over (seqctl upgrade waits for it)"};
        std::vector<std::string> errors;
        try {
            auto next = sup::load_tree_file(file, load_context(run_dir));
            if (http_by_flag) next.http = tree.http;
            if (next.http != tree.http)
                throw std::runtime_error("http cannot change at a reload (it is " +
                                         (tree.http.empty() ? std::string("off") : tree.http) +
                                         " for this run): stop the tree and start it again");
            if (next.stash_acl != tree.stash_acl)
                throw std::runtime_error(std::string("stash_acl cannot change at a reload (it is ") +
                                         (tree.stash_acl ? "on" : "off") +
                                         " for this run): stop the tree and start it again");
            // Only what is below `path` changes: the rest stays as it runs.
            if (!path.empty()) {
                auto running = supervisor.running_spec();
                if (auto why = sup::graft(running, next.root, path)) throw std::runtime_error(*why);
                next.root = std::move(running);
            }
            auto env = sockets->bind(next);
            control.allow_group(operators(next));
            env.self = self_path();
            env.child_nofile = child_nofile;
            return {true, supervisor.reconfigure(next.root, std::move(env))};
        } catch (const sup::TreeFileError& e) {
            errors = e.errors;
        } catch (const std::exception& e) {
            errors = {e.what()};
        }
        std::string said;
        for (auto& e : errors) said += (said.empty() ? "" : " | ") + e;
        log("reload refused, the tree is unchanged: %s", said.c_str());
        return {false, "ERR reload refused, the tree is unchanged: " + said};
    });
    // Ready, for whoever started us (s6 style, or systemd), once the whole tree runs.
    supervisor.on_first_settled([&, notify_fd] {
        notify_ready(notify_fd);
        manager.notify("READY=1\nSTATUS=every child running");
    });
    supervisor.on_stopping([&] { manager.notify("STOPPING=1"); });
    // WATCHDOG=1 to systemd from our loop, if it asked (WatchdogSec=).
    WatchdogPing watchdog(loop.get());
    StopSignals signals(loop.get(), [&](int sig) { supervisor.shutdown(seq::signal_name(sig) + " received"); });
    auto reopen = reopen_on_sigusr1(loop, supervisor);
    log("run dir %s; %s", dir->path().c_str(), what.c_str());
    if (cgroups->on()) log("cgroups: each child's processes in one of their own, below %s", cgroups->base().c_str());
    else log("cgroups: off (%s): a child's processes are known by their process group", cgroups->why_not().c_str());
    control.start();
    supervisor.start();
    loop.run();
    http.reset();
    if (!http_path.empty()) ::unlink(http_path.c_str());
    cgroups->leave();
    if (auto status = supervisor.auto_shutdown_status()) return *status;
    return supervisor.gave_up() ? exit_code::failure : exit_code::ok;
}

// A nested supervisor: its subtree comes as a tree file on `tree_fd`, its
// sockets as LISTEN_FDS, and its parent listens on `control_fd`.
// `asked`: the stops and starts asked for below it by path, which last
// across its restarts (its parent keeps them).
int run_nested(const std::string& path, int tree_fd, int control_fd, int notify_fd, std::map<std::string, bool> asked) {
    using namespace seq;
    log_init("supervisor " + path);
    std::string text;
    char buf[16 << 10];
    for (off_t at = 0;;) {
        auto n = pread(tree_fd, buf, sizeof buf, at);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        at += n;
    }
    close(tree_fd);
    sup::Tree tree;
    try {
        tree = sup::parse_tree(text, "<subtree " + path + ">", load_context("", true));
    } catch (const sup::TreeFileError& e) {
        for (auto& line : e.errors) log("%s", line.c_str());
        return exit_code::usage;
    }
    sup::Environment env;
    env.path = path;
    env.self = self_path();
    env.child_nofile = sup::raise_fd_limit();
    env.asked = std::move(asked);
    for (auto& [name, fd] : inherited_listen_fds()) env.sockets[name] = fd;
    if (const char* stash = std::getenv("SEQ_STASH")) env.stash = stash;
    if (const char* marker = std::getenv("SEQ_TREE")) env.marker = marker;
    if (const char* acl = std::getenv("SEQ_STASH_ACL")) env.stash_acl = acl;
    // The cgroup its parent started it in is its part of the tree.
    const char* given = std::getenv("SEQ_CGROUP");
    sup::Cgroups cgroups("", given ? given : "");
    cgroups.take();
    uv::Loop loop;
    sup::Supervisor supervisor(loop, tree.root, env);
    supervisor.use_cgroups(&cgroups);
    // Up: a snapshot whenever the subtree changes, and the answer to each
    // command. Down: what the control socket was asked for a child below
    // us, checked there first (so a refusal here is only logged), and a new
    // subtree. ADD, REMOVE, SCALE and RELOAD are answered when done; the rest at once.
    auto command = [&](std::span<const std::string_view> args, sup::Reply reply) {
        auto is = [&](std::string_view name, std::size_t n) { return is_command(args[0], name) && args.size() == n; };
        std::optional<std::string> why;
        if (is_command(args[0], "add") && args.size() >= 3) {
            std::string bad;
            auto a = sup::parse_addition(args.subspan(2), bad);
            why = a ? supervisor.add_child(args[1], *a, reply) : bad;
            if (!why) return;
        } else if (is("remove", 3)) {
            why = supervisor.remove_child(args[1], args[2], reply);
            if (!why) return;
        } else if (is("restart", 2)) why = supervisor.restart(args[1]);
        else if (is("stop", 2)) why = supervisor.stop_child(args[1]);
        else if (is("reopen", 1)) supervisor.reopen_logs();
        else if (is("start", 2)) why = supervisor.start_child(args[1]);
        else if (is("signal", 3)) {
            auto sig = sup::parse_child_signal(args[2]);
            why = sig ? supervisor.signal_child(args[1], *sig) : "ERR not a signal to send: " + std::string(args[2]);
        } else if (is("scale", 3)) {
            auto n = resp::parse_int(args[2]);
            why = n && *n > 0 && *n <= sup::bounds::instances.hi
                      ? supervisor.scale(args[1], static_cast<unsigned>(*n), reply)
                      : "ERR not a number of instances: " + std::string(args[2]);
            if (!why) return;
        } else if (is("reload", 3)) {
            // Checked by our parent before it came down; its sockets are ours already.
            // A rollout here goes on: the new subtree waits for our next start.
            if (supervisor.rolling_out()) {
                why = "ERR reload refused: a rollout is under way here";
            } else {
                try {
                    env.stash = args[2];
                    supervisor.reconfigure(
                        sup::parse_tree(args[1], "<subtree " + path + ">", load_context("", true)).root, env);
                    // Answered once the subtree settled: a rollout rolled
                    // back here is our parent's `seqctl upgrade`'s to report.
                    supervisor.watch_rollouts([](const std::string&) {}, reply);
                    return;
                } catch (const sup::TreeFileError& e) {
                    why = std::string("reload refused: ") + e.what();
                }
            }
        } else {
            why = "ERR not a command from a parent supervisor: " + lowercase(args[0]);
        }
        if (why) log("%s refused: %s", lowercase(args[0]).c_str(), why->c_str());
        reply(why);
    };
    sup::Uplink uplink(
        loop.get(), Fd(control_fd), [&] { return supervisor.snapshot(); }, [&] { return supervisor.generation(); },
        command);
    // What our children write, and how they end, goes up: the parent's
    // seqctl logs, why and follow read it there.
    supervisor.on_line([&](std::string_view path, const sup::LogLine& l) { uplink.line(path, l); });
    supervisor.on_death_heard([&](std::string_view path, const sup::Death& d) { uplink.death(path, d); });
    supervisor.on_event([&](const sup::TreeEvent& e) { uplink.event(e); });
    // Ready, as OTP's start_link returns, once every child of the subtree is.
    supervisor.on_first_settled([notify_fd] { notify_ready(notify_fd); });
    StopSignals signals(loop.get(), [&](int sig) { supervisor.shutdown(seq::signal_name(sig) + " received"); });
    auto reopen = reopen_on_sigusr1(loop, supervisor);
    supervisor.start();
    loop.run();
    uplink.finish();
    return supervisor.gave_up() ? exit_code::failure : exit_code::ok;
}

// A built-in tree's flag, in the range its tree file key takes.
CLI::Validator in(seq::sup::Bounds b, const char* zero = nullptr) { return seq::integer_in(b.lo, b.hi, zero); }

}  // namespace

int main(int argc, char** argv) {
    using namespace seq;
    CLI::App app{"seq-supervisor: starts a tree of programs in order and restarts them by an OTP strategy when "
                 "they die. Without --config it runs the built-in tree: seq-stash, then seq-worker. Runs in the "
                 "foreground and logs to stderr."};
    app.footer(exit_codes_help);
    std::string run_dir = default_run_dir();
    std::string config, check;
    bool print_config = false;
    std::string strategy = "rest_for_one";
    sup::BuiltinOptions b;
    app.add_option("--run-dir", run_dir, "where the sockets and the lock live (created 0700)")->capture_default_str();
    auto* config_opt = app.add_option("--config", config, "run the tree this TOML file describes (see seq-tree(5))");
    auto* check_opt = app.add_option("--check", check, "only validate a tree file: exit 0 if valid, else 2");
    auto* print_opt = app.add_flag("--print-config", print_config,
                                   "print the built-in tree, as these flags shape it, as a tree file, and exit");
    std::string http_flag;
    app.add_option("--http", http_flag,
                   "serve /metrics (Prometheus), /livez and /readyz, read-only, on HOST:PORT, PORT (on 127.0.0.1) "
                   "or a Unix socket's path (relative: in the run dir); for a tree file, instead of its http key");
    bool no_cgroups = false;
    app.add_flag("--no-cgroups", no_cgroups,
                 "run no child in a cgroup of its own, even where this supervisor may make them (their process "
                 "groups and $SEQ_TREE still say what is whose)");
    // A nested supervisor's own command line, from its parent: not for people.
    std::string nested;
    int tree_fd = -1, control_fd = -1, notify_fd = -1;
    auto* nested_opt = app.add_option("--nested", nested)->group("");
    app.add_option("--tree-fd", tree_fd)->group("")->needs(nested_opt);
    app.add_option("--control-fd", control_fd)->group("")->needs(nested_opt);
    std::vector<std::string> stopped, started;
    app.add_option("--stopped", stopped)->group("")->needs(nested_opt);
    app.add_option("--started", started)->group("")->needs(nested_opt);
    seq::add_notify_fd(app, notify_fd, "once every child of the tree runs");
    std::vector<CLI::Option*> builtin;
    builtin.push_back(app.add_option("--strategy", strategy, "which children a death restarts")
                          ->capture_default_str()
                          ->check(CLI::IsMember({"one_for_one", "one_for_all", "rest_for_one"})));
    builtin.push_back(app.add_option("--max-restarts", b.flags.max_restarts,
                                     "restart intensity: at most this many restarts...")
                          ->capture_default_str()
                          ->check(in(sup::bounds::max_restarts)));
    builtin.push_back(app.add_option("--max-seconds", b.flags.max_seconds, "...within this many seconds, else give up")
                          ->capture_default_str()
                          ->check(in(sup::bounds::max_seconds)));
    builtin.push_back(app.add_option("--initial", b.initial, "the worker's first number, when the stash holds none")
                          ->capture_default_str());
    builtin.push_back(app.add_option("--shutdown-timeout", b.shutdown_ms,
                                     "milliseconds between SIGTERM and SIGKILL when stopping a child")
                          ->capture_default_str()
                          ->check(in(sup::bounds::ms)));
    builtin.push_back(app.add_option("--start-timeout", b.start_timeout_ms, "milliseconds a child has to become ready")
                          ->capture_default_str()
                          ->check(in(sup::bounds::start_timeout)));
    builtin.push_back(app.add_option("--watchdog", b.watchdog_ms,
                                     "milliseconds a daemon may go without proving its loop runs (WATCHDOG=1) "
                                     "before it is killed as hung and restarted; 0: no watchdog")
                          ->capture_default_str()
                          ->check(in(sup::bounds::watchdog, "no watchdog")));
    auto* data_dir_opt = app.add_option("--data-dir", b.data_dir,
                                        "keep the stash on disk here (survives every crash); in memory without it");
    builtin.push_back(data_dir_opt);
    builtin.push_back(app.add_option("--fsync", b.fsync, "with --data-dir: always, everysec or no (as Redis's appendfsync)")
                          ->capture_default_str()
                          ->needs(data_dir_opt)
                          ->check(CLI::IsMember({"always", "everysec", "no"})));
    builtin.push_back(app.add_option("--reserve", b.reserve,
                                     "the worker keeps a mark N numbers ahead in the stash: NEXT never waits for "
                                     "the stash's disk, and a crash skips at most N numbers (never repeats one); 0: off")
                          ->capture_default_str()
                          ->check(in(sup::bounds::reserve, "off")));
    // Two flags, not CLI11's "--standby,!--no-standby", whose help reads
    // "--standby,--no-standby{false}" for a default that is true.
    auto* standby_opt = app.add_flag_callback("--standby", [&b] { b.standby = true; },
                                              "keep a second worker started and idle: when the worker dies it is "
                                              "activated (no fork, no exec), and a new standby is started behind it "
                                              "(the default)");
    auto* no_standby_opt = app.add_flag_callback("--no-standby", [&b] { b.standby = false; },
                                                 "no standby: every restart of the worker forks and execs");
    standby_opt->excludes(no_standby_opt);
    builtin.push_back(standby_opt);
    builtin.push_back(no_standby_opt);
    add_max_clients(app, b.max_clients, "connections the worker and the stash each serve at once (and the control socket)");
    for (auto* o : builtin) o->excludes(config_opt)->excludes(check_opt);
    config_opt->excludes(check_opt)->excludes(print_opt);
    check_opt->excludes(print_opt);
    if (auto code = seq::parse_command_line(app, argc, argv)) return *code;
    b.flags.strategy = *sup::parse_strategy(strategy);
    // The stash runs where we were started; made absolute, --print-config
    // prints a tree that means the same from the file's own folder.
    if (!b.data_dir.empty()) b.data_dir = std::filesystem::absolute(b.data_dir).lexically_normal().string();
    if (!nested.empty()) {
        std::map<std::string, bool> asked;
        for (auto& p : stopped) asked[p] = true;
        for (auto& p : started) asked[p] = false;
        return run_nested(nested, tree_fd, control_fd, notify_fd, std::move(asked));
    }
    log_init("supervisor");

    // Given at all, even as "": an empty value is a file that cannot be read,
    // never a reason to run the built-in tree instead.
    if (check_opt->count() > 0) {
        if (!load(check, run_dir)) return exit_code::usage;
        std::printf("%s: a valid tree\n", check.c_str());
        return exit_code::ok;
    }
    std::optional<std::string> http;
    if (!http_flag.empty()) {
        std::string why;
        http = sup::http_address(http_flag, why);
        if (!http) {
            std::fprintf(stderr, "seq-supervisor: --http: %s (HOST:PORT, PORT on 127.0.0.1, or a Unix socket's path)\n",
                         why.c_str());
            return exit_code::usage;
        }
    }
    if (print_config) {
        auto shown = sup::builtin_tree(b, "");
        if (http) shown.http = *http;
        auto text = sup::write_tree(shown,
                                    "# The built-in tree of seq-supervisor, as a tree file: run it with\n"
                                    "#   seq-supervisor --config FILE\n"
                                    "# Bare program names are looked up beside seq-supervisor, then on $PATH.\n"
                                    "# Each child runs in the folder of the file that holds it (its cwd unless\n"
                                    "# a cwd key says otherwise), so a relative path means: beside the file.\n");
        std::fputs(text.c_str(), stdout);
        if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return exit_code::ok;
        std::fprintf(stderr, "seq-supervisor: cannot write the tree to standard output: %s\n", std::strerror(errno));
        return exit_code::failure;
    }
    if (config_opt->count() > 0) {
        auto tree = load(config, run_dir);
        if (!tree) return exit_code::usage;
        if (http) tree->http = *http;
        return run(*tree, run_dir, "tree " + config, b.max_clients, notify_fd, !no_cgroups, config, http.has_value());
    }
    auto what = b.data_dir.empty() ? std::string("stash in memory") : "stash " + b.data_dir + ", fsync " + b.fsync;
    auto tree = sup::builtin_tree(b, program_dir());
    if (http) tree.http = *http;
    return run(tree, run_dir, what, b.max_clients, notify_fd, !no_cgroups);
}
