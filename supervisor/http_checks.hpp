// HTTP GETs on our event loop, for health probes: libcurl's multi-socket
// interface (its sockets watched by uv_poll, its timeouts by one uv_timer),
// no thread and no hand-written client. libcurl is opened with dlopen when
// a tree first asks for an HTTP probe: linked in, its TLS and the rest
// would be loaded at every exec of seq-supervisor, nested ones included.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "uv.hpp"

namespace seq::sup {

class HttpChecks {
public:
    // Why libcurl cannot be had here, or nullopt: a tree with HTTP probes
    // is refused up front rather than failing them all.
    static std::optional<std::string> unavailable();

    explicit HttpChecks(uv_loop_t* loop);  // throws if libcurl cannot be loaded
    ~HttpChecks();
    HttpChecks(const HttpChecks&) = delete;
    HttpChecks& operator=(const HttpChecks&) = delete;

    // nullopt: passed (2xx or 3xx); else why not: "HTTP 500", "connect:
    // Couldn't connect to server", "timed out after 1000 ms".
    using Done = std::function<void(std::optional<std::string> failure)>;
    // A GET of `url`, given `timeout_ms` in all; its body is read and dropped.
    std::uint64_t get(const std::string& url, std::uint64_t timeout_ms, Done done);
    // Its `done` is not told.
    void cancel(std::uint64_t id);

    struct Api;

private:
    struct Watch;
    void on_socket(int fd, int what, Watch* w);
    void act(int fd, int flags);
    void finish_done();

    uv_loop_t* loop_;
    std::unique_ptr<Api> api_;
    void* multi_ = nullptr;  // CURLM*
    uv::Timer timer_;
    std::unordered_map<int, std::unique_ptr<Watch>> watches_;  // by socket
    struct Transfer {
        void* easy;  // CURL*
        std::uint64_t timeout_ms;
        Done done;
    };
    std::unordered_map<std::uint64_t, Transfer> transfers_;
    std::uint64_t next_id_ = 1;
};

}  // namespace seq::sup
