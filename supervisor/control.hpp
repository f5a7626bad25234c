// The supervisor's control socket: STATUS, RESTART path, RELOAD, STOP, PING over RESP,
// served only to peers of the same user (or root).
//
// RESTART answers once the child is running again, as systemctl restart
// does, and waits first for the tree to settle if a start or stop is under
// way: restarts from a script (or from two shells) happen one after the
// other, so no restart of the stash can catch the worker between its old
// life and its new one, when no process holds the number.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server.hpp"
#include "supervisor.hpp"
#include "uv.hpp"

namespace seq::sup {

class Control {
public:
    Control(uv::Loop& loop, Supervisor& sup, Fd listener, ServerOptions options);
    void start() { server_.start(); }
    // RELOAD: whether it took, and what to answer (a summary, or the error).
    struct Outcome {
        bool ok;
        std::string text;
    };
    void on_reload(std::function<Outcome()> f) { reload_ = std::move(f); }

private:
    Server::Verdict handle(Connection& c, std::span<const std::string_view> args);
    Server::Verdict restart(Connection& c, std::string_view name);
    void resume_waiting();

    Supervisor& sup_;
    std::function<Outcome()> reload_;
    Server server_;
    // Loop iterations are when the tree changes; each ends by looking again
    // at the RESTARTs that wait. No wakeup of its own: idle costs nothing.
    uv::Check check_;
    std::unordered_set<std::uint64_t> waiting_;  // connections whose RESTART is deferred
    struct Awaited {
        std::string name;
        std::vector<std::uint64_t> since;  // starts along its path that mean "restarted"
    };
    std::unordered_map<std::uint64_t, Awaited> awaited_;  // restarts issued, by connection
};

// SO_PEERCRED: nullopt if the peer on `fd` runs as our user or as root, else
// why it is refused.
std::optional<std::string> peer_refusal(int fd);

}  // namespace seq::sup
