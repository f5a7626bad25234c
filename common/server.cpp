#include "server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "commands.hpp"
#include "log.hpp"
#include "socket.hpp"

namespace seq {

namespace {
constexpr std::size_t read_chunk = 64 << 10;
constexpr int max_reads_per_wakeup = 16;  // then let other clients have a turn
}  // namespace

// -------------------------------------------------------------- Connection

Connection::Connection(Server& server, std::uint64_t id, Fd fd)
    : server_(server), id_(id), fd_(std::move(fd)), poll_(uv::make_poll(server.loop_, fd_.get())),
      parser_(server.options_.limits) {
    poll_->data = this;
    update_poll();
}

void Connection::release_own(std::uint64_t before) {
    if (server_.auto_release_ || released_ >= before) {
        released_ = out_end();
    } else if (!own_.empty() && own_.back().second == before) {
        own_.back().second = out_end();
    } else {
        own_.emplace_back(before, out_end());
    }
}

bool Connection::peer_gone() const {
    char byte;
    auto n = ::recv(fd_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void Connection::release_to(std::uint64_t end) {
    if (end > released_) released_ = end;
    while (!own_.empty() && released_ >= own_.front().first) {
        released_ = std::max(released_, own_.front().second);
        own_.pop_front();
    }
    if (!busy_) {
        busy_ = true;
        flush();
        busy_ = false;
        if (dead_) server_.destroy(*this);
    }
}

void Connection::on_poll(int status, int events) {
    busy_ = true;
    if (status < 0) {
        // libuv reports EPOLLERR (a client that went away with our replies
        // unread) as an error, without the readable event. What the client
        // sent before it went is still queued and must still run: a killed
        // worker's last SET to the stash is exactly that.
        read_input();
        dead_ = true;
    } else {
        if (events & UV_WRITABLE) flush();
        if ((events & UV_READABLE) && !dead_) {
            read_input();
            if (!dead_) flush();
        }
    }
    busy_ = false;
    if (dead_) server_.destroy(*this);
}

void Connection::read_input() {
    auto& scratch = server_.scratch_;
    for (int i = 0; i < max_reads_per_wakeup && !paused_ && !closing_ && !input_ended_ && !dead_; ++i) {
        ssize_t n = ::read(fd_.get(), scratch.data(), scratch.size());
        if (n == 0) {
            // The client is done sending (a half-close, as `printf ... | socat`
            // does) or gone. What it asked for still gets its replies, held
            // ones included; the connection goes once they are written.
            input_ended_ = true;
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) dead_ = true;
            return;
        }
        auto got = static_cast<std::size_t>(n);
        if (in_off_ == in_.size()) {
            // Nothing pending: parse straight from the read buffer, and keep
            // only what is left of a request cut short (the common case: none).
            in_.clear();
            in_off_ = 0;
            auto used = process(std::string_view(scratch.data(), got));
            in_.assign(scratch.data() + used, got - used);
        } else {
            in_.append(scratch.data(), got);
            process_pending();
        }
        if (got < scratch.size()) return;
    }
}

void Connection::process_pending() {
    in_off_ += process(std::string_view(in_).substr(in_off_));
    if (in_off_ == in_.size()) {
        in_.clear();
        in_off_ = 0;
    } else if (in_off_ > read_chunk && in_off_ * 2 > in_.size()) {
        in_.erase(0, in_off_);
        in_off_ = 0;
    }
}

std::size_t Connection::process(std::string_view input) {
    auto& opts = server_.options_;
    std::size_t used = 0;
    while (!paused_ && !closing_ && !dead_) {
        auto st = parser_.parse(input.substr(used), args_);
        if (st == resp::Status::incomplete) break;
        if (st == resp::Status::error) {
            // The error goes after every reply before it, held ones too: it
            // must not carry out a reply the handler has not released.
            auto before = out_end();
            resp::append_error(out_, "ERR Protocol error: " + parser_.error());
            release_own(before);
            closing_ = true;
            break;
        }
        if (!args_.empty()) {
            if (monitoring_ && !is_command(args_[0], "reset") && !is_command(args_[0], "quit")) {
                auto before = out_end();
                resp::append_error(out_, "ERR a MONITOR connection takes only RESET and QUIT");
                release_own(before);
            } else {
                // CLIENT REPLY ON answers, and RESET turns replies back on and answers.
                using Replies = Session::Replies;
                quiet_ = session.replies != Replies::on && !is_command(args_[0], "reset") &&
                         !(is_command(args_[0], "client") && args_.size() >= 2 && is_command(args_[1], "reply"));
                auto verdict = server_.handler_(*this, args_);
                if (quiet_) {
                    sink_.clear();
                    quiet_ = false;
                    if (verdict == Server::Verdict::done && session.replies == Replies::skip) session.replies = Replies::on;
                }
                if (verdict == Server::Verdict::defer) {
                    paused_ = true;  // the request stays unconsumed, to be seen again
                    break;
                }
                deferred_since.reset();
                if (!server_.monitors_.empty()) server_.feed_monitors(*this, args_);
            }
        }
        used += parser_.consumed();
        if (server_.auto_release_) released_ = out_end();
        if (out_.size() - out_sent_ > opts.max_output) {
            log("%s: client %llu has %zu bytes of replies it does not read (limit %zu); dropping it",
                server_.name_.c_str(), static_cast<unsigned long long>(id_), out_.size() - out_sent_,
                opts.max_output);
            dead_ = true;
            break;
        }
    }
    return used;
}

void Connection::flush() {
    while (!dead_ && !write_failed_) {
        std::size_t sendable = static_cast<std::size_t>(released_ - out_base_);
        if (sendable > out_.size()) sendable = out_.size();
        if (out_sent_ >= sendable) break;
        ssize_t n = ::send(fd_.get(), out_.data() + out_sent_, sendable - out_sent_, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            // The client is gone, but what it sent before it went may still be
            // queued and must still run: keep reading until its end of file.
            if (errno != EAGAIN) write_failed_ = true;
            break;
        }
        out_sent_ += static_cast<std::size_t>(n);
    }
    if (write_failed_) {
        out_base_ += out_.size();
        out_.clear();
        out_sent_ = 0;
        released_ = out_base_;
    }
    if (out_sent_ == out_.size()) {
        out_base_ += out_.size();
        out_.clear();
        out_sent_ = 0;
    } else if (out_sent_ > read_chunk && out_sent_ * 2 > out_.size()) {
        out_.erase(0, out_sent_);
        out_base_ += out_sent_;
        out_sent_ = 0;
    }
    if (((closing_ || (input_ended_ && !paused_)) && out_.empty()) || (write_failed_ && paused_)) dead_ = true;
    if (!dead_) update_poll();
}

void Connection::update_poll() {
    int want = 0;
    if (!paused_ && !closing_ && !input_ended_) want |= UV_READABLE;
    if (!write_failed_ && out_sent_ < out_.size() && released_ > out_base_ + out_sent_) want |= UV_WRITABLE;
    uv::repoll(poll_, events_, want, [](uv_poll_t* h, int status, int events) {
        if (auto* c = uv::owner<Connection>(h)) c->on_poll(status, events);
    });
}

// ------------------------------------------------------------------ Server

Server::Server(uv_loop_t* loop, Fd listener, ServerOptions options, Handler handler, std::string name)
    : loop_(loop), listener_(std::move(listener)), options_(options), handler_(std::move(handler)),
      name_(std::move(name)), scratch_(read_chunk) {
    if (listener_) listen_on(std::move(listener_));
}

std::string Server::address() const { return listener_ ? bound_address(listener_.get()) : std::string(); }

void Server::listen_on(Fd listener) {
    listener_ = std::move(listener);
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    where_ = "unix:";
    if (getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
        len > offsetof(sockaddr_un, sun_path) && addr.sun_path[0] != '\0')
        where_ += addr.sun_path;
}

void Server::monitor(Connection& c, bool on) {
    if (on == c.monitoring_) return;
    c.monitoring_ = on;
    if (on)
        monitors_.push_back(c.id_);
    else
        std::erase(monitors_, c.id_);
}

namespace {

// A MONITOR argument as Redis quotes it (sdscatrepr): printable bytes as
// they are, the rest escaped.
void append_quoted(std::string& line, std::string_view arg) {
    line += '"';
    for (unsigned char ch : arg) {
        switch (ch) {
        case '\\': line += "\\\\"; break;
        case '"': line += "\\\""; break;
        case '\n': line += "\\n"; break;
        case '\r': line += "\\r"; break;
        case '\t': line += "\\t"; break;
        default:
            if (std::isprint(ch)) {
                line += static_cast<char>(ch);
            } else {
                char hex[5];
                std::snprintf(hex, sizeof hex, "\\x%02x", ch);
                line += hex;
            }
        }
    }
    line += '"';
}

}  // namespace

void Server::feed_monitors(const Connection& from, std::span<const std::string_view> args) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    char stamp[48];
    std::snprintf(stamp, sizeof stamp, "+%lld.%06ld [0 ", static_cast<long long>(now.tv_sec), now.tv_nsec / 1000);
    std::string line = stamp;
    line += where_;
    line += ']';
    // A password never reaches a monitor: AUTH's arguments, and HELLO's AUTH
    // user and password, are redacted.
    // HELLO's options are read as HELLO reads them: SETNAME's name is a name,
    // even one spelt "auth".
    const bool auth = is_command(args[0], "auth"), hello = is_command(args[0], "hello");
    std::size_t redacted = 0, name = 0;
    auto shown = std::min<std::size_t>(args.size(), 64);
    for (std::size_t i = 0; i < shown; ++i) {
        line += ' ';
        bool hide = redacted > 0 || (auth && i > 0);
        append_quoted(line, hide ? std::string_view("(redacted)") : args[i].substr(0, 256));
        if (redacted > 0)
            --redacted;
        else if (name > 0)
            --name;
        else if (hello && i >= 2 && is_command(args[i], "auth"))
            redacted = 2;
        else if (hello && i >= 2 && is_command(args[i], "setname"))
            name = 1;
    }
    if (args.size() > 64) line += " ... (" + std::to_string(args.size() - 64) + " more arguments)";
    line += "\r\n";
    for (auto id : std::vector(monitors_)) {
        auto* m = find(id);
        if (!m || m == &from || m->write_failed_) continue;
        // Released at once unless the monitor's own reply waits (a held
        // reply keeps its place: nothing overtakes it), then right after it.
        auto before = m->out_end();
        m->out_.append(line);
        m->release_own(before);
        if (m->out_.size() - m->out_sent_ > options_.max_output) {
            log("%s: monitor %llu does not read what it is sent (limit %zu bytes); dropping it", name_.c_str(),
                static_cast<unsigned long long>(id), options_.max_output);
            close(*m);
            continue;
        }
        if (!m->busy_) m->update_poll();
    }
}

void Server::stop_accepting() {
    accepting_over_ = true;
    accept_poll_.close();
    accept_retry_.close();
    reserve_.reset();
    listener_.reset();
}

bool Server::quiet() const {
    for (auto& [id, c] : conns_) {
        if (c->dead_ || c->write_failed_) continue;
        if (c->paused_ || c->in_.size() > c->in_off_ || c->out_sent_ < c->out_.size()) return false;
        int unread = 0;
        if (ioctl(c->fd_.get(), FIONREAD, &unread) == 0 && unread > 0) return false;
    }
    return true;
}

void Server::start() {
    if (accepting_over_) return;
    if (accept_poll_ && !accept_paused_ && uv_is_active(accept_poll_.base())) return;  // already accepting
    if (!accept_poll_) {
        accept_poll_ = uv::make_poll(loop_, listener_.get());
        accept_poll_->data = this;
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        tcp_ = getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
               (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
        accept_retry_ = uv::make_timer(loop_);
        accept_retry_->data = this;
        reserve_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    uv_timer_stop(accept_retry_.get());
    accept_paused_ = false;
    uv::check(uv_poll_start(accept_poll_.get(), UV_READABLE,
                            [](uv_poll_t* h, int status, int) {
                                if (auto* s = uv::owner<Server>(h); s && status == 0) s->on_accept();
                            }),
              "uv_poll_start");
    // Clients may be waiting in the backlog already (a restart behind an
    // inherited socket): they need not wait a turn of the loop.
    on_accept();
}

void Server::on_accept() {
    // A retry's turn: the clients still waiting have waited a whole interval,
    // and no other server on a shared listener (a pool's instances) took
    // them. Those are refused, with why; a client that came a moment ago is
    // left, for a server with room or for ours once it has some.
    const bool refuse_waiting = std::exchange(retry_turn_, false);
    for (;;) {
        int fd = accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            // A TCP connection's own failure (accept(2)): that one is gone, not our room.
            if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == ENOPROTOOPT || err == EHOSTDOWN ||
                err == ENONET || err == EHOSTUNREACH || err == EOPNOTSUPP || err == ENETUNREACH || err == ENETDOWN)
                continue;
            if (err == EAGAIN || err == EWOULDBLOCK) {
                // Linux finds a free fd before it looks for a client: there is room.
                end_shortage();
                return;
            }
            if (!retry_ms_) {
                log("%s: cannot accept: %s; trying again, and refusing the clients that wait, until there is room",
                    name_.c_str(), std::strerror(err));
                retry_ms_ = 100;
            }
            if (refuse_waiting && (err == EMFILE || err == ENFILE))
                while (refuse_one()) {
                }
            pause_accepting();
            return;
        }
        end_shortage();
        Fd client(fd);
        // A reply is one write, sent whole: Nagle would hold a pipelined
        // client's next reply until the previous one was acknowledged.
        if (tcp_) {
            int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        }
        // A refusal is one short error line into an empty socket buffer: it
        // cannot block, and a peer that never reads it costs us nothing.
        auto refuse = [fd](std::string_view why) {
            std::string msg = "-ERR ";
            msg.append(why).append("\r\n");
            [[maybe_unused]] auto n = ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        };
        if (peer_filter_)
            if (auto why = peer_filter_(fd)) {
                refuse(*why);
                continue;
            }
        if (conns_.size() >= options_.max_clients) {
            refuse("max clients reached");
            continue;
        }
        auto id = next_id_++;
        auto& c = *conns_.emplace(id, std::make_unique<Connection>(*this, id, std::move(client))).first->second;
        c.session.since_ms = uv_now(loop_);
        // Its input is read from the next turn of the loop, never here: a
        // connection accepted now may have been made after another's last
        // write, which epoll reports in this same turn (a dead worker's last
        // SET, and its successor's GET), and must be read after it.
    }
}

bool Server::refuse_one() {
    if (!reserve_) return false;
    reserve_.reset();
    Fd client(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    const bool refused = static_cast<bool>(client);
    if (refused) {
        static constexpr std::string_view why = "-ERR out of file descriptors: try again later\r\n";
        [[maybe_unused]] auto n = ::send(client.get(), why.data(), why.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        // What it sent already is read and dropped, a little of it: a TCP
        // socket closed with input unread resets, and the line may be lost.
        ::shutdown(client.get(), SHUT_WR);
        char sink[512];
        for (int k = 0; k < 8 && ::recv(client.get(), sink, sizeof sink, MSG_DONTWAIT) > 0; ++k) {
        }
        ++refused_;
        client.reset();
    }
    reserve_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    return refused && reserve_;
}

void Server::end_shortage() {
    if (retry_ms_) {
        log("%s: accepting again (%llu clients were refused meanwhile)", name_.c_str(),
            static_cast<unsigned long long>(refused_));
        retry_ms_ = 0;
        refused_ = 0;
    }
    // Lost in a shortage (its number past a lowered limit, or another
    // process took the slot it left): taken again once there is room.
    if (!reserve_) reserve_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

void Server::pause_accepting() {
    const unsigned delay = retry_ms_;
    retry_ms_ = std::min(delay * 2, 1000u);
    uv_poll_stop(accept_poll_.get());
    accept_paused_ = true;
    uv_timer_start(accept_retry_.get(), [](uv_timer_t* t) {
        if (auto* s = uv::owner<Server>(t)) {
            s->retry_turn_ = true;
            s->start();
        }
    }, delay, 0);
}

Connection* Server::find(std::uint64_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() || it->second->dead_ ? nullptr : it->second.get();
}

void Server::resume(Connection& c) {
    if (!c.paused_ || c.busy_) return;
    c.busy_ = true;
    c.paused_ = false;
    c.process_pending();
    if (!c.dead_) c.flush();  // also re-arms reading for what arrived meanwhile
    c.busy_ = false;
    if (c.dead_) destroy(c);
}

void Server::close(Connection& c) {
    c.dead_ = true;
    if (!c.busy_) destroy(c);
}

void Server::destroy(Connection& c) {
    if (close_hook_) close_hook_(c);
    if (c.monitoring_) std::erase(monitors_, c.id_);
    conns_.erase(c.id_);
    if (accept_paused_) start();
}

}  // namespace seq
