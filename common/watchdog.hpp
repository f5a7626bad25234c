// The child's side of systemd's watchdog protocol: when its supervisor set
// WATCHDOG_USEC (and WATCHDOG_PID names this process) and NOTIFY_SOCKET, send
// "WATCHDOG=1" there every half interval, from the event loop itself, so a
// loop that is stuck (or a process that is stopped) stops proving it lives.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fd.hpp"
#include "uv.hpp"

namespace seq {

// One datagram to a $NOTIFY_SOCKET address ("/path" or "@abstract").
bool notify_send(int fd, const std::string& address, std::string_view message);

// Our own service manager (systemd, or a supervisor speaking its protocol),
// if $NOTIFY_SOCKET names one: READY=1, STOPPING=1, ...; a no-op otherwise.
class ServiceManager {
public:
    ServiceManager();
    explicit operator bool() const { return static_cast<bool>(fd_); }
    void notify(std::string_view message);

private:
    Fd fd_;
    std::string address_;
};

class WatchdogPing {
public:
    explicit WatchdogPing(uv_loop_t* loop);
    // The interval asked for, in ms; 0 when there is no watchdog.
    std::uint64_t interval_ms() const { return interval_ms_; }

private:
    void ping();

    Fd fd_;
    std::string address_;
    std::uint64_t interval_ms_ = 0;
    uv::Timer timer_;
};

}  // namespace seq
