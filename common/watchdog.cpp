#include "watchdog.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "log.hpp"
#include "resp.hpp"

namespace seq {

bool notify_send(int fd, const std::string& address, std::string_view message) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (address.size() < 2 || address.size() >= sizeof sa.sun_path || (address[0] != '/' && address[0] != '@'))
        return false;
    std::memcpy(sa.sun_path, address.data(), address.size());
    if (address[0] == '@') sa.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (address[0] == '/' ? 1 : 0));
    return sendto(fd, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa),
                  len) == static_cast<ssize_t>(message.size());
}

ServiceManager::ServiceManager() {
    const char* address = std::getenv("NOTIFY_SOCKET");
    if (!address || !*address) return;
    address_ = address;
    fd_ = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
}

void ServiceManager::notify(std::string_view message) {
    if (fd_ && !notify_send(fd_.get(), address_, message))
        log("cannot notify the service manager at %s: %s", address_.c_str(), std::strerror(errno));
}

WatchdogPing::WatchdogPing(uv_loop_t* loop) {
    const char* usec = std::getenv("WATCHDOG_USEC");
    const char* pid = std::getenv("WATCHDOG_PID");
    const char* socket_env = std::getenv("NOTIFY_SOCKET");
    std::int64_t interval = 0;
    if (auto v = usec ? resp::parse_int(usec) : std::nullopt) interval = *v;
    std::int64_t for_pid = getpid();
    if (auto v = pid ? resp::parse_int(pid) : std::nullopt) for_pid = *v;
    else if (pid) for_pid = 0;  // garbled: not for us
    if (interval <= 0 || !socket_env || for_pid != getpid()) return;
    address_ = socket_env;
    fd_ = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_) return;
    interval_ms_ = static_cast<std::uint64_t>(interval) / 1000;
    // Twice per interval, as sd_watchdog_enabled(3) advises: one late wakeup
    // is not yet a missed deadline.
    auto every = interval_ms_ / 2 > 0 ? interval_ms_ / 2 : 1;
    timer_ = uv::make_timer(loop);
    timer_->data = this;
    uv_timer_start(timer_.get(), [](uv_timer_t* t) {
        if (auto* self = uv::owner<WatchdogPing>(t)) self->ping();
    }, 0, every);
    // Not for whatever this process might start.
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

// A datagram that cannot go (a full queue, a gone socket) is not retried:
// the supervisor's deadline says what that means.
void WatchdogPing::ping() { notify_send(fd_.get(), address_, "WATCHDOG=1"); }

}  // namespace seq
