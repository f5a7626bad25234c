#include "worker.hpp"

#include "connection_commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <limits>

#include "commands.hpp"
#include "log.hpp"
#include "sequence.hpp"
#include "transaction.hpp"

namespace seq::worker {

Worker::Worker(uv::Loop& loop, Fd listener, Options options, std::function<void()> ready)
    : loop_(loop), options_(std::move(options)), ready_(std::move(ready)),
      server_(loop.get(), std::move(listener), options_.server,
              [this](Connection& c, std::span<const std::string_view> args) { return handle(c, args); }, "worker"),
      link_(loop.get(), options_.address, options_.key, options_.wait_for_ack,
            StashLink::Hooks{
                .reconcile = [this](const auto& held) { return reconcile(held); },
                .up =
                    [this] {
                        if (drain_target_) {  // stopping: wait for the re-seed, as for any commit on a live link
                            drain_target_ = std::max(*drain_target_, link_.issued());
                            arm_stop_timer(options_.stash_timeout_ms);
                        }
                        if (shared()) {
                            asked_.clear();  // what the old link asked for is lost with it
                            ask_block();
                        } else if (options_.reserve > 0 && value_) {
                            if (reseeding_) reservations_.push_back({reserved_, link_.issued()});
                            reseeding_ = false;
                            reserve_ahead();  // the first NEXT need not wait for a block
                        }
                        resume_parked();
                        stop_if_flushed();
                    },
                .progress =
                    [this] {
                        release_done();
                        stop_if_flushed();
                    },
                .fatal =
                    [this](const std::string& why, StashLink::Failure f) {
                        if (!fatal_.empty()) return;  // the first cause, not what followed from it
                        fatal_ = why;
                        failure_ = f;
                        loop_.stop();
                    },
                .block = [this](std::int64_t high) { on_block(high); },
                .block_refused = [this](const std::string& why) { on_block_refused(why); },
            },
            options_.replicas, std::min<std::uint64_t>(options_.stash_timeout_ms, 1000)),
      check_(uv::make_check(loop.get())), park_timer_(uv::make_timer(loop.get())),
      start_timer_(uv::make_timer(loop.get())), held_timer_(uv::make_timer(loop.get())), started_ms_(loop.now()),
      stop_timer_(uv::make_timer(loop.get())), block_retry_(uv::make_timer(loop.get())) {
    block_retry_->data = this;
    server_.set_auto_release(false);
    check_->data = this;
    park_timer_->data = this;
    start_timer_->data = this;
    held_timer_->data = this;
    stop_timer_->data = this;
    uv_check_start(check_.get(), [](uv_check_t* h) {
        auto* w = uv::owner<Worker>(h);
        if (!w) return;
        w->close_batch();
        if (w->drain_target_) w->stop_if_flushed();  // each wakeup may have answered the last one
        // The clients that waited for the first number are answered before
        // the log lines and the readiness, which wake the supervisor.
        if (w->announce_) {
            w->announce_ = false;
            if (!w->hello_.empty()) log("%s", w->hello_.c_str());
            w->hello_.clear();
            if (w->ready_) w->ready_();
        }
    });
    if (!server_.listening()) return;  // a standby's: see prepare() and activate()
    arm_start_timer();
    link_.start();
    linked_ = true;
    if (options_.accept_early) server_.start();
}

void Worker::prepare() {
    if (linked_) return;
    linked_ = true;
    link_.start(true);
}

void Worker::activate(Fd listener) {
    server_.listen_on(std::move(listener));
    arm_start_timer();
    server_.start();  // what waited in the socket's backlog is parked until the number is known
    prepare();
    link_.release();  // its answer is likely here already
}

void Worker::arm_start_timer() {
    uv_timer_start(start_timer_.get(), [](uv_timer_t* t) {
        auto* w = uv::owner<Worker>(t);
        if (!w || w->serving_) return;
        w->start_timed_out_ = true;
        w->fatal_ = "the stash at " + w->options_.address.describe() + " did not answer within " +
                    std::to_string(w->options_.stash_timeout_ms) + " ms";
        w->loop_.stop();
    }, options_.stash_timeout_ms, 0);
}

std::optional<std::int64_t> Worker::reconcile(const std::optional<std::string>& held) {
    std::optional<std::int64_t> theirs;
    if (held) {
        theirs = resp::parse_int(*held);
        if (!theirs)
            throw std::runtime_error("the stash holds a non-integer at key '" + options_.key + "'; refusing to guess");
    }
    const bool reserving = options_.reserve > 0;
    if (shared()) {
        // The store's number is everyone's: ours come from blocks (on_block).
        if (!serving_) {
            serving_ = true;
            log("sequence shared at key '%s' of %s, in blocks of %lld", options_.key.c_str(),
                options_.address.describe().c_str(), static_cast<long long>(options_.reserve));
            uv_timer_stop(start_timer_.get());
            server_.start();
            announce_ = true;
        }
        return std::nullopt;
    }
    if (!value_) {  // first contact: the stash knows, or we start from --initial
        value_ = theirs ? *theirs : options_.initial;
        stash_value_ = value_;  // or, if it has yet to be written, a restart would start there too
        // With --reserve the stash holds a mark: every number below it may
        // have been handed out, so the sequence resumes at it.
        mark_done_ = reserved_ = *value_;
        // Said with the readiness, once the first clients are answered.
        hello_ = "sequence at ";
        hello_ += std::to_string(*value_);
        hello_ += theirs ? (reserving ? " (the stash's mark)" : " (from the stash)") : " (initial value)";
        if (!serving_) {
            serving_ = true;
            uv_timer_stop(start_timer_.get());
            server_.start();
            announce_ = true;
        }
        if (theirs || reserving) return std::nullopt;  // a reservation writes it, before any number goes out
        return value_;
    }
    // What the stash must hold: our number, or with --reserve the highest
    // mark we ever issued (a lost link may have taken some of them).
    auto ours = reserving ? reserved_ : *value_;
    if (theirs && *theirs >= ours) {
        if (*theirs > ours) {
            log("the stash holds %lld, ahead of our %lld; adopting it", static_cast<long long>(*theirs),
                static_cast<long long>(ours));
            value_ = std::max(*value_, *theirs);
            reserved_ = std::max(reserved_, *theirs);
        }
        stash_value_ = value_;
        return std::nullopt;
    }
    log("re-seeding the stash with %lld (it held %s)", static_cast<long long>(ours),
        theirs ? std::to_string(*theirs).c_str() : "nothing");
    if (reserving) {
        // Until the re-seed is done the stash holds only what it said: no
        // reply may lean on a mark it lost. The up hook files the re-seed
        // as the reservation it is.
        mark_done_ = theirs ? *theirs : std::numeric_limits<std::int64_t>::min();
        reseeding_ = true;
    }
    return ours;
}

bool Worker::step(Command k, std::span<const std::string_view> args, std::string& out) {
    const bool changed = apply(k, args, *value_, out);
    if (changed && k == Command::next) ++next_served_;  // a number handed out
    return changed;
}

Server::Verdict Worker::handle(Connection& c, std::span<const std::string_view> args) {
    auto cmd = classify(args[0]);
    auto& out = c.out();
    bool behind_held = c.holds_output();
    if (auto verdict = transaction(args, c)) return *verdict;
    if (shared() && reads_value(cmd)) return shared_handle(cmd, args, c);
    if (reads_value(cmd) && link_.up()) {
        if (step(cmd, args, out)) open_changed_ = true;
        enroll(c);  // released once the stash holds the number this reveals
        return Server::Verdict::done;
    }
    if (reads_value(cmd)) {
        if (waits_for_stash(c)) return Server::Verdict::defer;
        resp::append_error(out, "ERR stash unavailable");  // nothing applied
    } else {
        answer(cmd, args, c);
    }
    release(c, behind_held);
    return Server::Verdict::done;
}

// The stash is away: a request that needs it waits, up to --stash-timeout
// from when it began to wait. False once that is past.
bool Worker::waits_for_stash(Connection& c) {
    auto now = loop_.now();
    if (!c.deferred_since) c.deferred_since = now;
    if (now - *c.deferred_since >= options_.stash_timeout_ms) return false;
    park(c, options_.stash_timeout_ms - (now - *c.deferred_since));
    return true;
}

// Behind a held reply even a PONG waits, so replies keep their order.
void Worker::release(Connection& c, bool behind_held) {
    if (behind_held)
        enroll(c);
    else
        c.release_to(c.out_end());
}

std::optional<Server::Verdict> Worker::transaction(std::span<const std::string_view> args, Connection& c) {
    bool behind_held = c.holds_output();
    auto done = [&] {
        release(c, behind_held);
        return Server::Verdict::done;
    };
    switch (transaction_step(c, args, facts(), false)) {
    case TxStep::other:
        return std::nullopt;
    case TxStep::answered:
    case TxStep::ended:
        return done();
    case TxStep::exec:
        break;
    }
    auto& tx = c.session.tx;
    auto& out = c.out();
    bool reads = std::any_of(tx.queued.begin(), tx.queued.end(),
                             [](auto& q) { return reads_value(classify(q[0])); });
    if (reads && shared()) {
        // Numbers for all of it, from blocks already ours, or none of it runs yet.
        std::int64_t need = 0;
        bool gets = false;
        for (auto& q : tx.queued) {
            auto k = classify(q[0]);
            need += k == Command::next ? 1 : 0;
            gets = gets || k == Command::get;
        }
        if (available() < need + (gets ? 1 : 0)) {
            ask_block();
            if (waits_for_stash(c)) return Server::Verdict::defer;
            tx = {};
            resp::append_error(out, "ERR stash unavailable");
            return done();
        }
    } else if (reads && !link_.up()) {  // the whole transaction waits for the stash, as one NEXT would
        if (waits_for_stash(c)) return Server::Verdict::defer;
        tx = {};
        resp::append_error(out, "ERR stash unavailable");  // nothing applied
        return done();
    }
    auto queued = std::move(tx.queued);
    tx = {};
    resp::append_array(out, queued.size());
    for (auto& q : queued) {
        std::vector<std::string_view> a(q.begin(), q.end());
        auto k = classify(a[0]);
        if (reads_value(k) && shared()) {
            if (k == Command::increment) {
                resp::append_error(out, "ERR INCREMENT is not available on a shared sequence");
            } else {
                advance();
                step(k, a, out);
            }
        } else if (reads_value(k)) {
            if (step(k, a, out)) open_changed_ = true;
        } else {
            answer(k, a, c);
        }
    }
    if (reads && shared()) ask_block();
    // Every number in it is revealed by one reply: one update of the
    // stash holds them all, and the reply waits for it.
    if (reads && !shared()) {
        enroll(c);
        return Server::Verdict::done;
    }
    return done();
}

void Worker::park(Connection& c, std::uint64_t wait_ms) {
    parked_.insert(c.id());
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(park_timer_.get())))
        uv_timer_start(park_timer_.get(), [](uv_timer_t* t) {
            if (auto* w = uv::owner<Worker>(t)) w->on_park_timer();
        }, wait_ms, 0);
}

