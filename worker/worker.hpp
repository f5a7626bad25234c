// seq-worker's core: serves NEXT / INCREMENT / GET from memory, and lets no
// reply that reveals a number leave before the stash has that number.
//
// Replies made during one turn of the event loop form a batch; at the end of
// the turn (a uv_check handle) the batch becomes one commit to the stash,
// whatever number of clients and requests it holds (group commit). A batch's
// replies are released when its commit is done; batches finish in order.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "fd.hpp"
#include "sequence.hpp"
#include "connection_commands.hpp"
#include "server.hpp"
#include "stash_address.hpp"
#include "stash_link.hpp"
#include "uv.hpp"

namespace seq::worker {

struct Options {
    std::string stash_path;  // as given: a path, or a Redis URL
    StashAddress address;    // parsed from it
    std::string key = "sequence";
    std::int64_t initial = 0;
    bool wait_for_ack = false;
    // --reserve N: the stash holds a high-water mark, not the number, raised
    // N at a time ahead of use; 0: the stash holds every number (no gaps).
    std::int64_t reserve = 0;
    // With a Redis and --reserve, the key is shared: blocks are taken with
    // INCRBY, and each is used only once WAIT says this many replicas have it.
    int replicas = 0;
    std::uint64_t stash_timeout_ms = 2000;  // how long a request waits for a lost stash
    // Accept at once, before the stash has answered (requests that need it
    // wait for it, as they do for a lost stash): an activated standby takes
    // its first client while its first read of the stash is on the way.
    bool accept_early = false;
    ServerOptions server;
};

class Worker {
public:
    // `ready` runs once, when the worker first holds the stash's number and
    // serves, after the replies of that turn are out. Without a listener it
    // is a standby's worker, made ahead of need: idle until prepare() or
    // activate().
    Worker(uv::Loop& loop, Fd listener, Options options, std::function<void()> ready);
    // The instance this standby stands for has ended: connect to the stash
    // and ask for the number now, while the supervisor decides, but read
    // nothing, write nothing and serve nothing before activate().
    void prepare();
    // The socket is ours: serve.
    void activate(Fd listener);
    // Non-empty once the worker cannot go on (the stash holds garbage).
    const std::string& fatal_error() const { return fatal_; }
    // Whether it failed because the stash never answered at start.
    bool start_timed_out() const { return start_timed_out_; }
    StashLink::Failure failure() const { return failure_; }
    // An orderly stop: the loop ends once the stash holds the number as of
    // now. A stash restarted a moment ago may not have been re-seeded yet; a
    // worker that left then would take the number with it. It waits up to
    // --stash-timeout on a live link, a short grace on a link that has not
    // come back. A second call stops at once.
    void stop();

private:
    Server::Verdict handle(Connection& c, std::span<const std::string_view> args);
    void enroll(Connection& c);
    void park(Connection& c, std::uint64_t wait_ms);
    void answer(Command cmd, std::span<const std::string_view> args, Connection& c);
    // MULTI, commands queued, EXEC and DISCARD (common/transaction.hpp), and
    // what an EXEC runs here. Returns nullopt if the command is not part of a
    // transaction; else done or defer.
    std::optional<Server::Verdict> transaction(std::span<const std::string_view> args, Connection& c);
    bool waits_for_stash(Connection& c);
    // Releases c's replies now, or behind the ones it already holds.
    void release(Connection& c, bool behind_held);
    void close_batch();
    void release_done();
    void resume_parked();
    void on_park_timer();
    void arm_held_timer(std::uint64_t since_ms);
    void fail_overdue();
    std::optional<std::int64_t> reconcile(const std::optional<std::string>& held);
    std::string info() const;
    static const DaemonFacts& facts();
    // apply() on the value, counting each NEXT that handed out a number.
    bool step(Command k, std::span<const std::string_view> args, std::string& out);
    std::uint64_t next_served_ = 0;
    void stop_if_flushed();
    // --reserve: the commit after which the stash holds a mark at or above
    // the current number (issuing one if none does), and the reservation of
    // the next block, issued once half of what is reserved is used.
    // Shared mode (worker_shared.cpp): a Redis and --reserve; numbers come
    // from blocks the store handed out with INCRBY, never from a SET.
    bool shared() const { return options_.address.redis() && options_.reserve > 0; }
    std::int64_t available() const;
    bool advance();  // moves value_ into the next block if the current one is used up
    void ask_block();
    void on_block(std::int64_t high);
    void on_block_refused(const std::string& why);
    Server::Verdict shared_handle(Command cmd, std::span<const std::string_view> args, Connection& c);
    std::uint64_t covering_commit();
    void reserve_ahead();
    void issue_reservation(std::int64_t mark);
    void settle_reservations();
    void arm_stop_timer(std::uint64_t ms);
    void arm_start_timer();

    struct Held {
        std::uint64_t conn;
        std::uint64_t end;  // stream offset up to which the reply may go
        // Loop clock: when the oldest of its requests began to wait (one
        // parked for a lost stash waited before it joined a batch). Its
        // connection waits at most --stash-timeout from here.
        std::uint64_t since_ms;
    };
    struct Batch {
        std::uint64_t commit;
        std::int64_t value;  // what the stash holds once the commit is done
        std::vector<Held> replies;
    };

    uv::Loop& loop_;
    Options options_;
    std::function<void()> ready_;
    Server server_;
    StashLink link_;
    uv::Check check_;
    uv::Timer park_timer_;
    uv::Timer start_timer_;
    uv::Timer held_timer_;  // fires when a held reply may have waited --stash-timeout
    std::optional<std::uint64_t> held_timer_since_;  // the wait it is armed for
    std::optional<std::int64_t> value_;  // unknown until the stash is first read
    bool serving_ = false;   // holds the stash's number
    bool linked_ = false;    // its stash link has been started (held, until activated)
    bool announce_ = false;  // ready_ is due at the end of this turn
    std::string hello_;      // the log line that goes with it
    std::vector<Held> open_;
    bool open_changed_ = false;
    // The number the stash is known to hold: what INFO shows, since INFO does
    // not wait for the stash and must not reveal a number it lacks.
    std::optional<std::int64_t> stash_value_;
    std::deque<Batch> batches_;
    struct Reservation {
        std::int64_t mark;
        std::uint64_t commit;
    };
    std::deque<Reservation> reservations_;  // issued, not yet done, in order
    std::int64_t mark_done_ = 0;  // the stash holds at least this mark
    std::int64_t reserved_ = 0;   // the highest mark issued
    bool reseeding_ = false;      // reconcile asked the link to write reserved_ back
    struct Block {
        std::int64_t lo, hi;  // [lo, hi)
    };
    std::deque<Block> blocks_;          // shared: confirmed, not yet begun
    std::int64_t block_hi_ = 0;         // shared: the end of the block value_ is in
    std::int64_t highest_ = std::numeric_limits<std::int64_t>::min();  // the end of the highest block taken
    std::deque<std::int64_t> asked_;    // INCRBY amounts in flight, in order
    StashLink::Failure failure_ = StashLink::Failure::runtime;
    std::unordered_set<std::uint64_t> parked_;
    std::uint64_t started_ms_;
    std::string fatal_;
    bool start_timed_out_ = false;
    std::optional<std::uint64_t> drain_target_;  // stopping: the commit the stash must have
    uv::Timer stop_timer_;
    std::uint64_t stop_wait_ms_ = 0;
    uv::Timer block_retry_;  // shared: asking again for a block the replicas did not confirm
};

}  // namespace seq::worker
