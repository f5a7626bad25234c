#include "subtree.hpp"

#include <malloc.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "commands.hpp"
#include "log.hpp"
#include "socket.hpp"

namespace seq::sup {

using Type = resp::Value::Type;

namespace {
// A subtree's file comes down as one argument: room for a large tree.
resp::Limits big_requests() {
    resp::Limits l;
    l.max_bulk = 16 << 20;
    l.max_request = 17 << 20;
    // Room for the id word in front of the longest request the control
    // socket takes, and the words a nested path adds.
    l.max_args = 2 * resp::Limits{}.max_args;
    return l;
}
}  // namespace

TrimSoon::TrimSoon(uv_loop_t* loop) : timer_(uv::make_timer(loop)) {}

void TrimSoon::after(std::size_t bytes) {
    if (bytes < (64u << 10) || uv_is_active(reinterpret_cast<uv_handle_t*>(timer_.get()))) return;
    uv_timer_start(timer_.get(), [](uv_timer_t*) { malloc_trim(0); }, 1000, 0);
    // Not what keeps the loop running: a supervisor stops without waiting for it.
    uv_unref(reinterpret_cast<uv_handle_t*>(timer_.get()));
}

SubtreeLink::SubtreeLink(uv_loop_t* loop, Fd channel, std::string path, std::function<void()> on_snapshot,
                         Event on_event)
    : loop_(loop), fd_(std::move(channel)), poll_(uv::make_poll(loop, fd_.get())), path_(std::move(path)),
      parser_(resp::tree_state_limits()), on_snapshot_(std::move(on_snapshot)), on_event_(std::move(on_event)),
      trim_(loop) {
    poll_->data = this;
    uv::check(uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* h, int status, int events) {
        if (auto* self = uv::owner<SubtreeLink>(h)) self->on_events(status, events);
    }), "uv_poll_start(subtree)");
}

SubtreeLink::~SubtreeLink() { fail_waiting("ERR the supervisor of " + path_ + " ended before it answered"); }

void SubtreeLink::fail_waiting(const std::string& why) {
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& [id, done] : waiting) done(why);
}

void SubtreeLink::close() {
    if (poll_) poll_.close();
    fail_waiting("ERR the supervisor of " + path_ + " ended before it answered");
}

bool SubtreeLink::answer(const resp::Value& v) {
    if (v.type != Type::array || v.elems.size() != 2 || v.elems[0].type != Type::integer) return false;
    auto& reply = v.elems[1];
    if (reply.type != Type::simple && reply.type != Type::error) return false;
    auto it = waiting_.find(static_cast<std::uint64_t>(v.elems[0].integer));
    if (it == waiting_.end()) return true;  // nobody waits for this one
    auto done = std::move(it->second);
    waiting_.erase(it);
    done(reply.type == Type::error ? std::optional<std::string>(reply.str) : std::nullopt);
    return true;
}

void SubtreeLink::on_events(int status, int events) {
    // An error on the channel (the other end reset it) is its end: what
    // waits for an answer is told so, never left waiting.
    if (status < 0) return close();
    if (events & UV_WRITABLE) flush();
    if ((events & UV_READABLE) && poll_) on_readable();
}

void SubtreeLink::on_readable() {
    char buf[16 << 10];
    auto n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {  // the nested supervisor is gone; its death is reaped elsewhere
        close();
        return;
    }
    in_.append(buf, static_cast<std::size_t>(n));
    std::size_t used = 0;
    bool fresh = false;  // a snapshot not yet told of
    for (;;) {
        resp::Value v;
        auto st = parser_.parse(std::string_view(in_).substr(used), v);
        if (st == resp::Status::incomplete) break;
        if (st == resp::Status::error) {
            log("%s: garbled snapshot from the nested supervisor (%s); ignoring it from now on", path_.c_str(),
                parser_.error().c_str());
            close();
            return;
        }
        used += parser_.consumed();
        parser_ = resp::ReplyParser(resp::tree_state_limits());
        if (v.type == Type::array && v.elems.size() == 2 && v.elems[0].type == Type::integer) {
            // What was done is in the snapshot before the answer: told first,
            // so whoever hears the answer sees it done.
            if (fresh && on_snapshot_) on_snapshot_();
            fresh = false;
            if (answer(v)) continue;
        }
        if (v.type == Type::array && !v.elems.empty() && v.elems[0].type == Type::bulk &&
            (v.elems[0].str == "line" || v.elems[0].str == "death" || v.elems[0].str == "event")) {
            if (on_event_) on_event_(v);
            continue;
        }
        auto report = from_resp(v);
        if (!report) {
            log("%s: a snapshot from the nested supervisor that is not a tree's state; ignoring it from now on",
                path_.c_str());
            close();
            return;
        }
        snapshot_ = std::move(*report);
        received_ms_ = uv_now(loop_);
        fresh = true;
    }
    in_.erase(0, used);
    if (fresh && on_snapshot_) on_snapshot_();
    trim_.after(used);
}

