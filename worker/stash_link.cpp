#include "stash_link.hpp"
#include <poll.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "log.hpp"
#include "socket.hpp"

namespace seq::worker {

namespace {
constexpr std::uint64_t max_backoff_ms = 500;
// Commits the stash has not read yet. Past this it is not reading at all
// (stopped, or stuck): the link is dropped rather than buffer without bound;
// reconciliation on reconnection carries the number over.
constexpr std::size_t max_unsent = 1u << 20;
}

StashLink::StashLink(uv_loop_t* loop, StashAddress address, std::string key, bool wait_for_ack, Hooks hooks,
                     int replicas, std::uint64_t replica_wait_ms)
    : loop_(loop), address_(std::move(address)), path_(address_.describe()), key_(std::move(key)),
      replicas_(replicas), replica_wait_ms_(replica_wait_ms),
      // A Redis answers every command, and a SET is ours only once it says so.
      wait_for_ack_(wait_for_ack || address_.redis()), hooks_(std::move(hooks)), retry_(uv::make_timer(loop)) {
    retry_->data = this;
}

const char* StashLink::state_name() const {
    switch (state_) {
    case State::down: return "down";
    case State::connecting: return "connecting";
    case State::up: return "up";
    }
    return "?";
}

void StashLink::start(bool held) {
    held_ = held;
    down_since_ = uv_now(loop_);
    try_connect();
}

void StashLink::release() {
    if (!held_) return;
    held_ = false;
    if (state_ == State::down) return;  // a retry is due, and reads as any link
    // A stash that ended meanwhile (one_for_all restarts it before this
    // worker) may have answered first: that answer is from a store that is
    // gone, so the new one is asked instead.
    pollfd p{fd_.get(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        lost("the stash closed the connection");
        uv_timer_stop(retry_.get());
        return try_connect();
    }
    arm_poll();
    if (state_ == State::connecting) arm_connect_deadline();
    if (!tcp_pending_) read_replies();  // a TCP connect still under way reads once it is done
}

void StashLink::try_connect() {
    try {
        tcp_pending_ = false;
        if (address_.kind == StashAddress::Kind::redis_tcp)
            fd_ = connect_tcp(address_.host, address_.port, tcp_pending_);
        else
            fd_ = connect_unix(address_.path, true);
    } catch (const std::exception& e) {
        if (backoff_ms_ == 0) log("stash unreachable: %s; retrying", e.what());
        return retry_later(true);
    }
    ++connects_;
    poll_ = uv::make_poll(loop_, fd_.get());
    poll_->data = this;
    events_ = 0;
    state_ = State::connecting;
    out_.clear();
    out_sent_ = 0;
    written_ = queued_ = 0;
    in_.clear();
    parser_ = resp::ReplyParser{};
    replies_.clear();
    unwritten_.clear();
    last_set_.reset();
    block_high_.reset();
    if (!address_.password.empty()) {
        if (address_.user.empty()) queue({"AUTH", address_.password});
        else queue({"AUTH", address_.user, address_.password});
        replies_.push_back({0, queued_, Pending::Kind::auth});
    }
    queue({"GET", key_});
    replies_.push_back({0, queued_, Pending::Kind::get});
    // Handed-off commits are done once written, so their "+OK"s would only
    // cost both processes a write and a read each. The GET's reply, sent
    // before this takes effect, still arrives; a lost stash still shows as EOF.
    if (!wait_for_ack_) queue({"CLIENT", "REPLY", "OFF"});
    if (!held_) arm_connect_deadline();
    flush();
}

void StashLink::arm_connect_deadline() {
    uv_timer_start(retry_.get(), [](uv_timer_t* t) {
        auto* self = uv::owner<StashLink>(t);
        if (!self || self->state_ != State::connecting) return;
        // Said once an outage: lost() speaks only for its first cause.
        if (!self->deadline_said_)
            log("the stash at %s took no notice of the connection within %llu ms (its accept paused, or it is "
                "stuck); connecting again until it answers",
                self->path_.c_str(), static_cast<unsigned long long>(connect_timeout_ms));
        self->deadline_said_ = true;
        self->lost("no answer within " + std::to_string(connect_timeout_ms) + " ms of connecting");
    }, connect_timeout_ms, 0);
}

void StashLink::queue(std::initializer_list<std::string_view> args) {
    auto before = out_.size();
    resp::append_command(out_, std::span<const std::string_view>(args.begin(), args.size()));
    queued_ += out_.size() - before;
}

std::uint64_t StashLink::commit(std::int64_t value) {
    auto id = ++issued_;
    if (state_ == State::down) return id;  // the reconciliation on reconnect covers it
    char num[24];
    auto len = std::snprintf(num, sizeof num, "%lld", static_cast<long long>(value));
    if (address_.redis()) {
        queue({"SET", key_, std::string_view(num, static_cast<std::size_t>(len)), "GET"});
        replies_.push_back({id, queued_, Pending::Kind::set_get, last_set_});
        last_set_ = value;
    } else {
        queue({"SET", key_, std::string_view(num, static_cast<std::size_t>(len))});
        if (wait_for_ack_)
            replies_.push_back({id, queued_});
        else
            unwritten_.push_back({id, queued_});
    }
    flush();
    return id;
}

bool StashLink::reserve_block(std::int64_t n) {
    if (state_ != State::up) return false;
    char num[24];
    auto len = std::snprintf(num, sizeof num, "%lld", static_cast<long long>(n));
    queue({"INCRBY", key_, std::string_view(num, static_cast<std::size_t>(len))});
    replies_.push_back({0, queued_, Pending::Kind::incrby});
    if (replicas_ > 0) {
        auto k = std::to_string(replicas_), ms = std::to_string(replica_wait_ms_);
        queue({"WAIT", k, ms});
        replies_.push_back({0, queued_, Pending::Kind::wait});
    }
    flush();
    return true;
}

void StashLink::flush() {
    while (!tcp_pending_ && out_sent_ < out_.size()) {
        ssize_t n = ::send(fd_.get(), out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            lost(std::string("writing: ") + std::strerror(errno));
            return;
        }
        out_sent_ += static_cast<std::size_t>(n);
        written_ += static_cast<std::uint64_t>(n);
    }
    bool progressed = false;
    while (!unwritten_.empty() && unwritten_.front().byte_end <= written_) {
        done_ = unwritten_.front().commit;
        unwritten_.pop_front();
        progressed = true;
    }
    if (out_sent_ == out_.size()) {
        out_.clear();
        out_sent_ = 0;
    } else if (out_.size() - out_sent_ > max_unsent) {
        lost("the stash is not reading: " + std::to_string(out_.size() - out_sent_) + " bytes unsent");
    } else if (out_sent_ > (64u << 10)) {
        out_.erase(0, out_sent_);
        out_sent_ = 0;
    }
    if (state_ != State::down) arm_poll();
    if (progressed && hooks_.progress) hooks_.progress();
}

void StashLink::arm_poll() {
    int want = (held_ ? 0 : UV_READABLE) | (out_sent_ < out_.size() ? UV_WRITABLE : 0);
    uv::repoll(poll_, events_, want, [](uv_poll_t* h, int status, int events) {
        if (auto* self = uv::owner<StashLink>(h)) self->on_poll(status, events);
    });
}

void StashLink::on_poll(int status, int events) {
    if (status < 0) {  // as in Server: drain what was sent before the error
        read_replies();
        if (state_ != State::down) lost(uv_strerror(status));
        return;
    }
    if ((events & UV_WRITABLE) && tcp_pending_) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err != 0) return lost(std::string("connecting: ") + std::strerror(err));
        tcp_pending_ = false;
    }
    if (events & UV_WRITABLE) flush();
    if ((events & UV_READABLE) && state_ != State::down) read_replies();
}

