// RAII for libuv: a handle's memory is freed only in uv_close's callback,
// so no callback can ever see freed memory, and no owner can forget to close.
#pragma once

#include <uv.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace seq::uv {

inline void check(int rc, const char* what) {
    if (rc < 0) throw std::runtime_error(std::string(what) + ": " + uv_strerror(rc));
}

// Owns one uv handle of type T, initialised by `init(loop, handle, args...)`.
// The handle's `data` points at whatever the owner sets; it is cleared on
// close, so a late callback finds no owner rather than a dead one.
template <class T>
class Handle {
public:
    Handle() = default;
    template <class Init, class... Args>
    Handle(uv_loop_t* loop, Init init, Args... args) : h_(std::make_unique<T>()) {
        check(init(loop, h_.get(), args...), "uv handle init");
    }
    Handle(Handle&&) noexcept = default;
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            close();
            h_ = std::move(o.h_);
        }
        return *this;
    }
    ~Handle() { close(); }

    T* get() const { return h_.get(); }
    T* operator->() const { return h_.get(); }
    uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(h_.get()); }
    explicit operator bool() const { return h_ != nullptr; }

    void close() {
        if (!h_) return;
        auto* h = reinterpret_cast<uv_handle_t*>(h_.release());
        h->data = nullptr;
        uv_close(h, [](uv_handle_t* p) { std::unique_ptr<T>(reinterpret_cast<T*>(p)); });
    }

private:
    std::unique_ptr<T> h_;
};

using Poll = Handle<uv_poll_t>;
using Timer = Handle<uv_timer_t>;
using Signal = Handle<uv_signal_t>;
using Check = Handle<uv_check_t>;
using Prepare = Handle<uv_prepare_t>;

inline Poll make_poll(uv_loop_t* loop, int fd) { return Poll(loop, uv_poll_init, fd); }
inline Timer make_timer(uv_loop_t* loop) { return Timer(loop, uv_timer_init); }
inline Signal make_signal(uv_loop_t* loop) { return Signal(loop, uv_signal_init); }
inline Check make_check(uv_loop_t* loop) { return Check(loop, uv_check_init); }
inline Prepare make_prepare(uv_loop_t* loop) { return Prepare(loop, uv_prepare_init); }

// Points `poll` at the events `want` (none: stopped). `events` is what it was
// last pointed at, so that an unchanged wish costs nothing.
inline void repoll(Poll& poll, int& events, int want, uv_poll_cb cb) {
    if (want == events) return;
    events = want;
    if (want == 0) {
        uv_poll_stop(poll.get());
        return;
    }
    uv_poll_start(poll.get(), want, cb);
}

// The owner of a handle, from inside its callback (null once closed).
template <class Owner, class H>
Owner* owner(H* h) {
    return static_cast<Owner*>(h->data);
}

// The event loop. Its destructor first lets pending close callbacks run, so
// every handle's memory is returned before the loop itself goes.
class Loop {
public:
    Loop() { check(uv_loop_init(&loop_), "uv_loop_init"); }
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    ~Loop() {
        uv_run(&loop_, UV_RUN_DEFAULT);
        uv_loop_close(&loop_);
    }
    uv_loop_t* get() { return &loop_; }
    int run() { return uv_run(&loop_, UV_RUN_DEFAULT); }
    void stop() { uv_stop(&loop_); }
    // Milliseconds of the loop's cached monotonic clock.
    std::uint64_t now() { return uv_now(&loop_); }

private:
    uv_loop_t loop_{};
};

}  // namespace seq::uv
