#include "http_listener.hpp"

#include <microhttpd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "log.hpp"
#include "shared_library.hpp"

#ifndef SEQ_MICROHTTPD_LIBRARY
#define SEQ_MICROHTTPD_LIBRARY "libmicrohttpd.so.12"
#endif

namespace seq::sup {

struct HttpListener::Api {
    SharedLibrary library{SEQ_MICROHTTPD_LIBRARY, "http needs libmicrohttpd (Debian's libmicrohttpd12)"};
    decltype(&MHD_start_daemon) start_daemon;
    decltype(&MHD_stop_daemon) stop_daemon;
    decltype(&MHD_get_daemon_info) get_daemon_info;
    decltype(&MHD_run) run;
    decltype(&MHD_get_timeout) get_timeout;
    decltype(&MHD_create_response_from_buffer_with_free_callback_cls) create_response;
    decltype(&MHD_add_response_header) add_header;
    decltype(&MHD_queue_response) queue_response;
    decltype(&MHD_destroy_response) destroy_response;
    decltype(&MHD_lookup_connection_value) lookup;
};

namespace {

constexpr unsigned max_connections = 64;
// libmicrohttpd's own bound, never reached: at its bound it takes the
// listening socket out of its epoll set and puts it back only at the start
// of a run, so connections that all close at the end of one would leave
// it deaf, with nothing left to wake us. The accept policy holds the real
// bound instead. Twice ours: it also counts those closed and not yet swept.
constexpr unsigned library_bound = 2 * max_connections + 1;
// Half of them: one TCP client cannot take every slot from a probe or a
// scraper elsewhere (a Unix socket's clients are not told apart).
constexpr unsigned max_per_address = 32;
constexpr unsigned idle_seconds = 10;
// A connection's memory, which its request's line and headers must fit in
// with room for the reply's: about 8 KiB of headers (8,700 bytes are taken,
// 9,500 refused with 431; between, libmicrohttpd waits for its idle timeout).
constexpr std::size_t connection_memory = 9 << 10;
// A request's body is read and dropped (nothing here takes one); past this
// it is refused (413) or, sent chunked, the connection closed.
constexpr std::size_t max_body = 16 << 10;
// libmicrohttpd's complaints: this many a minute, then a count of the rest.
constexpr unsigned complaints_per_minute = 10;

std::unique_ptr<HttpListener::Api> load() {
    auto api = std::make_unique<HttpListener::Api>();
    auto bind = [&](auto& function, const char* name) { api->library.bind(function, name); };
    bind(api->start_daemon, "MHD_start_daemon");
    bind(api->stop_daemon, "MHD_stop_daemon");
    bind(api->get_daemon_info, "MHD_get_daemon_info");
    bind(api->run, "MHD_run");
    bind(api->get_timeout, "MHD_get_timeout");
    bind(api->create_response, "MHD_create_response_from_buffer_with_free_callback_cls");
    bind(api->add_header, "MHD_add_response_header");
    bind(api->queue_response, "MHD_queue_response");
    bind(api->destroy_response, "MHD_destroy_response");
    bind(api->lookup, "MHD_lookup_connection_value");
    return api;
}

bool queue(const HttpListener::Api& api, MHD_Connection* connection, const HttpReply& r, const char* allow = nullptr) {
    // The response holds its own reference to the body, given back when
    // libmicrohttpd destroys it (after the last send, or with the connection).
    using Held = std::shared_ptr<const std::string>;
    auto held = std::make_unique<Held>(r.body);
    auto release = [](void* cls) { std::unique_ptr<Held> drop(static_cast<Held*>(cls)); };
    auto* response = api.create_response((*held)->size(), const_cast<char*>((*held)->data()), release, held.get());
    if (!response) return false;
    static_cast<void>(held.release());  // now the response's
    api.add_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
    api.add_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow) api.add_header(response, MHD_HTTP_HEADER_ALLOW, allow);
    auto done = api.queue_response(connection, r.status, response);
    api.destroy_response(response);
    return done == MHD_YES;
}

HttpReply text(unsigned status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body)}; }

}  // namespace

void HttpListener::Stop::operator()(MHD_Daemon* d) const { api->stop_daemon(d); }

