// A single-threaded RESP server on a listening Unix socket, in the manner of
// Redis's networking.c: each wakeup reads what is there, parses every whole
// request, and answers them all with one write. Input and output are bounded.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fd.hpp"
#include "resp.hpp"
#include "uv.hpp"

namespace seq {

struct KeyGrants;  // the stash's access control (stash/acl.hpp)

struct ServerOptions {
    std::size_t max_clients = 10000;
    std::size_t max_output = 4 << 20;  // bytes queued for one client before it is dropped
    resp::Limits limits;
};

class Server;

// One client. Replies are appended to out(); bytes up to the release mark
// are written as soon as the socket takes them. A handler that must hold a
// reply back (the worker, until the stash has the new number) moves the mark
// itself; otherwise every reply is released as soon as it is made.
class Connection {
public:
    Connection(Server& server, std::uint64_t id, Fd fd);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    std::uint64_t id() const { return id_; }
    // Where a handler appends its reply: the output, or, while CLIENT REPLY
    // says no reply, a sink emptied after each request.
    std::string& out() { return quiet_ ? sink_ : out_; }
    // Absolute stream offset just past the last byte appended to out().
    std::uint64_t out_end() const { return out_base_ + out_.size(); }
    bool holds_output() const { return released_ < out_end(); }
    std::size_t unsent() const { return out_.size() - out_sent_; }  // bytes queued, not yet taken by the socket
    // Whether the client has closed its end: a paused connection is not
    // polled, so one that waits on us (a follower) asks.
    bool peer_gone() const;
    void release_to(std::uint64_t end);
    // Answer what is pending, then close (QUIT).
    void close_after_reply() { closing_ = true; }
    bool monitoring() const { return monitoring_; }

    // When the handler first deferred the request now waiting (loop ms).
    std::optional<std::uint64_t> deferred_since;

    // What the client said of itself: its protocol (HELLO), name and library
    // (CLIENT SETNAME, SETINFO), and when it connected (loop ms).
    struct Session {
        int proto = 2;
        std::string name, lib_name, lib_ver;
        std::uint64_t since_ms = 0;
        // Who it authenticated as (AUTH, HELLO AUTH), and, on a stash with
        // access control, what that user may touch: null there until it
        // authenticates. Elsewhere null throughout, and all is allowed.
        std::string user = "default";
        std::shared_ptr<const KeyGrants> grants;
        // CLIENT REPLY: every reply, none, or none for the next command.
        enum class Replies { on, off, skip } replies = Replies::on;
        // MULTI: the commands queued for EXEC, and whether one was refused
        // (then EXEC runs none of them).
        struct Transaction {
            bool open = false;
            bool refused = false;
            std::vector<std::vector<std::string>> queued;
            std::size_t queued_bytes = 0;  // what `queued` holds, counted as in queued_size()
        } tx;
    } session;

private:
    friend class Server;
    void on_poll(int status, int events);
    void read_input();
    // Runs every whole request in `input`; returns the bytes consumed.
    std::size_t process(std::string_view input);
    void process_pending();
    void flush();
    void update_poll();

    Server& server_;
    std::uint64_t id_;
    Fd fd_;
    uv::Poll poll_;
    int events_ = 0;
    std::string in_;
    std::size_t in_off_ = 0;  // bytes of in_ already consumed
    resp::RequestParser parser_;
    std::vector<std::string_view> args_;
    std::string out_;
    std::size_t out_sent_ = 0;     // bytes of out_ already written
    std::uint64_t out_base_ = 0;   // stream offset of out_[0]
    std::uint64_t released_ = 0;   // stream offset up to which bytes may go
    bool paused_ = false;          // a request is deferred: neither read nor parse
    bool closing_ = false;
    bool input_ended_ = false;     // read end of file: answer what was asked, then go
    // What the server wrote on its own, not the handler (a protocol error,
    // a monitor's lines and its refusals), from `before` to out_end(): out at
    // once, or, behind a reply still held, as soon as that one goes.
    void release_own(std::uint64_t before);
    // Those stretches [first, second) that wait behind a held reply, in order.
    std::deque<std::pair<std::uint64_t, std::uint64_t>> own_;
    bool write_failed_ = false;    // the client is gone; drain its input, answer nothing
    bool dead_ = false;
    bool busy_ = false;            // on the stack: destroy after the callback
    bool monitoring_ = false;      // MONITOR: sees every other client's commands
    bool quiet_ = false;           // this request's reply goes to sink_ (CLIENT REPLY OFF or SKIP)
    std::string sink_;
};

class Server {
public:
    enum class Verdict { done, defer };
    // Called once per request. `defer` leaves the request unconsumed and the
    // connection paused until resume(); the handler sees it again then.
    using Handler = std::function<Verdict(Connection&, std::span<const std::string_view>)>;

