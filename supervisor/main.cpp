// seq-supervisor: runs seq-stash and seq-worker as an OTP supervisor would,
// so that kill -9 of either is a non-event for clients.
#include <unistd.h>

#include "cli.hpp"
#include <climits>
#include <string>

#include "control.hpp"
#include "daemon.hpp"
#include "log.hpp"
#include "run_dir.hpp"
#include "server.hpp"
#include "socket.hpp"
#include "supervisor.hpp"

namespace {

const char* const exit_codes_help = R"(Exit codes:
  0  stopped in order (SIGTERM, SIGINT, SIGHUP, or seqctl stop): children stopped, sockets removed
  1  gave up: more than --max-restarts restarts within --max-seconds
  2  bad command line
  3  the run dir or a socket is unusable (held by another supervisor, wrong owner or mode))";

// A socket the supervisor binds and owns across its children's lives.
struct OwnedSocket {
    seq::Fd fd;
    std::string path;
    explicit OwnedSocket(std::string p) : fd(seq::listen_unix(p)), path(std::move(p)) {}
    OwnedSocket(const OwnedSocket&) = delete;
    OwnedSocket& operator=(const OwnedSocket&) = delete;
    ~OwnedSocket() { unlink(path.c_str()); }
};

// The children's programs live beside the supervisor's own.
std::string program_dir() {
    char buf[PATH_MAX];
    auto n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string self(buf, static_cast<std::size_t>(n));
    return self.substr(0, self.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
    using namespace seq;
    CLI::App app{"seq-supervisor: starts seq-stash then seq-worker, and restarts them by an OTP strategy "
                 "when they die. Runs in the foreground and logs to stderr."};
    app.footer(exit_codes_help);
    std::string run_dir = default_run_dir();
    std::string strategy = "rest_for_one";
    sup::Options opts;
    std::int64_t initial = 0;
    std::uint64_t shutdown_ms = 5000;
    std::uint64_t start_ms = 5000;
    std::string data_dir;
    std::string fsync = "everysec";
    std::size_t max_clients = 10000;
    app.add_option("--run-dir", run_dir, "where the sockets and the lock live (created 0700)")->capture_default_str();
    app.add_option("--strategy", strategy, "which children a death restarts")
        ->capture_default_str()
        ->check(CLI::IsMember({"one_for_one", "one_for_all", "rest_for_one"}));
    app.add_option("--max-restarts", opts.max_restarts, "restart intensity: at most this many restarts...")
        ->capture_default_str();
    app.add_option("--max-seconds", opts.max_seconds, "...within this many seconds, else give up")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--initial", initial, "the worker's first number, when the stash holds none")
        ->capture_default_str();
    app.add_option("--shutdown-timeout", shutdown_ms, "milliseconds between SIGTERM and SIGKILL when stopping a child")
        ->capture_default_str();
    app.add_option("--start-timeout", start_ms, "milliseconds a child has to become ready")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    auto* data_dir_opt = app.add_option("--data-dir", data_dir,
                                        "keep the stash on disk here (survives every crash); in memory without it");
    app.add_option("--fsync", fsync, "with --data-dir: always, everysec or no (as Redis's appendfsync)")
        ->capture_default_str()
        ->needs(data_dir_opt)
        ->check(CLI::IsMember({"always", "everysec", "no"}));
    add_max_clients(app, max_clients, "connections the worker and the stash each serve at once");
    if (auto code = seq::parse_command_line(app, argc, argv)) return *code;
    opts.strategy = *sup::parse_strategy(strategy);
    log_init("supervisor");

    uv::Loop loop;
    std::optional<sup::RunDir> dir;
    std::optional<OwnedSocket> stash_sock, worker_sock, control_sock;
    try {
        dir.emplace(run_dir);
        stash_sock.emplace(dir->file("stash.sock"));
        worker_sock.emplace(dir->file("sequence.sock"));
        control_sock.emplace(dir->file("control.sock"));
    } catch (const std::exception& e) {
        log("cannot start: %s", e.what());
        return exit_code::socket;
    }

    auto bin = program_dir();
    std::vector<std::string> stash_argv{bin + "/seq-stash", "--max-clients", std::to_string(max_clients)};
    std::vector<std::string> worker_argv{bin + "/seq-worker", "--stash",       stash_sock->path,
                                         "--initial",         std::to_string(initial), "--max-clients",
                                         std::to_string(max_clients)};
    if (!data_dir.empty()) {
        stash_argv.insert(stash_argv.end(), {"--data-dir", data_dir, "--fsync", fsync});
        // On disk, "handed to the stash's socket" is not enough: a kill of the
        // whole tree would drop what the stash had not yet read.
        worker_argv.push_back("--wait-for-ack");
    }
    std::vector<sup::ChildSpec> specs;
    specs.push_back({.name = "stash",
                     .argv = stash_argv,
                     .restart = sup::RestartType::permanent,
                     .shutdown_ms = shutdown_ms,
                     .listen_fds = {{"stash", stash_sock->fd.get()}},
                     .notify = true,
                     .start_timeout_ms = start_ms});
    specs.push_back({.name = "worker",
                     .argv = worker_argv,
                     .restart = sup::RestartType::permanent,
                     .shutdown_ms = shutdown_ms,
                     .listen_fds = {{"worker", worker_sock->fd.get()}},
                     .notify = true,
                     .start_timeout_ms = start_ms});

    sup::Supervisor supervisor(loop, std::move(specs), opts);
    ServerOptions control_opts;
    control_opts.max_clients = max_clients;
    sup::Control control(loop, supervisor, std::move(control_sock->fd), control_opts);
    StopSignals signals(loop.get(), [&](int sig) {
        supervisor.shutdown(seq::signal_name(sig) + " received");
    });
    log("run dir %s; stash %s", dir->path().c_str(),
        data_dir.empty() ? "in memory" : (data_dir + ", fsync " + fsync).c_str());
    control.start();
    supervisor.start();
    loop.run();
    return supervisor.gave_up() ? exit_code::failure : exit_code::ok;
}