void Worker::answer(Command cmd, std::span<const std::string_view> args, Connection& c) {
    auto& out = c.out();
    switch (cmd) {
    case Command::ping:
        if (args.size() > 2) resp::append_error(out, wrong_args(args[0]));
        else if (args.size() == 2) resp::append_bulk(out, args[1]);
        else resp::append_simple(out, "PONG");
        break;
    case Command::info:
        resp::append_verbatim(out, info(), c.session.proto);
        break;
    case Command::quit:
        resp::append_simple(out, "OK");
        c.close_after_reply();
        break;
    default:
        if (!connection_command(server_, c, args, facts())) resp::append_error(out, unknown_command(args[0]));
        break;
    }
}

// What COMMAND, HELLO and CONFIG GET say of the worker.
const DaemonFacts& Worker::facts() {
    static const DaemonFacts f{
        "seq-worker",
        "0.1.0",
        {{"next", 1, {"write", "fast"}},
         {"multi", 1, {"noscript", "loading", "stale", "fast", "allow_busy"}},
         {"exec", 1, {"noscript", "loading", "stale", "skip_slowlog"}},
         {"discard", 1, {"noscript", "loading", "stale", "fast", "allow_busy"}},
         {"increment", 2, {"write", "fast"}},
         {"get", 1, {"readonly", "fast"}},
         {"ping", -1, {"fast"}},
         {"info", -1, {"loading", "stale"}},
         {"quit", -1, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}}},
        [](std::string_view param) -> std::optional<std::string> {
            if (param == "save") return "";
            if (param == "appendonly") return "no";
            if (param == "databases") return "1";
            return std::nullopt;
        },
        {}};
    return f;
}

