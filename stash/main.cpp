// seq-stash: holds the tree's state, key by key, so that it outlives the worker.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "daemon.hpp"
#include "log.hpp"
#include "server.hpp"
#include "stash.hpp"
#include "store.hpp"

namespace {

const char* const exit_codes_help = R"(Exit codes:
  0  stopped by SIGTERM or SIGINT
  1  runtime failure (logged on stderr)
  2  bad command line
  3  the socket cannot be bound (another stash answers there, or permissions))";

}  // namespace

int main(int argc, char** argv) {
    using namespace seq;
    CLI::App app{"seq-stash: keeps the sequence's state, key by key, for the worker (RESP on a Unix socket)."};
    app.footer(exit_codes_help);
    std::string socket_path;
    int notify_fd = -1;
    ServerOptions opts;
    app.add_option("--socket", socket_path, "Unix socket to listen on (unless one is inherited as 'stash')");
    app.add_option("--notify-fd", notify_fd, "write a newline to this fd once serving, then close it")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--max-clients", opts.max_clients, "connections served at once")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_code::ok : exit_code::usage;
    }
    log_init("stash");

    try {
        uv::Loop loop;
        Listener listener("stash", socket_path);
        stash::MemoryStore store;
        Server server(
            loop.get(), listener.take(), opts,
            [&store](Connection& c, std::span<const std::string_view> args) {
                if (!stash::execute(store, args, c.out())) c.close_after_reply();
                return Server::Verdict::done;
            },
            "stash");
        StopSignals signals(loop.get(), [&](int sig) {
            log("%s received; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            loop.stop();
        });
        server.start();
        log("serving on %s (in memory)", listener.describe().c_str());
        notify_ready(notify_fd);
        loop.run();
        return exit_code::ok;
    } catch (const std::invalid_argument& e) {
        log("%s", e.what());
        return exit_code::usage;
    } catch (const std::exception& e) {
        log("cannot start: %s", e.what());
        return exit_code::socket;
    }
}
