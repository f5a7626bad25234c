#include "socket.hpp"

#include "log.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "resp.hpp"

namespace seq {

SystemError::SystemError(const std::string& what, int e) : std::runtime_error(what + ": " + std::strerror(e)), err(e) {}

namespace {

sockaddr_un make_addr(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        throw std::runtime_error("socket path " + path + ": must be 1 to " + std::to_string(sizeof addr.sun_path - 1) +
                                 " bytes long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

// Whether a process answers on the socket file at `path`.
bool answers(const std::string& path) {
    try {
        connect_unix(path, false);
        return true;
    } catch (const SystemError& e) {
        if (e.err == ECONNREFUSED) return false;
        throw;
    }
}

}  // namespace

void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw SystemError("fcntl", errno);
}

Fd listen_unix(const std::string& path, int backlog) {
    auto addr = make_addr(path);
    struct stat st{};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(path + " exists and is not a socket; not removing it");
        if (answers(path)) throw std::runtime_error("another process is already serving on " + path);
        if (unlink(path.c_str()) < 0 && errno != ENOENT) throw SystemError("removing stale socket " + path, errno);
    }
    Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw SystemError("socket", errno);
    // The mode is set at bind by the umask: a chmod afterwards would leave a
    // moment in which the socket is open to others.
    mode_t old = umask(0177);
    int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int err = errno;
    umask(old);
    if (rc < 0) throw SystemError("binding " + path, err);
    if (listen(fd.get(), backlog) < 0) throw SystemError("listening on " + path, errno);
    return fd;
}

Fd connect_unix(const std::string& path, bool nonblocking) {
    auto addr = make_addr(path);
    Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
    if (!fd) throw SystemError("socket", errno);
    int rc;
    do rc = connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) throw SystemError("connecting to " + path, errno);
    return fd;
}

Fd connect_tcp(const std::string& host, int port, bool& in_progress) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    auto where = host + ":" + std::to_string(port);
    if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
        throw std::runtime_error("resolving " + where + ": " + gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
    int err = 0;
    for (auto* ai = found; ai; ai = ai->ai_next) {
        Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
        if (!fd) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int rc;
        do rc = connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
        while (rc < 0 && errno == EINTR);
        if (rc == 0 || errno == EINPROGRESS) {
            in_progress = rc != 0;
            return fd;
        }
        err = errno;
    }
    throw SystemError("connecting to " + where, err);
}

std::map<std::string, int> inherited_listen_fds() {
    std::map<std::string, int> fds;
    const char* pid = std::getenv("LISTEN_PID");
    const char* count = std::getenv("LISTEN_FDS");
    const char* names = std::getenv("LISTEN_FDNAMES");
    if (pid && count) {
        auto p = resp::parse_int(pid);
        auto n = resp::parse_int(count);
        if (p && n && *p == getpid() && *n > 0 && *n < 64) {
            std::string all = names ? names : "";
            std::size_t start = 0;
            for (int i = 0; i < *n; ++i) {
                auto end = all.find(':', start);
                std::string name = start <= all.size() ? all.substr(start, end - start) : "";
                start = end == std::string::npos ? all.size() + 1 : end + 1;
                int fd = 3 + i;
                // One that is not open, or not a socket, is not ours to
                // take: its number may be anyone's we open later.
                struct stat st{};
                if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                    log("LISTEN_FDS: fd %d ('%s') is not an open socket; ignoring it", fd, name.c_str());
                    continue;
                }
                fcntl(fd, F_SETFD, FD_CLOEXEC);
                fds[name.empty() ? "unknown" : name] = fd;
            }
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return fds;
}

std::string default_run_dir() {
    if (const char* d = std::getenv("SEQUENCE_RUN_DIR"); d && *d) return d;
    if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/sequence";
    return "/tmp/sequence-" + std::to_string(getuid());
}

std::string format_address(const sockaddr* sa) {
    char host[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET) {
        auto* in4 = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(in4->sin_port));
    }
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    std::string out = "[";  // appended: g++ 12 at -O3 sees an overlap in "[" + std::string (GCC bug 105329)
    out += host;
    out += "]:";
    out += std::to_string(ntohs(in6->sin6_port));
    return out;
}


std::string bound_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return "";
    switch (ss.ss_family) {
    case AF_INET:
    case AF_INET6: return format_address(reinterpret_cast<const sockaddr*>(&ss));
    case AF_UNIX: {
        auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
        auto n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
        return std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    default: return "";
    }
}

}  // namespace seq