void Worker::enroll(Connection& c) {
    auto since = c.deferred_since.value_or(loop_.now());
    if (!open_.empty() && open_.back().conn == c.id()) {
        open_.back().end = c.out_end();
        open_.back().since_ms = std::min(open_.back().since_ms, since);
    } else {
        open_.push_back({c.id(), c.out_end(), since});
    }
}

void Worker::close_batch() {
    if (open_.empty()) return;
    std::uint64_t commit;
    if (options_.reserve > 0) {
        commit = covering_commit();
        reserve_ahead();
    } else {
        commit = open_changed_ ? link_.commit(*value_) : link_.issued();
    }
    auto since = std::min_element(open_.begin(), open_.end(), [](const Held& a, const Held& b) {
                     return a.since_ms < b.since_ms;
                 })->since_ms;
    batches_.push_back({commit, *value_, std::move(open_)});
    open_.clear();
    open_changed_ = false;
    release_done();
    if (!batches_.empty()) arm_held_timer(since);
}

// A reply reveals numbers below the current one (GET: the current one
// itself), so it may go once the stash holds a mark at or above it.
std::uint64_t Worker::covering_commit() {
    settle_reservations();
    if (*value_ <= mark_done_) return link_.done();
    for (auto& r : reservations_)
        if (r.mark >= *value_) return r.commit;
    // Past every block issued (an INCREMENT larger than what is left): this
    // reply waits for a reservation that covers it (the newest commit: that
    // one, or the earlier one already at the 64-bit maximum).
    issue_reservation(mark_for(*value_, options_.reserve));
    return link_.issued();
}

