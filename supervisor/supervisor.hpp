// The generic supervisor: it knows its children only as child specs, starts
// them in order (each only once the one before is ready), learns of every
// death through SIGCHLD, and restarts by strategy within the restart
// intensity. Decisions come from strategy.hpp and intensity.hpp; this file is
// the process plumbing around them, and never blocks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fd.hpp"
#include "intensity.hpp"
#include "strategy.hpp"
#include "uv.hpp"

namespace seq::sup {

struct ChildSpec {
    std::string name;
    std::vector<std::string> argv;  // argv[0]: the program's path
    RestartType restart = RestartType::permanent;
    std::uint64_t shutdown_ms = 5000;  // SIGTERM, then SIGKILL after this
    std::vector<std::pair<std::string, int>> listen_fds;  // handed over as LISTEN_FDS
    bool notify = false;            // reports readiness on --notify-fd N
    std::uint64_t start_timeout_ms = 5000;
};

struct Options {
    Strategy strategy = Strategy::rest_for_one;
    unsigned max_restarts = 3;
    std::uint64_t max_seconds = 5;
};

class Supervisor {
public:
    Supervisor(uv::Loop& loop, std::vector<ChildSpec> specs, Options options);
    ~Supervisor();

    void start();
    // Stops every child in reverse start order, then stops the loop.
    void shutdown(const std::string& why);
    // A manual restart of one child; nullopt if it is under way, else why not
    // (no child of that name, or the tree is stopping), as an error reply.
    std::optional<std::string> restart(std::string_view name);
    // Whether it gave up because the restart intensity was exceeded.
    bool gave_up() const { return gave_up_; }
    // The state of the tree as a RESP reply (see README: seqctl status).
    void status(std::string& out);
    std::string child_names() const;

    bool has_child(std::string_view name) const { return find(name) != nullptr; }
    bool stopping() const { return shutting_down_; }
    // No start or stop under way: every child that should run is running.
    bool settled() const;
    // How many times the child has been started (0 for no such child).
    std::uint64_t spawns(std::string_view name) const;
    // Whether the child runs, started for the `spawn`th time or later.
    bool running_since(std::string_view name, std::uint64_t spawn) const;

private:
    enum class State { down, starting, running, stopping };
    struct Child {
        ChildSpec spec;
        Supervisor* owner = nullptr;
        std::size_t index = 0;
        State state = State::down;
        pid_t pid = 0;
        bool want = true;        // should be running
        bool must_stop = false;  // part of a restart plan: stop before anything starts
        bool start_failed = false;
        std::uint64_t started_ms = 0;
        unsigned restarts = 0;
        std::uint64_t spawns = 0;
        std::string last_exit;
        Fd notify;
        uv::Poll notify_poll;
        uv::Timer timer;  // start timeout, or SIGKILL after shutdown timeout
    };
    static const char* state_name(State s);
    Child* find(std::string_view name) const;

    void step();
    void spawn(Child& c);
    void spawn_failed(Child& c, const std::string& why);
    void begin_stop(Child& c);
    void reap();
    void on_death(Child& c, int status);
    void on_notify(Child& c);
    void end_notify(Child& c);
    std::string seconds(std::uint64_t ms) const;

    uv::Loop& loop_;
    Options options_;
    std::vector<std::unique_ptr<Child>> children_;
    Intensity intensity_;
    uv::Signal sigchld_;
    bool shutting_down_ = false;
    bool gave_up_ = false;
    bool finished_ = false;
};

}  // namespace seq::sup
