#include "notify_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace seq::sup {

bool says(std::string_view message, std::string_view line) {
    while (!message.empty()) {
        auto nl = message.find('\n');
        if (message.substr(0, nl) == line) return true;
        if (nl == std::string_view::npos) break;
        message.remove_prefix(nl + 1);
    }
    return false;
}

NotifySocket::NotifySocket(uv_loop_t* loop, Handler handler) : handler_(std::move(handler)) {
    fd_ = Fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_) throw std::runtime_error(std::string("notify socket: ") + std::strerror(errno));
    // An abstract address needs no file and no run dir (a nested supervisor
    // has none); who may use it is settled by each sender's credentials.
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa_family_t)) < 0)
        throw std::runtime_error(std::string("notify socket: bind: ") + std::strerror(errno));
    int on = 1;
    if (setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
        throw std::runtime_error(std::string("notify socket: SO_PASSCRED: ") + std::strerror(errno));
    socklen_t len = sizeof sa;
    if (getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&sa), &len) < 0)
        throw std::runtime_error(std::string("notify socket: getsockname: ") + std::strerror(errno));
    // The abstract name: after the leading NUL, to the end of the address.
    std::size_t name_len = static_cast<std::size_t>(len) - offsetof(sockaddr_un, sun_path);
    if (name_len < 2 || name_len > sizeof sa.sun_path) throw std::runtime_error("notify socket: no abstract name");
    address_.assign(sa.sun_path, name_len);
    address_[0] = '@';
    poll_ = uv::make_poll(loop, fd_.get());
    poll_->data = this;
    uv::check(uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
        if (auto* self = uv::owner<NotifySocket>(h)) self->on_readable();
    }), "uv_poll_start(notify socket)");
}

void NotifySocket::on_readable() {
    // A bounded number per wakeup, so a flood of datagrams holds up nothing.
    for (int i = 0; i < 64; ++i) {
        char buf[4096];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(16 * sizeof(int))];
        iovec iov{buf, sizeof buf};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        auto n = recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
        if (n < 0) return;  // EAGAIN: all read
        pid_t sender = 0;
        for (auto* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET) continue;
            if (c->cmsg_type == SCM_CREDENTIALS) {
                ucred cred{};
                std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
                sender = cred.pid;
            } else if (c->cmsg_type == SCM_RIGHTS) {
                // Fds sent along (FDSTORE) are not kept: close them.
                auto count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (std::size_t k = 0; k < count; ++k) {
                    int fd;
                    std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
                    ::close(fd);
                }
            }
        }
        if (sender > 0 && !(msg.msg_flags & MSG_TRUNC)) handler_(sender, std::string_view(buf, static_cast<std::size_t>(n)));
    }
}

}  // namespace seq::sup