void SubtreeLink::drain() {
    if (!fd_) return;
    char buf[16 << 10];
    // Bounded as its sender is (Uplink::events_max), with room for snapshots.
    for (std::size_t taken = 0; taken < (64u << 20);) {
        auto n = ::read(fd_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        in_.append(buf, static_cast<std::size_t>(n));
        taken += static_cast<std::size_t>(n);
    }
    std::size_t used = 0;
    for (;;) {
        resp::Value v;
        if (parser_.parse(std::string_view(in_).substr(used), v) != resp::Status::ok) break;
        used += parser_.consumed();
        parser_ = resp::ReplyParser(resp::tree_state_limits());
        if (v.type == Type::array && !v.elems.empty() && v.elems[0].type == Type::bulk &&
            (v.elems[0].str == "line" || v.elems[0].str == "death" || v.elems[0].str == "event") && on_event_)
            on_event_(v);
    }
    in_.clear();
}

std::optional<std::string> SubtreeLink::send(std::span<const std::string_view> args, Reply done) {
    if (!poll_) return "the channel to the supervisor of " + path_ + " is closed";
    // Bounded: a nested supervisor that reads nothing for this long is not
    // going to; its commands are refused rather than kept.
    if (out_.size() > (64u << 20)) return "the supervisor of " + path_ + " reads no commands";
    auto id = next_id_++;
    const auto id_word = std::to_string(id);
    std::vector<std::string_view> words{id_word};
    words.insert(words.end(), args.begin(), args.end());
    resp::append_command(out_, words);
    if (done) waiting_.emplace(id, std::move(done));
    flush();
    return std::nullopt;
}

void SubtreeLink::flush() {
    while (!out_.empty()) {
        auto n = ::write(fd_.get(), out_.data(), out_.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) {  // gone: its death is reaped elsewhere
            out_.clear();
            return close();
        }
        out_.erase(0, static_cast<std::size_t>(n));
    }
    if (!poll_) return;
    uv_poll_start(poll_.get(), out_.empty() ? UV_READABLE : UV_READABLE | UV_WRITABLE, [](uv_poll_t* h, int status, int events) {
        if (auto* self = uv::owner<SubtreeLink>(h)) self->on_events(status, events);
    });
}

std::optional<std::string> SubtreeLink::command(std::initializer_list<std::string_view> args, Reply done) {
    return command(std::span<const std::string_view>(args.begin(), args.size()), std::move(done));
}

std::optional<std::string> SubtreeLink::command(std::span<const std::string_view> args, Reply done) {
    if (auto why = send(args, std::move(done))) return "ERR " + *why;
    return std::nullopt;
}

Uplink::Uplink(uv_loop_t* loop, Fd channel, Snapshot snapshot, Generation generation, Command command)
    : fd_(std::move(channel)), poll_(uv::make_poll(loop, fd_.get())), prepare_(uv::make_prepare(loop)),
      snapshot_(std::move(snapshot)), generation_(std::move(generation)), command_(std::move(command)),
      parser_(big_requests()), trim_(loop), self_(std::make_shared<Uplink*>(this)) {
    poll_->data = this;
    prepare_->data = this;
    set_nonblocking(fd_.get());
    uv::check(uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* h, int status, int events) {
        if (auto* self = uv::owner<Uplink>(h)) self->on_events(status, events);
    }), "uv_poll_start(uplink)");
    // Before the loop sleeps, a look: has anything changed? No timer: an
    // idle subtree sends nothing and costs nothing.
    uv::check(uv_prepare_start(prepare_.get(), [](uv_prepare_t* h) {
        if (auto* self = uv::owner<Uplink>(h)) self->on_prepare();
    }), "uv_prepare_start(uplink)");
}

Uplink::~Uplink() = default;  // self_ goes: a Reply still held answers nothing

void Uplink::answer(std::string_view id, const std::optional<std::string>& why) {
    if (!fd_) return;
    answers_ += "*2\r\n:";
    answers_ += id;
    answers_ += "\r\n";
    // Bounded, as the parent reads an error line: a refusal that lists a
    // large subtree must not be what cuts it off.
    constexpr std::size_t most = 4096;
    if (why && why->size() > most) resp::append_error(answers_, why->substr(0, most) + "...");
    else if (why) resp::append_error(answers_, *why);
    else resp::append_simple(answers_, "OK");
}

// Before the loop sleeps: what changed, in one snapshot, then every answer
// of this turn of the loop behind it (a thousand ADDs in one read cost one
// snapshot, not a thousand).
void Uplink::on_prepare() {
    if (!fd_) return;
    // What is still on its way first: a snapshot whose last bytes go now
    // no longer holds the next one back (it would wait for a wakeup that
    // may never come).
    if (!pending_.empty() && !flush()) return;
    auto g = generation_();
    // One snapshot at most on its way, unless answers must follow a fresh one.
    bool snapshot = g != sent_ && (snapshot_left_ == 0 || !answers_.empty());
    if (answers_.empty() && events_.empty() && !snapshot) return;
    pending_ += events_;
    events_.clear();
    if (snapshot) {
        sent_ = g;
        auto before = pending_.size();
        append_report(pending_, snapshot_());
        snapshot_left_ = pending_.size();
        trim_.after(pending_.size() - before);
    }
    pending_ += answers_;
    answers_.clear();
    flush();
}

