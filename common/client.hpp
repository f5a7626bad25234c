// A blocking RESP client with a deadline on every call: what seqctl, the
// tests and the benchmarks use to talk to any of our daemons.
#pragma once

#include <chrono>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fd.hpp"
#include "resp.hpp"

namespace seq {

// The socket could not be reached; what() names its path.
struct ConnectError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// The connection failed mid-call (closed, timed out, or garbled).
struct IoError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Client {
public:
    using Duration = std::chrono::milliseconds;
    // `limits`: on the replies it reads.
    explicit Client(std::string path, Duration timeout = std::chrono::seconds(5), resp::Limits limits = {});

    resp::Value call(std::span<const std::string_view> args);
    resp::Value call(std::initializer_list<std::string_view> args) {
        return call(std::span<const std::string_view>(args.begin(), args.size()));
    }
    // Raw bytes out, and replies in: for pipelining and for tests of bad input.
    void send_raw(std::string_view bytes);
    resp::Value read_reply();
    // Whether the server has closed the connection (after draining replies).
    bool closed_by_peer();

    const std::string& path() const { return path_; }
    int fd() const { return fd_.get(); }

private:
    std::chrono::steady_clock::time_point deadline() const { return std::chrono::steady_clock::now() + timeout_; }
    bool wait(short events, std::chrono::steady_clock::time_point until);

    std::string path_;
    Duration timeout_;
    Fd fd_;
    std::string in_;
    resp::ReplyParser parser_;
};

}  // namespace seq