// The next block is asked for once half of the current one is used, so in
// steady state no reply waits for the stash, let alone for its disk.
void Worker::reserve_ahead() {
    if (reserved_ < mark_for(*value_, (options_.reserve + 1) / 2))
        issue_reservation(mark_for(*value_, options_.reserve));
}

void Worker::issue_reservation(std::int64_t mark) {
    if (mark <= reserved_) return;
    reserved_ = mark;
    reservations_.push_back({mark, link_.commit(mark)});
}

void Worker::settle_reservations() {
    while (!reservations_.empty() && reservations_.front().commit <= link_.done()) {
        mark_done_ = std::max(mark_done_, reservations_.front().mark);
        reservations_.pop_front();
    }
}

void Worker::release_done() {
    if (options_.reserve > 0) settle_reservations();
    while (!batches_.empty() && batches_.front().commit <= link_.done()) {
        auto batch = std::move(batches_.front());
        batches_.pop_front();
        stash_value_ = batch.value;
        for (auto& h : batch.replies)
            if (auto* c = server_.find(h.conn)) c->release_to(h.end);
    }
    if (batches_.empty() && held_timer_since_) {
        uv_timer_stop(held_timer_.get());
        held_timer_since_.reset();
    }
}

// One timer, armed for the oldest wait among held replies. On the busy path
// replies join in the order they began to wait, so it is armed once and
// stays: a reply released meanwhile only makes it fire for nothing.
void Worker::arm_held_timer(std::uint64_t since_ms) {
    if (held_timer_since_ && *held_timer_since_ <= since_ms) return;
    held_timer_since_ = since_ms;
    auto deadline = since_ms + options_.stash_timeout_ms;
    auto now = loop_.now();
    uv_timer_start(held_timer_.get(), [](uv_timer_t* t) {
        if (auto* w = uv::owner<Worker>(t)) w->fail_overdue();
    }, deadline > now ? deadline - now : 0, 0);
}

// The stash has not taken a commit within --stash-timeout of a reply's wait:
// it is gone, or alive but stuck (stopped, or its disk hangs). Those replies
// cannot be given, so their calls fail (the connection closes) rather than
// hang; replies that have waited less stay. The numbers of the failed calls
// are skipped, never handed out twice: the worker keeps its number, and the
// stash gets it with a later commit or on reconnection.
void Worker::fail_overdue() {
    auto now = loop_.now();
    std::size_t dropped = 0;
    std::uint64_t last = 0;
    std::optional<std::uint64_t> oldest;
    for (auto& batch : batches_) {
        std::erase_if(batch.replies, [&](const Held& h) {
            if (now - h.since_ms < options_.stash_timeout_ms) {
                if (!oldest || h.since_ms < *oldest) oldest = h.since_ms;
                return false;
            }
            if (auto* c = server_.find(h.conn)) {
                server_.close(*c);
                ++dropped;
            }
            last = batch.commit;
            return true;
        });
    }
    // A batch left with no reply has nothing to release: while a stuck stash
    // takes nothing, batches must not pile up.
    std::erase_if(batches_, [](const Batch& b) { return b.replies.empty(); });
    if (dropped != 0)
        log("the stash (link %s) has not taken commit %llu within %llu ms; closed %zu connections whose replies "
            "waited for it",
            link_.state_name(), static_cast<unsigned long long>(last),
            static_cast<unsigned long long>(options_.stash_timeout_ms), dropped);
    held_timer_since_.reset();
    if (oldest) arm_held_timer(*oldest);
}

