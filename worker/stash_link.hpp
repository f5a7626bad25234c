// The worker's connection to the stash: connects (and reconnects with a short
// backoff), reconciles the number on every new connection, and carries the
// worker's commits, pipelined, in order.
//
// Commits are numbered. A commit is done when the stash has it: when its
// acknowledgement arrives, or (without --wait-for-ack) as soon as its bytes
// are all written into the connection; from then on the kernel delivers them
// to the stash's socket queue even if the worker dies the next instant. In
// that mode the link asks the stash for no replies (CLIENT REPLY OFF, as in
// Redis) once the reconciling GET is sent.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "fd.hpp"
#include "resp.hpp"
#include "stash_address.hpp"
#include "uv.hpp"

namespace seq::worker {

class StashLink {
public:
    // Why the link cannot go on at all: the worker exits with a code for each.
    enum class Failure {
        runtime,   // anything else
        refused,   // the store refused our password (AUTH)
        not_ours,  // the key holds a non-integer, or another writer changed it
    };
    struct Hooks {
        // Given what the stash holds at the key (nullopt: nothing), returns the
        // number to write there, or nullopt if the stash is already right.
        // Throws std::runtime_error if the stash's content is unusable.
        std::function<std::optional<std::int64_t>(const std::optional<std::string>&)> reconcile;
        std::function<void()> up;        // reconciled: commits may flow
        std::function<void()> progress;  // done() advanced
        std::function<void(const std::string&, Failure)> fatal;
        // reserve_block(): the block up to `high` (exclusive) is ours, and as
        // durable as the store (and --replicas) make it; or it is not to be
        // used, and why.
        std::function<void(std::int64_t high)> block;
        std::function<void(const std::string&)> block_refused;
    };

    // `replicas`: with a Redis, a block is ours only once WAIT says that many
    // replicas have it.
    StashLink(uv_loop_t* loop, StashAddress address, std::string key, bool wait_for_ack, Hooks hooks,
              int replicas = 0, std::uint64_t replica_wait_ms = 1000);
    // `held`: connect and ask for the number, but read no answer until
    // release(), so that nothing is decided on it before then.
    void start(bool held = false);
    void release();

    bool up() const { return state_ == State::up; }
    const char* state_name() const;
    // Whether an update is ours only once the stash acknowledged it: asked
    // for, or always with a Redis (INFO's commit_mode).
    bool waits_for_ack() const { return wait_for_ack_; }
    // Queues "SET key value" and returns its commit number. With a Redis,
    // "SET key value GET": a reply shows whether another writer got there
    // first, and such a commit is never done (Failure::not_ours).
    std::uint64_t commit(std::int64_t value);
    // Queues "INCRBY key n" (then "WAIT replicas ms"); the answer comes
    // through the block hooks. False while the link is down.
    bool reserve_block(std::int64_t n);
    const StashAddress& address() const { return address_; }
    std::uint64_t issued() const { return issued_; }
    // Connections made to the stash, the first one included.
    std::uint64_t connects() const { return connects_; }
    std::uint64_t done() const { return done_; }
    // Milliseconds (loop clock) since the link went down; nullopt while up.
    std::optional<std::uint64_t> down_since() const { return down_since_; }

private:
    enum class State { down, connecting, up };
    void try_connect();
    void on_poll(int status, int events);
    void read_replies();
    void on_reply(resp::Value& v);
    void queue(std::initializer_list<std::string_view> args);
    void flush();
    void lost(const std::string& why);
    // Calls try_connect after the backoff, doubled first (5 ms to 500 ms) if
    // `grow`: the stash could not be reached, or would not keep the link.
    void retry_later(bool grow);
    // A link that does not come up within connect_timeout_ms of its connect
    // (a stash whose accept is paused, or that is stuck, leaves it in its
    // backlog) is dropped and made again. Not while held: a standby's link
    // waits unread for its activation, however long that takes.
    static constexpr std::uint64_t connect_timeout_ms = 2000;
    void arm_connect_deadline();
    void arm_poll();

    uv_loop_t* loop_;
    StashAddress address_;
    std::string path_;  // as logs name it
    std::string key_;
    int replicas_;
    std::uint64_t replica_wait_ms_;
    bool tcp_pending_ = false;  // a TCP connect still under way
    bool held_ = false;         // answers wait unread (start(true))
    bool deadline_said_ = false;  // the connect deadline logged, this outage
    std::optional<std::int64_t> last_set_;  // with a Redis: what our last SET (or the GET) left at the key
    std::optional<std::int64_t> block_high_;  // an INCRBY's answer, waiting for its WAIT
    bool wait_for_ack_;
    Hooks hooks_;
    State state_ = State::down;
    std::optional<std::uint64_t> down_since_;
    Fd fd_;
    uv::Poll poll_;
    int events_ = 0;
    uv::Timer retry_;  // the next connect while down; the connect's deadline while connecting
    std::uint64_t backoff_ms_ = 0;
    std::string out_;
    std::size_t out_sent_ = 0;
    std::uint64_t written_ = 0;  // bytes written on this connection
    std::uint64_t queued_ = 0;   // bytes queued on this connection
    std::string in_;
    resp::ReplyParser parser_;
    struct Pending {
        std::uint64_t commit;    // 0 for the reconciling GET
        std::uint64_t byte_end;  // queued_ just past its bytes
        enum class Kind { get, ack, auth, set_get, incrby, wait } kind = Kind::ack;
        std::optional<std::int64_t> expect = std::nullopt;  // set_get: what the key must have held
    };
    std::deque<Pending> replies_;   // replies awaited, in order
    std::deque<Pending> unwritten_; // commits not yet wholly written (hand-off mode)
    std::uint64_t issued_ = 0;
    std::uint64_t done_ = 0;
    std::uint64_t connects_ = 0;
};

}  // namespace seq::worker
