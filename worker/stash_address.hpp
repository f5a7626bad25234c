// Where the worker keeps its number: our own seq-stash (a socket path), or a
// real Redis, by URL: redis://[[user]:password@]host[:port] over TCP, or
// unix:///path/to/redis.sock. With Redis the worker uses only commands Redis
// has, and waits for each reply.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace seq::worker {

struct StashAddress {
    enum class Kind { stash, redis_unix, redis_tcp };
    Kind kind = Kind::stash;
    std::string path;  // stash, redis_unix
    std::string host;  // redis_tcp
    int port = 6379;
    std::string user, password;  // AUTH, when a password is given

    bool redis() const { return kind != Kind::stash; }
    // As a log line or an error names it: never with the password.
    std::string describe() const;
};

// nullopt, with `error` saying what is wrong, for an address that is not one.
std::optional<StashAddress> parse_stash_address(std::string_view text, std::string& error);

}  // namespace seq::worker
