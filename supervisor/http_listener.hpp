// The supervisor's read-only HTTP listener (/metrics, /livez, /readyz):
// libmicrohttpd in its external mode, on our loop. Its epoll set is one fd
// we poll, and its timeouts one timer, so a request is served between two
// children's events, never by another thread; nothing it serves can act
// on the tree. Bounded: 64 connections (32 from one TCP address; one past
// the bound is closed at once), request headers within about 8 KiB, a body
// (read and dropped) within 16 KiB, 10 s idle; what is malformed gets
// libmicrohttpd's 400.
//
// libmicrohttpd is opened (dlopen) when a listener is made, not linked:
// Debian's pulls in GnuTLS and its kin, about 4 ms of loading on every
// exec of seq-supervisor, nested ones too, that a tree without `http`
// should never pay.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "fd.hpp"
#include "uv.hpp"

struct MHD_Daemon;
struct MHD_Connection;

namespace seq::sup {

// The body is shared, not copied: a scrape kept for a second (a megabyte
// with 1,000 children) goes out to each scraper from the one string, which
// libmicrohttpd holds until its last byte is sent.
struct HttpReply {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::shared_ptr<const std::string> body = std::make_shared<const std::string>();
    HttpReply() = default;
    HttpReply(unsigned status_, std::string type, std::shared_ptr<const std::string> shared)
        : status(status_), content_type(std::move(type)), body(std::move(shared)) {}
    HttpReply(unsigned status_, std::string type, std::string text)
        : HttpReply(status_, std::move(type), std::make_shared<const std::string>(std::move(text))) {}
};

class HttpListener {
public:
    // `route` answers a GET (or HEAD) of a path; anything else is 405.
    using Route = std::function<HttpReply(std::string_view path)>;
    // Takes the listening socket; throws, saying why, if libmicrohttpd
    // cannot be loaded or will not start.
    HttpListener(uv_loop_t* loop, Fd listener, Route route);
    ~HttpListener();
    HttpListener(const HttpListener&) = delete;
    HttpListener& operator=(const HttpListener&) = delete;

    struct Api;  // libmicrohttpd's functions, as loaded

private:
    // Lets libmicrohttpd do what is ready, then sets the timer for its next timeout.
    void run();
    // One call of libmicrohttpd's for a request (see the .cpp); false closes it.
    bool on_request(MHD_Connection* c, const char* url, const char* method, std::size_t* upload_size, void** state);
    // libmicrohttpd's complaints, at most a few a minute (a hostile client
    // could otherwise fill the log).
    void complain(const char* line);
    struct Stop {
        const Api* api;
        void operator()(MHD_Daemon* d) const;
    };
    uv_loop_t* loop_;
    std::unique_ptr<Api> api_;  // first: unloaded last
    Route route_;
    std::unique_ptr<MHD_Daemon, Stop> daemon_;
    // After daemon_: closed before it, while its epoll fd is still open.
    uv::Poll poll_;
    uv::Timer timer_;
    unsigned open_ = 0;  // connections libmicrohttpd has started and not ended
    std::uint64_t complaints_since_ = 0;
    unsigned complaints_ = 0, unsaid_ = 0;
};

}  // namespace seq::sup
