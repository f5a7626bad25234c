// The supervisor's control socket, served only to peers of the same user (or
// root), over RESP: one table of commands (control.cpp), each with its
// arity, looked up once per request.
//
//   STATUS               the tree as a value (sequence-protocol(7): STATUS JSON)
//   RESTART path         stop a child and start it again
//   STOP [path]          a child: stop it and keep it down; none: the whole tree
//   START path           start a child stopped by STOP (or autostart = false)
//   SIGNAL path signal   send HUP, INT, QUIT, KILL, USR1, USR2 or TERM to its process group
//   SCALE path n         a pool's number of instances (1 to 10000)
//   ADD path name [ENV NAME=VALUE]... [ARGS arg...]
//                        a child of the dynamic supervisor at path, from its template
//   REMOVE path/name     stop a dynamic supervisor's child and forget it
//   RELOAD               read the tree file again; changes are applied by each child's
//                        `update` (a rolling one goes on after the answer)
//   UPGRADE [path]       the same, for the children below path (or all), answered once
//                        every rollout is over: each step first, as a push
//                        [upgrade, line]; then OK, or why a rollout was rolled back
//   LOGS path [n [FOLLOW]]  the last n lines of the children at path ("/": all);
//                        with FOLLOW, then each new one as a push [log, line]
//   WHY path             the last deaths of the children at path, newest first
//   EVENTS path [n [FOLLOW]]  the last n events of the tree at path ("/": all), each
//                        [line, [key, value...]]; with FOLLOW, then each new one as a
//                        push [event, [line, [key, value...]]]
//   REOPEN               reopen every log file (and nested supervisors' too)
//   PING
//
// A path names a child ("web", "jobs/mailer"), a pool (all its instances)
// or one instance of a pool ("web#3").
// RESTART, STOP path, START path and SCALE answer once it is done (running
// again, stopped, running; every instance running and none on its way out),
// as systemctl does; ADD once the child runs (or with why it did not start,
// and then it is not kept), REMOVE once it is gone. RESTART waits first for the tree to
// settle if a start or stop is under way: restarts from a script (or from
// two shells) happen one after the other, so no restart of the stash can
// catch the worker between its old life and its new one, when no process
// holds the number.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
    // RELOAD and UPGRADE: whether it took, and what to answer (a summary,
    // or the error). `path`: only the changes below it (empty: all).
    struct Outcome {
        bool ok;
        std::string text;
    };
    void on_reload(std::function<Outcome(std::string_view path)> f) { reload_ = std::move(f); }
    // Users in this group may connect too (the tree's control_group).
    void allow_group(std::optional<std::uint32_t> gid) { operators_ = gid; }

    using Args = std::span<const std::string_view>;

private:
    Server::Verdict handle(Connection& c, Args args);
    Server::Verdict status(Connection& c, Args args);
    Server::Verdict restart(Connection& c, Args args);
    Server::Verdict stop(Connection& c, Args args);
    Server::Verdict start_child(Connection& c, Args args);
    Server::Verdict signal(Connection& c, Args args);
    Server::Verdict scale(Connection& c, Args args);
    Server::Verdict add(Connection& c, Args args);
    Server::Verdict remove(Connection& c, Args args);
    Server::Verdict reload(Connection& c, Args args);
    Server::Verdict upgrade(Connection& c, Args args);
    Server::Verdict ping(Connection& c, Args args);
    Server::Verdict logs(Connection& c, Args args);
    Server::Verdict follow(Connection& c);
    Server::Verdict events(Connection& c, Args args);
    Server::Verdict why(Connection& c, Args args);
    Server::Verdict reopen(Connection& c, Args args);
    // What a deferred request waits for, checked on every loop iteration.
    enum class Until { restarted, stopped, running };
    Server::Verdict wait(Connection& c, std::string_view path, Until until, std::vector<std::uint64_t> since = {});
    Server::Verdict defer(Connection& c);
    bool known_to_depth(std::string_view path) const;
    void resume_waiting();
    // Requests whose outcome the supervisor tells (ADD, REMOVE): `expect`
    // makes the Reply that records it; `answer` gives it once it has come.
    struct Answer {
        bool done = false;
        std::optional<std::string> why;
        std::vector<std::string> progress;  // lines to send before the answer
    };
    Reply expect(Connection& c);
    Server::Verdict answer(Connection& c);
    // After the request was handed to the supervisor with expect(): its
    // answer, once it comes; or, if it was refused at once, why.
    Server::Verdict answer_or_refuse(Connection& c, std::optional<std::string> refused);

    Supervisor& sup_;
    std::function<Outcome(std::string_view)> reload_;
    Server server_;
    // Loop iterations are when the tree changes; each ends by looking again
    // at the requests that wait. No wakeup of its own: idle costs nothing.
    uv::Check check_;
    uv::Timer followers_gone_;  // a look, each second while some follow, for those that went away
    void let_go_of_gone_followers();
    std::unordered_set<std::uint64_t> waiting_;  // connections whose request is deferred
    struct Awaited {
        Until until;
        std::string path;
        std::vector<std::uint64_t> since;  // starts along its path that mean "restarted"
    };
    std::unordered_map<std::uint64_t, Awaited> awaited_;  // requests carried out, by connection
    std::unordered_map<std::uint64_t, std::shared_ptr<Answer>> answers_;  // told by a Reply, by connection
    // LOGS ... FOLLOW: each line heard goes out to these at once, as a push.
    // One that does not read is cut off once `follow_limit` bytes wait for
    // it, so that it holds up nothing else.
    struct Follower {
        std::string path;
        std::uint64_t dropped = 0;  // lines not sent once it was cut off
        bool cut = false;
        bool events = false;  // EVENTS FOLLOW, not LOGS
    };
    static constexpr std::size_t follow_limit = 1 << 20;
    std::unordered_map<std::uint64_t, Follower> followers_;
    std::optional<std::uint32_t> operators_;
    void tell_followers(std::string_view path, const LogLine& line);
    void tell_event_followers(const TreeEvent& e);
    // Starts following on `c`; then a push to it, or its cut-off.
    Server::Verdict followed(Connection& c, Follower f);
    void tell(Connection& c, Follower& f, const std::string& push);
};

// SO_PEERCRED: nullopt if the peer on `fd` runs as our user or as root, or
// has the group `operators` (the tree's control_group), else why it is refused.
std::optional<std::string> peer_refusal(int fd, std::optional<std::uint32_t> operators);

}  // namespace seq::sup