HttpListener::HttpListener(uv_loop_t* loop, Fd listener, Route route)
    : loop_(loop), api_(load()), route_(std::move(route)), daemon_(nullptr, Stop{api_.get()}) {
    auto handler = [](void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
                      const char*, size_t* upload_size, void** state) -> MHD_Result {
        return static_cast<HttpListener*>(cls)->on_request(connection, url, method, upload_size, state) ? MHD_YES
                                                                                                         : MHD_NO;
    };
    // Open connections, counted as libmicrohttpd starts and ends them.
    auto accept = [](void* cls, const sockaddr*, socklen_t) -> MHD_Result {
        return static_cast<HttpListener*>(cls)->open_ < max_connections ? MHD_YES : MHD_NO;
    };
    auto notify = [](void* cls, MHD_Connection*, void**, MHD_ConnectionNotificationCode code) {
        auto& open = static_cast<HttpListener*>(cls)->open_;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) ++open;
        else if (open > 0) --open;
    };
    auto logger = [](void* cls, const char* fmt, va_list ap) {
        char line[512];
        std::vsnprintf(line, sizeof line, fmt, ap);
        static_cast<HttpListener*>(cls)->complain(line);
    };
    // Given up before the call: libmicrohttpd closes it when it stops, and
    // may already have, should it fail to start (then we exit).
    int fd = listener.release();
    // The logger first, so that no message of the others' goes to stderr its own way.
    // Through C varargs: each value of the type libmicrohttpd reads it as.
    void* self = this;
    daemon_.reset(api_->start_daemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, +accept, self, +handler, self, MHD_OPTION_EXTERNAL_LOGGER, +logger,
        self, MHD_OPTION_NOTIFY_CONNECTION, +notify, self, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, library_bound, MHD_OPTION_PER_IP_CONNECTION_LIMIT, max_per_address,
        MHD_OPTION_CONNECTION_TIMEOUT, idle_seconds, MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory,
        MHD_OPTION_END));
    if (!daemon_) throw std::runtime_error("the HTTP listener would not start (libmicrohttpd)");
    auto* info = api_->get_daemon_info(daemon_.get(), MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) throw std::runtime_error("the HTTP listener has no epoll fd (libmicrohttpd)");
    poll_ = uv::make_poll(loop, info->epoll_fd);
    timer_ = uv::make_timer(loop);
    poll_->data = this;
    timer_->data = this;
    uv::check(uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
        if (auto* self = uv::owner<HttpListener>(h)) self->run();
    }), "uv_poll_start (http)");
    run();
}

HttpListener::~HttpListener() {
    poll_.close();
    timer_.close();
}

// libmicrohttpd calls once when a request's headers are in, then once per
// piece of its body, then once more with none: the answer is queued on that
// last call, as its manual has it, so a connection is kept alive and a body
// is never left unread. `state` counts the body's bytes, plus one: not an
// allocation to free, only a number in libmicrohttpd's pointer-sized slot.
bool HttpListener::on_request(MHD_Connection* c, const char* url, const char* method, std::size_t* upload_size,
                              void** state) {
    auto seen = reinterpret_cast<std::uintptr_t>(*state);
    if (seen == 0) {
        *state = reinterpret_cast<void*>(std::uintptr_t{1});
        const char* length = api_->lookup(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && std::strtoull(length, nullptr, 10) > max_body)
            return queue(*api_, c, text(413, "a request's body is not for this listener, and this one is too big\n"));
        return true;
    }
    if (*upload_size) {
        seen += *upload_size;
        *upload_size = 0;
        *state = reinterpret_cast<void*>(seen);
        return seen <= max_body + 1;
    }
    if (std::strcmp(method, MHD_HTTP_METHOD_GET) != 0 && std::strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return queue(*api_, c, text(405, "only GET and HEAD here: nothing is changed over HTTP\n"), "GET, HEAD");
    HttpReply reply;
    try {
        reply = route_(url);
    } catch (const std::exception& e) {
        reply = text(500, std::string(e.what()) + "\n");
    }
    return queue(*api_, c, reply);
}

void HttpListener::complain(const char* line) {
    const auto now = uv_now(loop_);
    if (now - complaints_since_ >= 60'000 || complaints_since_ == 0) {
        if (unsaid_) log("http: %u more of libmicrohttpd's complaints went unlogged", unsaid_);
        complaints_since_ = now ? now : 1;
        complaints_ = unsaid_ = 0;
    }
    if (++complaints_ > complaints_per_minute) {
        ++unsaid_;
        return;
    }
    std::string_view l(line);
    while (!l.empty() && l.back() == '\n') l.remove_suffix(1);
    log("http: %.*s", static_cast<int>(l.size()), l.data());
}

void HttpListener::run() {
    api_->run(daemon_.get());
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (api_->get_timeout(daemon_.get(), &ms) == MHD_YES)
        uv_timer_start(timer_.get(), [](uv_timer_t* t) {
            if (auto* self = uv::owner<HttpListener>(t)) self->run();
        }, ms, 0);
    else
        uv_timer_stop(timer_.get());
}

}  // namespace seq::sup