void Worker::resume_parked() {
    uv_timer_stop(park_timer_.get());
    auto parked = std::move(parked_);
    parked_.clear();
    for (auto id : parked)
        if (auto* c = server_.find(id)) server_.resume(*c);
}

void Worker::on_park_timer() {
    auto now = loop_.now();
    std::vector<std::uint64_t> expired;
    std::uint64_t next = 0;
    for (auto it = parked_.begin(); it != parked_.end();) {
        auto* c = server_.find(*it);
        if (!c) {
            it = parked_.erase(it);
            continue;
        }
        auto waited = now - c->deferred_since.value_or(now);
        if (waited >= options_.stash_timeout_ms) {
            expired.push_back(*it);
            it = parked_.erase(it);
        } else {
            auto left = options_.stash_timeout_ms - waited;
            next = next == 0 ? left : std::min(next, left);
            ++it;
        }
    }
    for (auto id : expired)
        if (auto* c = server_.find(id)) server_.resume(*c);  // answers "stash unavailable"
    if (next > 0)
        uv_timer_start(park_timer_.get(), [](uv_timer_t* t) {
            if (auto* w = uv::owner<Worker>(t)) w->on_park_timer();
        }, next, 0);
}

namespace {
// How long a stopping worker waits for a stash that has not answered since the
// link was lost. A stash restarted by hand answers within milliseconds; a
// dead one, whose restart waits for this worker to stop (rest_for_one), never
// does, and the whole restart would wait out this grace.
constexpr std::uint64_t reseed_grace_ms = 100;
}  // namespace

void Worker::stop() {
    if (drain_target_ || !serving_) return loop_.stop();
    // What is in the backlog is the next server's (a restart's, or the
    // standby a handover activates); what was taken is answered first.
    server_.stop_accepting();
    drain_target_ = link_.issued();
    stop_if_flushed();  // the loop may stop right here: the timer then never runs
    arm_stop_timer(link_.up() ? options_.stash_timeout_ms : std::min(options_.stash_timeout_ms, reseed_grace_ms));
}

void Worker::arm_stop_timer(std::uint64_t ms) {
    stop_wait_ms_ = ms;
    uv_timer_start(stop_timer_.get(), [](uv_timer_t* t) {
        auto* w = uv::owner<Worker>(t);
        if (!w) return;
        log("stopping with the stash (link %s) not holding our number %lld: it did not take it within %llu ms",
            w->link_.state_name(), static_cast<long long>(*w->value_),
            static_cast<unsigned long long>(w->stop_wait_ms_));
        w->loop_.stop();
    }, ms, 0);
}

void Worker::stop_if_flushed() {
    if (!drain_target_) return;
    drain_target_ = std::max(*drain_target_, link_.issued());  // numbers handed out while draining
    if (link_.up() && link_.done() >= *drain_target_ && server_.quiet()) loop_.stop();
}

std::string Worker::info() const {
    std::string s = "# Worker\r\n";
    s += "pid:" + std::to_string(getpid()) + "\r\n";
    s += "value:" + (stash_value_ ? std::to_string(*stash_value_) : std::string("unknown")) + "\r\n";
    s += "key:" + options_.key + "\r\n";
    s += "socket:" + server_.address() + "\r\n";
    s += "clients:" + std::to_string(server_.clients()) + "\r\n";
    s += std::string("stash_link:") + link_.state_name() + "\r\n";
    s += "stash_connects:" + std::to_string(link_.connects()) + "\r\n";
    s += "stash:" + options_.address.describe() + "\r\n";
    s += std::string("commit_mode:") + (link_.waits_for_ack() ? "ack" : "handoff") + "\r\n";
    s += "commits_issued:" + std::to_string(link_.issued()) + "\r\n";
    s += "commits_done:" + std::to_string(link_.done()) + "\r\n";
    s += "next_served:" + std::to_string(next_served_) + "\r\n";
    if (options_.reserve > 0) {
        s += "reserve:" + std::to_string(options_.reserve) + "\r\n";
        s += "reserved_mark:" + std::to_string(mark_done_) + "\r\n";
    }
    s += "uptime_in_seconds:" + std::to_string((loop_.now() - started_ms_) / 1000) + "\r\n";
    return s;
}

}  // namespace seq::worker
