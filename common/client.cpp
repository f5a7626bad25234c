#include "client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "socket.hpp"

namespace seq {

Client::Client(std::string path, Duration timeout, resp::Limits limits)
    : path_(std::move(path)), timeout_(timeout), parser_(limits) {
    try {
        fd_ = connect_unix(path_, true);
    } catch (const std::exception& e) {
        throw ConnectError(e.what());
    }
}

bool Client::wait(short events, std::chrono::steady_clock::time_point until) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() < 0) return false;
        pollfd p{fd_.get(), events, 0};
        int rc = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
        if (rc > 0) return true;
        if (rc < 0 && errno != EINTR) throw IoError("poll on " + path_ + ": " + std::strerror(errno));
    }
}

void Client::send_raw(std::string_view bytes) {
    auto until = deadline();
    while (!bytes.empty()) {
        ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            if (!wait(POLLOUT, until)) throw IoError("timed out writing to " + path_);
            continue;
        }
        throw IoError("writing to " + path_ + ": " + std::strerror(errno));
    }
}

resp::Value Client::read_reply() {
    auto until = deadline();
    for (;;) {
        resp::Value v;
        auto st = parser_.parse(in_, v);
        if (st == resp::Status::ok) {
            in_.erase(0, parser_.consumed());
            return v;
        }
        if (st == resp::Status::error) throw IoError("bad reply from " + path_ + ": " + parser_.error());
        char buf[16384];
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n > 0) {
            in_.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) throw IoError("connection to " + path_ + " closed by the server");
        if (errno == EINTR) continue;
        if (errno != EAGAIN) throw IoError("reading from " + path_ + ": " + std::strerror(errno));
        if (!wait(POLLIN, until)) throw IoError("timed out waiting for a reply from " + path_);
    }
}

resp::Value Client::call(std::span<const std::string_view> args) {
    std::string req;
    resp::append_command(req, args);
    send_raw(req);
    return read_reply();
}

bool Client::closed_by_peer() {
    auto until = deadline();
    for (;;) {
        char buf[4096];
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n == 0) return true;
        if (n > 0) continue;
        if (errno == EINTR) continue;
        if (errno == ECONNRESET) return true;
        if (errno != EAGAIN) return true;
        if (!wait(POLLIN, until)) return false;
    }
}

}  // namespace seq