void StashLink::read_replies() {
    for (;;) {
        char buf[16384];
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) return lost("the stash closed the connection");
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            return lost(std::string("reading: ") + std::strerror(errno));
        }
        in_.append(buf, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof buf) break;
    }
    for (;;) {
        resp::Value v;
        auto st = parser_.parse(in_, v);
        if (st == resp::Status::incomplete) return;
        if (st == resp::Status::error) return lost("garbled reply: " + parser_.error());
        in_.erase(0, parser_.consumed());
        on_reply(v);
        if (state_ == State::down) return;
    }
}

void StashLink::on_reply(resp::Value& v) {
    if (replies_.empty()) return lost("a reply nobody asked for");
    auto p = replies_.front();
    replies_.pop_front();
    auto fatal = [&](const std::string& why, Failure f) {
        if (hooks_.fatal) hooks_.fatal(why, f);
    };
    using Kind = Pending::Kind;
    if (p.kind == Kind::auth) {
        if (v.is_error()) return fatal(path_ + " refused the password: " + v.str, Failure::refused);
        return;
    }
    if (v.is_error()) {
        if (v.str.starts_with("NOPERM"))
            return fatal(path_ + " does not let us touch key '" + key_ + "' (the tree's stash_keys): " + v.str,
                         Failure::refused);
        if (v.str.starts_with("NOAUTH") || v.str.starts_with("WRONGPASS"))
            return fatal(path_ + (address_.redis() ? " wants a password (redis://:password@host:port): "
                                                   : " wants a user and password ($SEQ_STASH_USER, $SEQ_STASH_PASSWORD): ") +
                             v.str,
                         Failure::refused);
        if (p.kind == Kind::incrby)
            return fatal(path_ + ": INCRBY on key '" + key_ + "' failed: " + v.str + " (does it hold a number?)",
                         Failure::not_ours);
        return lost("the stash answered with an error: " + v.str);
    }
    if (p.kind == Kind::set_get) {
        // What the key held before our SET must be what we left there: else
        // another writer shares the key, and numbers would be handed out twice.
        std::optional<std::int64_t> held;
        if (v.type == resp::Value::Type::bulk) held = resp::parse_int(v.str);
        bool expected = v.type == resp::Value::Type::nil ? !p.expect : (held && p.expect && *held == *p.expect);
        if (!expected)
            return fatal("another writer changed key '" + key_ + "' at " + path_ + " (it held " +
                             (v.type == resp::Value::Type::nil ? std::string("nothing") : "'" + v.str + "'") +
                             ", where we had left " + (p.expect ? std::to_string(*p.expect) : "nothing") +
                             "): workers that share a key need --reserve",
                         Failure::not_ours);
    }
    if (p.kind == Kind::incrby) {
        if (v.type != resp::Value::Type::integer) return lost("unexpected reply to INCRBY");
        if (replicas_ == 0) {
            if (hooks_.block) hooks_.block(v.integer);
        } else {
            block_high_ = v.integer;
        }
        return;
    }
    if (p.kind == Kind::wait) {
        auto high = block_high_;
        block_high_.reset();
        if (!high) return;
        if (v.type == resp::Value::Type::integer && v.integer >= replicas_) {
            if (hooks_.block) hooks_.block(*high);
        } else if (hooks_.block_refused) {
            hooks_.block_refused("only " + std::to_string(v.integer) + " of " + std::to_string(replicas_) +
                                 " replicas confirmed it within " + std::to_string(replica_wait_ms_) + " ms");
        }
        return;
    }
    if (p.commit != 0) {  // a SET's "+OK" (only awaited with --wait-for-ack)
        done_ = p.commit;
        if (hooks_.progress) hooks_.progress();
        return;
    }
    // The reconciling GET: the stash is new to us, or we to it.
    std::optional<std::string> held;
    if (v.type == resp::Value::Type::bulk)
        held = v.str;
    else if (v.type != resp::Value::Type::nil)
        return lost("unexpected reply to GET");
    std::optional<std::int64_t> to_write;
    try {
        to_write = hooks_.reconcile(held);
    } catch (const std::exception& e) {
        return fatal(std::string(e.what()) + " (" + path_ + ")", Failure::not_ours);
    }
    if (held) last_set_ = resp::parse_int(*held);
    state_ = State::up;
    uv_timer_stop(retry_.get());  // its connect deadline
    deadline_said_ = false;
    down_since_.reset();
    backoff_ms_ = 0;
    if (to_write) {
        commit(*to_write);  // numbered after every commit lost with the old link
    } else {
        done_ = issued_;  // the stash already holds all we ever committed
    }
    if (state_ != State::up) return;
    if (hooks_.up) hooks_.up();
    if (!to_write && hooks_.progress) hooks_.progress();
}

void StashLink::lost(const std::string& why) {
    if (state_ != State::down && backoff_ms_ == 0)
        log("stash link to %s lost: %s; reconnecting", path_.c_str(), why.c_str());
    // A link that never came up (the stash accepts, then refuses or closes:
    // max clients reached) backs off like a failed connect, or it would spin.
    bool never_up = state_ == State::connecting;
    state_ = State::down;
    if (!down_since_) down_since_ = uv_now(loop_);
    poll_.close();
    fd_.reset();
    events_ = 0;
    replies_.clear();
    unwritten_.clear();
    out_.clear();
    out_sent_ = 0;
    in_.clear();
    parser_ = resp::ReplyParser{};
    retry_later(never_up);  // from the timer, not from here: this may run deep inside a callback
}

void StashLink::retry_later(bool grow) {
    if (grow) backoff_ms_ = std::clamp<std::uint64_t>(backoff_ms_ * 2, 5, max_backoff_ms);
    uv_timer_start(retry_.get(), [](uv_timer_t* t) {
        if (auto* self = uv::owner<StashLink>(t)) self->try_connect();
    }, backoff_ms_, 0);
}

}  // namespace seq::worker
