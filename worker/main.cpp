// seq-worker: serves the sequence (NEXT, INCREMENT, GET) and keeps the stash
// up to date before any client sees a number.
#include "cli.hpp"
#include <cstdlib>
#include <functional>
#include <map>
#include <string>

#include "daemon.hpp"
#include "watchdog.hpp"
#include "log.hpp"
#include "standby.hpp"
#include "worker.hpp"

namespace {

const char* const exit_codes_help = R"(Exit codes:
  0  stopped by SIGTERM, SIGINT or SIGHUP
  1  runtime failure (logged on stderr)
  2  bad command line
  3  the socket cannot be bound (another worker answers there, or permissions)
  4  the stash did not answer within --stash-timeout at start
  5  the stash (a Redis) refused the password, or wants one
  6  the key is not ours: it holds something other than an integer, or another
     writer changed it (workers that share a key need --reserve))";

}  // namespace

int main(int argc, char** argv) {
    using namespace seq;
    CLI::App app{"seq-worker: serves a sequence of numbers over RESP (NEXT, INCREMENT n, GET), kept in a seq-stash."};
    app.footer(exit_codes_help);
    std::string socket_path;
    int notify_fd = -1;
    worker::Options opts;
    app.add_option("--socket", socket_path, "Unix socket to listen on (unless one is inherited as 'worker')");
    app.add_option("--stash", opts.stash_path,
                   "the stash: our seq-stash's Unix socket, or a Redis as redis://[[user]:password@]host[:port] or "
                   "unix:///path (default: $SEQ_STASH, as a tree gives it)")
        ->envname("SEQ_STASH")
        ->required();
    app.add_option("--initial", opts.initial, "the first number, when the stash holds none")->capture_default_str();
    app.add_option("--key", opts.key, "the stash key that holds the number")->capture_default_str();
    add_notify_fd(app, notify_fd, "once serving");
    app.add_option("--stash-timeout", opts.stash_timeout_ms,
                   "milliseconds to wait for the stash at start, and for a request to wait for a lost stash")
        ->capture_default_str()
        ->check(integer_in(1, 86'400'000));
    app.add_flag("--wait-for-ack", opts.wait_for_ack,
                 "release a reply only once the stash acknowledged the new number (not merely received it)");
    app.add_option("--reserve", opts.reserve,
                   "keep a mark N numbers ahead in the stash instead of each number: NEXT never waits for the "
                   "stash in steady state, and a crash skips at most N numbers, never repeats one (default: "
                   "$SEQ_RESERVE; 0: off)")
        ->envname("SEQ_RESERVE")
        ->check(integer_in(1, max_reserve, "off"));
    app.add_option("--replicas", opts.replicas,
                   "with a Redis and --reserve: use a block only once WAIT says this many replicas have it")
        ->check(CLI::Range(0, 100));
    add_max_clients(app, opts.server.max_clients, "connections served at once");
    if (auto code = seq::parse_command_line(app, argc, argv)) return *code;
    log_init("worker");
    {
        std::string why;
        auto address = worker::parse_stash_address(opts.stash_path, why);
        if (!address) {
            log("--stash: %s", why.c_str());
            return exit_code::usage;
        }
        opts.address = *address;
        // The tree's stash, under its stash_acl: the user it gave us (and
        // to no other stash: the password is that one's).
        const char* tree_stash = std::getenv("SEQ_STASH");
        const char* user = std::getenv("SEQ_STASH_USER");
        const char* password = std::getenv("SEQ_STASH_PASSWORD");
        if (opts.address.kind == worker::StashAddress::Kind::stash && tree_stash && opts.address.path == tree_stash &&
            password && *password) {
            opts.address.user = user ? user : "";
            opts.address.password = password;
        }
        if (opts.replicas > 0 && !(opts.address.redis() && opts.reserve > 0)) {
            log("--replicas needs a Redis (--stash redis://... or unix://...) and --reserve");
            return exit_code::usage;
        }
    }

    uv::Loop loop;
    std::optional<WatchdogPing> watchdog;  // WATCHDOG=1 from the loop, when the supervisor asks for it
    std::optional<Listener> listener;
    std::optional<worker::Worker> worker;
    std::string serving_on;
    auto ready = [&] {
        log("serving on %s", serving_on.c_str());
        notify_ready(notify_fd);
    };
    // Started as a standby: idle, with no socket and no stash link, until
    // the supervisor hands over the socket (sequence-protocol(7): STANDBY PROTOCOL).
    // The worker is made now, so that activation costs only what it must.
    struct Standby {
        int fd;
        std::function<void(std::optional<std::map<std::string, Fd>>)> activated;
    } standby{-1, [&](std::optional<std::map<std::string, Fd>> sockets) {
                  if (sockets && !sockets->count("worker") && sockets->size() == 1)  // named otherwise by its tree
                      sockets->emplace("worker", std::move(sockets->begin()->second));
                  if (!sockets || !sockets->count("worker")) {
                      log("standby: stopped before it was activated");
                      loop.stop();
                      return;
                  }
                  watchdog.emplace(loop.get());
                  worker->activate(std::move(sockets->at("worker")));
              }};
    Fd active;  // a pidfd of the instance a standby stands for
    uv::Poll standby_poll, active_poll;
    if (auto fd = standby::inherited_fd()) {
        opts.accept_early = true;  // what waited in the socket's backlog meanwhile goes first
        serving_on = "socket 'worker', handed over at activation";
        worker.emplace(loop, Fd{}, opts, ready);
        standby.fd = *fd;
        standby_poll = uv::make_poll(loop.get(), standby.fd);
        standby_poll->data = &standby;
        uv_poll_start(standby_poll.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
            auto* s = static_cast<Standby*>(h->data);
            uv_poll_stop(h);
            s->activated(standby::receive(s->fd));
        });
        // The instance we stand for has ended: read the number while the
        // supervisor decides, so that activation need not wait for it.
        if (auto fd = standby::watch_active()) {
            active = std::move(*fd);
            active_poll = uv::make_poll(loop.get(), active.get());
            active_poll->data = &*worker;
            uv_poll_start(active_poll.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
                uv_poll_stop(h);
                static_cast<worker::Worker*>(h->data)->prepare();
            });
        }
        standby::say_idle(notify_fd);
    } else {
        if (auto code = open_listener(listener, "worker", socket_path)) return *code;
        serving_on = listener->describe();
        watchdog.emplace(loop.get());
        worker.emplace(loop, listener->take(), opts, ready);
    }
    int code = exit_code::ok;
    StopSignals signals(loop.get(), [&](int sig) {
        log("%s received; stopping", seq::signal_name(sig).c_str());
        if (worker) worker->stop();
        else loop.stop();
    });
    loop.run();
    if (worker && !worker->fatal_error().empty()) {
        log("%s", worker->fatal_error().c_str());
        code = worker->start_timed_out() ? exit_code::stash
               : worker->failure() == worker::StashLink::Failure::refused ? exit_code::refused
               : worker->failure() == worker::StashLink::Failure::not_ours ? exit_code::not_ours
                                                                           : exit_code::failure;
    }
    return code;
}