    Server(uv_loop_t* loop, Fd listener, ServerOptions options, Handler handler, std::string name);
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void start();  // begin accepting
    // For good: the listening socket is closed here (whoever else holds it,
    // a supervisor, keeps what waits in its backlog for the next server).
    void stop_accepting();
    // No connection has a request unread or a reply not yet sent: what a
    // graceful stop waits for (an idle client keeps nothing waiting).
    bool quiet() const;
    // Takes the listening socket later (a standby's comes at activation).
    void listen_on(Fd listener);
    bool listening() const { return static_cast<bool>(listener_); }
    // Where it listens: a Unix socket's path or HOST:PORT; "" before it does.
    std::string address() const;
    std::size_t clients() const { return conns_.size(); }
    std::uint64_t accepted() const { return next_id_ - 1; }  // connections since the start
    // Each connection, in no particular order (CLIENT LIST).
    template <class F>
    void each(F&& f) {
        for (auto& [id, c] : conns_) f(*c);
    }
    Connection* find(std::uint64_t id);
    void resume(Connection& c);
    // Closes a connection without a reply (now, or once off the stack).
    void close(Connection& c);
    // Whether replies are released as soon as they are made (the default).
    void set_auto_release(bool on) { auto_release_ = on; }
    // Called when a connection goes, before its memory does.
    void on_close(std::function<void(Connection&)> hook) { close_hook_ = std::move(hook); }
    // SO_PEERCRED checks: a peer for which this returns a message is sent it
    // as an error reply and closed; the others are served.
    void set_peer_filter(std::function<std::optional<std::string>(int fd)> f) { peer_filter_ = std::move(f); }
    uv_loop_t* loop() const { return loop_; }
    const std::string& name() const { return name_; }
    // MONITOR, as Redis: from now on `c` is sent every command the others
    // send, and takes only RESET and QUIT. RESET ends it.
    void monitor(Connection& c, bool on);

private:
    friend class Connection;
    void on_accept();
    // Out of fds or memory: accepting pauses, and a timer tries again
    // (100 ms, doubling to 1 s), as does a client leaving, so a shortage that
    // ends with no client of ours to leave (a limit raised again) never
    // leaves the server deaf. At each retry the clients still waiting (no
    // other server on a shared listener took them) are refused with why:
    // the reserve fd is given up for a moment to accept each and close it
    // with an error, as nginx and libuv do (refuse_one: true while one was).
    bool refuse_one();
    void pause_accepting();
    void end_shortage();  // there is room: logged, and the reserve taken again
    void destroy(Connection& c);
    // Sends a command `from` made to every other monitor.
    void feed_monitors(const Connection& from, std::span<const std::string_view> args);

    uv_loop_t* loop_;
    Fd listener_;
    uv::Poll accept_poll_;
    uv::Timer accept_retry_;
    Fd reserve_;  // /dev/null, kept to be closed when fds run out (refuse_one)
    unsigned retry_ms_ = 0;  // the next retry's delay; 0: no shortage now (logged once each)
    std::uint64_t refused_ = 0;  // clients refused in this shortage
    bool retry_turn_ = false;    // on_accept called by the retry timer
    ServerOptions options_;
    Handler handler_;
    std::string name_;
    bool auto_release_ = true;
    bool accept_paused_ = false;
    bool accepting_over_ = false;  // stop_accepting()
    bool tcp_ = false;  // the listener is TCP: each client gets TCP_NODELAY
    std::function<void(Connection&)> close_hook_;
    std::function<std::optional<std::string>(int)> peer_filter_;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> conns_;
    std::vector<std::uint64_t> monitors_;
    std::string where_;  // "unix:PATH", as MONITOR lines name the socket
    std::vector<char> scratch_;  // every read lands here first
};

}  // namespace seq
