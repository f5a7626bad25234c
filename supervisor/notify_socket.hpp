// systemd's notification protocol, the receiving end: a datagram socket
// whose address children find in $NOTIFY_SOCKET, carrying "KEY=VALUE" lines
// ("READY=1"). The kernel vouches for each sender's pid (SCM_CREDENTIALS),
// so a message counts only for the child it comes from. One per supervisor
// process, made when a child first needs it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "fd.hpp"
#include "uv.hpp"

namespace seq::sup {

// Whether a notification has the line `line` ("READY=1", "WATCHDOG=1"), exactly.
bool says(std::string_view message, std::string_view line);
inline bool says_ready(std::string_view message) { return says(message, "READY=1"); }

class NotifySocket {
public:
    using Handler = std::function<void(pid_t sender, std::string_view message)>;
    // Binds an abstract address of the kernel's choosing. Throws if it cannot.
    NotifySocket(uv_loop_t* loop, Handler handler);
    // For $NOTIFY_SOCKET: "@" and the abstract name.
    const std::string& address() const { return address_; }

private:
    void on_readable();

    Fd fd_;
    uv::Poll poll_;
    Handler handler_;
    std::string address_;
};

}  // namespace seq::sup
