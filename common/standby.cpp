#include "standby.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "resp.hpp"
#include "socket.hpp"

namespace seq::standby {

namespace {
constexpr std::size_t max_sockets = 16;
}

std::optional<int> inherited_fd() {
    const char* v = std::getenv("SEQ_STANDBY_FD");
    std::optional<int> fd;
    if (v) {
        if (auto n = resp::parse_int(v); n && *n >= 3 && *n < 1024 && fcntl(static_cast<int>(*n), F_GETFD) >= 0) {
            fd = static_cast<int>(*n);
            fcntl(*fd, F_SETFD, FD_CLOEXEC);
        }
        unsetenv("SEQ_STANDBY_FD");
    }
    return fd;
}

std::optional<Fd> watch_active() {
    const char* v = std::getenv("SEQ_STANDBY_FOR");
    std::optional<Fd> fd;
    if (v) {
        if (auto pid = resp::parse_int(v); pid && *pid > 1 && *pid <= std::numeric_limits<pid_t>::max())
            if (int f = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(*pid), 0)); f >= 0)
                fd.emplace(f);  // close-on-exec, as every pidfd
        unsetenv("SEQ_STANDBY_FOR");
    }
    return fd;
}

void say_idle(int notify_fd) {
    if (notify_fd < 0) return;
    [[maybe_unused]] auto n = ::write(notify_fd, "standby\n", 8);
}

std::optional<std::map<std::string, Fd>> receive(int fd) {
    char names[1024];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_sockets)];
    iovec iov{names, sizeof names};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return std::nullopt;
    std::vector<Fd> fds;
    for (auto* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        auto count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int got;
            std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            fds.emplace_back(got);
        }
    }
    std::map<std::string, Fd> sockets;
    std::string all(names, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto& f : fds) {
        auto end = all.find(':', start);
        auto name = all.substr(start, end == std::string::npos ? std::string::npos : end - start);
        start = end == std::string::npos ? all.size() : end + 1;
        set_nonblocking(f.get());
        sockets[name.empty() ? "unknown" : name] = std::move(f);
    }
    if (sockets.empty()) return std::nullopt;
    return sockets;
}

void activate(int fd, const std::vector<std::pair<std::string, int>>& sockets) {
    if (sockets.empty() || sockets.size() > max_sockets) throw std::invalid_argument("a standby takes 1 to 16 sockets");
    std::string names;
    for (auto& [name, s] : sockets) names += (names.empty() ? "" : ":") + name;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_sockets)]{};
    iovec iov{names.data(), names.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * sockets.size());
    auto* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * sockets.size());
    for (std::size_t i = 0; i < sockets.size(); ++i)
        std::memcpy(CMSG_DATA(c) + i * sizeof(int), &sockets[i].second, sizeof(int));
    ssize_t n;
    do n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) throw SystemError("activating a standby", errno);
}

}  // namespace seq::standby
