// What every daemon of the tree does the same way: exit codes, getting its
// listening socket (inherited from the supervisor, or bound by itself),
// readiness notification, and stopping on SIGTERM/SIGINT.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fd.hpp"
#include "uv.hpp"

namespace seq {

// Exit codes shared by the daemons (documented in each man page and --help).
namespace exit_code {
constexpr int ok = 0;            // stopped by SIGTERM/SIGINT or STOP
constexpr int failure = 1;       // a runtime failure, logged
constexpr int usage = 2;         // bad command line
constexpr int socket = 3;        // cannot bind or reach a socket (in use, permissions)
constexpr int stash = 4;         // worker: the stash could not be reached at start
constexpr int refused = 5;       // worker: the stash (a Redis) refused the password
constexpr int not_ours = 6;      // worker: the key holds a non-integer, or another writer changed it
}  // namespace exit_code

// The listening socket a daemon serves on: the one named `name` in
// LISTEN_FDS if its supervisor handed it over (or the only one handed over,
// whatever its name), else `path` bound here (and removed again on exit).
// Throws with a message naming what is wrong.
class Listener {
public:
    Listener(const std::string& name, const std::string& path);
    // One handed over later (a standby's activation).
    Listener(Fd fd, std::string describe) : fd_(std::move(fd)), describe_(std::move(describe)) {}
    Listener(Listener&&) = default;
    ~Listener();
    Fd take() { return std::move(fd_); }
    const std::string& describe() const { return describe_; }

private:
    Fd fd_;
    std::string unlink_;
    std::string describe_;
};

// Makes `out` the daemon's listener (as Listener does); on failure logs why
// and returns the exit code: usage for no socket at all, else socket.
std::optional<int> open_listener(std::optional<Listener>& out, const std::string& name, const std::string& path);

// s6-style readiness: one newline on fd `fd`, which is then closed. No-op for -1.
void notify_ready(int fd);

// "SIGTERM", "SIGKILL"; "signal N" for one without a name.
std::string signal_name(int sig);

// Calls `stop(signum)` on SIGTERM, SIGINT or SIGHUP, and ignores SIGPIPE.
class StopSignals {
public:
    StopSignals(uv_loop_t* loop, std::function<void(int)> stop);

private:
    static void on_signal(uv_signal_t* h, int signum);
    std::function<void(int)> stop_;
    std::vector<uv::Signal> handles_;
};

}  // namespace seq
