// Shared mode: the worker's number lives in a real Redis that other workers,
// on other machines, share (--stash redis://... with --reserve N). Each
// worker takes blocks of N with one atomic INCRBY, and hands out numbers
// from the blocks it holds: no number twice across all workers, each
// worker's numbers rising, none handed out from a block the store has not
// confirmed (and, with --replicas K, that K replicas have not).
#include <algorithm>

#include "log.hpp"
#include "worker.hpp"

namespace seq::worker {

namespace {
constexpr std::uint64_t block_retry_ms = 100;  // after a block the replicas did not confirm
}

std::int64_t Worker::available() const {
    std::int64_t n = value_ && *value_ < block_hi_ ? block_hi_ - *value_ : 0;
    for (auto& b : blocks_) n += b.hi - b.lo;
    return n;
}

bool Worker::advance() {
    if (value_ && *value_ < block_hi_) return true;
    if (blocks_.empty()) return false;
    value_ = blocks_.front().lo;
    block_hi_ = blocks_.front().hi;
    blocks_.pop_front();
    stash_value_ = value_;
    return true;
}

// One block in flight at most, asked for once less than half a block is left.
void Worker::ask_block() {
    if (!asked_.empty() || available() >= (options_.reserve + 1) / 2) return;
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(block_retry_.get()))) return;
    if (link_.reserve_block(options_.reserve)) asked_.push_back(options_.reserve);
}

void Worker::on_block(std::int64_t high) {
    if (asked_.empty()) return;  // asked on a link since lost
    asked_.pop_front();
    // Whatever was asked (a block, or a step past a loss), ours is the top N.
    Block b{high - options_.reserve, high};
    if (b.lo < highest_) {
        // The store went back (it lost writes: no persistence, or a failover
        // to a replica that missed them). Blocks from it may hold numbers we
        // handed out: step the key past our highest, and take the block after.
        log("%s gave a block from %lld, below the end of one we already took (%lld): the store lost writes; "
            "moving key '%s' past it",
            options_.address.describe().c_str(), static_cast<long long>(b.lo), static_cast<long long>(highest_),
            options_.key.c_str());
        auto step = highest_ - high + options_.reserve;
        if (link_.reserve_block(step)) asked_.push_back(step);
        return;
    }
    highest_ = b.hi;
    blocks_.push_back(b);
    resume_parked();
    ask_block();
}

void Worker::on_block_refused(const std::string& why) {
    if (!asked_.empty()) asked_.pop_front();
    log("a block of key '%s' not used: %s; asking again", options_.key.c_str(), why.c_str());
    uv_timer_start(block_retry_.get(), [](uv_timer_t* t) {
        if (auto* w = uv::owner<Worker>(t)) w->ask_block();
    }, block_retry_ms, 0);
}

Server::Verdict Worker::shared_handle(Command cmd, std::span<const std::string_view> args, Connection& c) {
    auto& out = c.out();
    bool behind_held = c.holds_output();
    if (cmd == Command::increment) {
        resp::append_error(out, "ERR INCREMENT is not available on a shared sequence");
    } else if (advance()) {
        step(cmd, args, out);
        ask_block();
    } else {
        ask_block();
        if (waits_for_stash(c)) return Server::Verdict::defer;
        resp::append_error(out, "ERR stash unavailable");
    }
    release(c, behind_held);
    return Server::Verdict::done;
}

}  // namespace seq::worker