void Uplink::line(std::string_view path, const LogLine& l) {
    if (!fd_) return;
    if (pending_.size() + events_.size() > events_max) {
        if (events_dropped_++ == 0)
            log("our parent supervisor reads too slowly: lines below us are no longer sent up (%s keeps them)",
                "seqctl logs of this subtree's supervisor");
        return;
    }
    resp::append_array(events_, 6);
    resp::append_bulk(events_, "line");
    resp::append_bulk(events_, path);
    resp::append_int(events_, l.pid);
    resp::append_bulk(events_, l.stream == Stream::err ? "err" : "out");
    resp::append_int(events_, static_cast<std::int64_t>(l.wall_ms));
    resp::append_bulk(events_, l.text);
}

void Uplink::death(std::string_view path, const Death& d) {
    if (!fd_) return;
    // Never dropped: one a death, and few.
    resp::append_array(events_, 7);
    resp::append_bulk(events_, "death");
    resp::append_bulk(events_, path);
    resp::append_int(events_, d.pid);
    resp::append_int(events_, static_cast<std::int64_t>(d.wall_ms));
    resp::append_int(events_, static_cast<std::int64_t>(d.uptime_ms));
    resp::append_bulk(events_, d.why);
    resp::append_bulk(events_, d.reason);
}

void Uplink::event(const TreeEvent& e) {
    if (!fd_) return;
    // Never dropped, as deaths: few, and each one for the tree's record.
    resp::append_array(events_, 8);
    resp::append_bulk(events_, "event");
    resp::append_bulk(events_, e.path);
    resp::append_int(events_, e.pid);
    resp::append_int(events_, static_cast<std::int64_t>(e.wall_ms));
    resp::append_bulk(events_, e.kind);
    resp::append_bulk(events_, e.reason);
    resp::append_bulk(events_, e.text);
    resp::append_int(events_, e.ms);
}

void Uplink::finish() {
    if (!fd_) return;
    pending_ += events_;
    pending_ += answers_;
    events_.clear();
    answers_.clear();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!pending_.empty() && fd_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd_.get(), POLLOUT, 0};
        if (left.count() <= 0) break;
        auto ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) break;
        if (!flush()) break;
    }
}

bool Uplink::flush() {
    while (!pending_.empty()) {
        auto n = ::write(fd_.get(), pending_.data(), pending_.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) {  // the parent is gone: PR_SET_PDEATHSIG ends us
            poll_.close();
            fd_.reset();
            pending_.clear();
            return false;
        }
        pending_.erase(0, static_cast<std::size_t>(n));
        snapshot_left_ -= std::min(snapshot_left_, static_cast<std::size_t>(n));
    }
    if (!poll_) return true;
    uv_poll_start(poll_.get(), pending_.empty() ? UV_READABLE : UV_READABLE | UV_WRITABLE,
                  [](uv_poll_t* h, int status, int events) {
                      if (auto* self = uv::owner<Uplink>(h)) self->on_events(status, events);
                  });
    return true;
}

void Uplink::on_events(int status, int events) {
    if (status < 0) {  // the parent is gone: PR_SET_PDEATHSIG ends us
        poll_.close();
        fd_.reset();
        return;
    }
    if ((events & UV_WRITABLE) && !flush()) return;
    if (events & UV_READABLE) on_readable();
}

void Uplink::on_readable() {
    char buf[4096];
    auto n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        poll_.close();
        fd_.reset();
        return;
    }
    in_.append(buf, static_cast<std::size_t>(n));
    std::size_t used = 0;
    for (;;) {
        auto st = parser_.parse(std::string_view(in_).substr(used), args_);
        if (st == resp::Status::incomplete) break;
        if (st == resp::Status::error) {  // not from our parent: nothing more is taken from there
            log("the channel from our parent is garbled (%s); closing it", parser_.error().c_str());
            poll_.close();
            fd_.reset();
            return;
        }
        // [id, command, args...]: anything else is not from our parent.
        if (args_.size() >= 2 && resp::parse_int(args_[0])) {
            std::string id(args_[0]);
            std::weak_ptr<Uplink*> self = self_;
            command_(std::span<const std::string_view>(args_).subspan(1),
                     [self, id](std::optional<std::string> why) {
                         if (auto alive = self.lock()) (*alive)->answer(id, why);
                     });
        }
        used += parser_.consumed();
    }
    in_.erase(0, used);
}

}  // namespace seq::sup
