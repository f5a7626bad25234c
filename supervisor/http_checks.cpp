#include "http_checks.hpp"

#include <curl/curl.h>

#include <stdexcept>

#include "shared_library.hpp"

#ifndef SEQ_CURL_LIBRARY
#define SEQ_CURL_LIBRARY "libcurl.so.4"
#endif

namespace seq::sup {

struct HttpChecks::Api {
    SharedLibrary library{SEQ_CURL_LIBRARY, "health.http needs libcurl (Debian's libcurl4)"};
    decltype(&curl_global_init) global_init;
    decltype(&curl_multi_init) multi_init;
    decltype(&curl_multi_cleanup) multi_cleanup;
    decltype(&curl_multi_setopt) multi_setopt;
    decltype(&curl_multi_socket_action) socket_action;
    decltype(&curl_multi_info_read) info_read;
    decltype(&curl_multi_add_handle) add_handle;
    decltype(&curl_multi_remove_handle) remove_handle;
    decltype(&curl_multi_assign) assign;
    decltype(&curl_easy_init) easy_init;
    decltype(&curl_easy_cleanup) easy_cleanup;
    decltype(&curl_easy_setopt) easy_setopt;
    decltype(&curl_easy_getinfo) easy_getinfo;
    decltype(&curl_easy_strerror) easy_strerror;
};

// One socket of libcurl's, watched for what it wants.
struct HttpChecks::Watch {
    HttpChecks* owner;
    int fd;
    uv::Poll poll;
    int events = 0;
};

namespace {

std::unique_ptr<HttpChecks::Api> load() {
    auto api = std::make_unique<HttpChecks::Api>();
    auto bind = [&](auto& function, const char* name) { api->library.bind(function, name); };
    bind(api->global_init, "curl_global_init");
    bind(api->multi_init, "curl_multi_init");
    bind(api->multi_cleanup, "curl_multi_cleanup");
    bind(api->multi_setopt, "curl_multi_setopt");
    bind(api->socket_action, "curl_multi_socket_action");
    bind(api->info_read, "curl_multi_info_read");
    bind(api->add_handle, "curl_multi_add_handle");
    bind(api->remove_handle, "curl_multi_remove_handle");
    bind(api->assign, "curl_multi_assign");
    bind(api->easy_init, "curl_easy_init");
    bind(api->easy_cleanup, "curl_easy_cleanup");
    bind(api->easy_setopt, "curl_easy_setopt");
    bind(api->easy_getinfo, "curl_easy_getinfo");
    bind(api->easy_strerror, "curl_easy_strerror");
    // Once per process, before any other call (libcurl is not loaded
    // twice: dlopen counts, and its globals stay).
    if (api->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("libcurl: curl_global_init failed");
    return api;
}

std::size_t discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

}  // namespace

std::optional<std::string> HttpChecks::unavailable() {
    try {
        load();
        return std::nullopt;
    } catch (const std::exception& e) {
        return e.what();
    }
}

HttpChecks::HttpChecks(uv_loop_t* loop) : loop_(loop), api_(load()), timer_(uv::make_timer(loop)) {
    multi_ = api_->multi_init();
    if (!multi_) throw std::runtime_error("libcurl: curl_multi_init failed");
    timer_->data = this;
    // Called inside libcurl's C code: nothing may be thrown through it.
    auto on_socket = [](CURL*, curl_socket_t fd, int what, void* self, void* watch) -> int {
        try {
            static_cast<HttpChecks*>(self)->on_socket(fd, what, static_cast<Watch*>(watch));
            return 0;
        } catch (const std::exception&) {
            return -1;  // libcurl fails the transfer
        }
    };
    // Called inside libcurl's own calls: only the timer is set here, and
    // libcurl is driven again from the loop.
    auto on_timer = [](CURLM*, long ms, void* self) -> int {
        auto* me = static_cast<HttpChecks*>(self);
        if (ms < 0) uv_timer_stop(me->timer_.get());
        else
            uv_timer_start(me->timer_.get(), [](uv_timer_t* t) {
                if (auto* c = uv::owner<HttpChecks>(t)) c->act(CURL_SOCKET_TIMEOUT, 0);
            }, static_cast<std::uint64_t>(ms), 0);
        return 0;
    };
    api_->multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, +on_socket);
    api_->multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    api_->multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, +on_timer);
    api_->multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

HttpChecks::~HttpChecks() {
    for (auto& [id, t] : transfers_) {
        api_->remove_handle(multi_, t.easy);
        api_->easy_cleanup(t.easy);
    }
    transfers_.clear();
    api_->multi_cleanup(multi_);
    watches_.clear();
}

void HttpChecks::on_socket(int fd, int what, Watch* w) {
    if (what == CURL_POLL_REMOVE) {
        watches_.erase(fd);
        return;
    }
    if (!w) {
        auto made = std::make_unique<Watch>();
        made->owner = this;
        made->fd = fd;
        made->poll = uv::make_poll(loop_, fd);
        made->poll->data = made.get();
        w = made.get();
        watches_[fd] = std::move(made);
        api_->assign(multi_, fd, w);  // handed back at each call for this socket
    }
    int want = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv::repoll(w->poll, w->events, want, [](uv_poll_t* h, int status, int events) {
        auto* watch = uv::owner<Watch>(h);
        if (!watch) return;
        int flags = status < 0 ? CURL_CSELECT_ERR
                               : (events & UV_READABLE ? CURL_CSELECT_IN : 0) | (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
        watch->owner->act(watch->fd, flags);
    });
}

void HttpChecks::act(int fd, int flags) {
    int running = 0;
    api_->socket_action(multi_, fd, flags, &running);
    finish_done();
}

void HttpChecks::finish_done() {
    int left = 0;
    while (CURLMsg* m = api_->info_read(multi_, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* easy = m->easy_handle;
        const CURLcode result = m->data.result;
        char* id_text = nullptr;
        api_->easy_getinfo(easy, CURLINFO_PRIVATE, &id_text);
        const auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(id_text));
        long code = 0;
        if (result == CURLE_OK) api_->easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        api_->remove_handle(multi_, easy);
        api_->easy_cleanup(easy);
        auto it = transfers_.find(id);
        if (it == transfers_.end()) continue;
        auto t = std::move(it->second);
        transfers_.erase(it);
        std::optional<std::string> failure;
        if (result == CURLE_OPERATION_TIMEDOUT)
            failure = "timed out after " + std::to_string(t.timeout_ms) + " ms";
        else if (result != CURLE_OK)
            failure = api_->easy_strerror(result);
        else if (code < 200 || code >= 400)
            failure = "HTTP " + std::to_string(code);
        if (t.done) t.done(std::move(failure));
    }
}

std::uint64_t HttpChecks::get(const std::string& url, std::uint64_t timeout_ms, Done done) {
    CURL* easy = api_->easy_init();
    if (!easy) throw std::runtime_error("libcurl: curl_easy_init failed");
    const auto id = next_id_++;
    api_->easy_setopt(easy, CURLOPT_URL, url.c_str());
    api_->easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
    api_->easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    // A probe asks the child itself: no proxy from our environment, no
    // redirect followed (a 3xx is an answer), plain HTTP(S) alone.
    api_->easy_setopt(easy, CURLOPT_NOPROXY, "*");
    api_->easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    api_->easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    api_->easy_setopt(easy, CURLOPT_USERAGENT, "seq-supervisor health probe");
    api_->easy_setopt(easy, CURLOPT_WRITEFUNCTION, &discard);
    api_->easy_setopt(easy, CURLOPT_PRIVATE, reinterpret_cast<char*>(static_cast<std::uintptr_t>(id)));
    transfers_[id] = {easy, timeout_ms, std::move(done)};
    if (api_->add_handle(multi_, easy) != CURLM_OK) {
        transfers_.erase(id);
        api_->easy_cleanup(easy);
        throw std::runtime_error("libcurl: curl_multi_add_handle failed");
    }
    return id;
}

void HttpChecks::cancel(std::uint64_t id) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return;
    void* easy = it->second.easy;
    transfers_.erase(it);
    api_->remove_handle(multi_, easy);
    api_->easy_cleanup(easy);
}

}  // namespace seq::sup
