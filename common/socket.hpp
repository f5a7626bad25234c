// Unix-domain sockets: listening, connecting, stale-socket detection, and
// sockets inherited through systemd's LISTEN_FDS convention.
#pragma once

#include <sys/socket.h>

#include <map>
#include <stdexcept>
#include <string>

#include "fd.hpp"

namespace seq {

// A failed system call, its message naming the thing it failed on.
struct SystemError : std::runtime_error {
    SystemError(const std::string& what, int err);
    int err;
};

// Binds and listens on `path` (mode 0600), non-blocking and close-on-exec.
// A socket file already there is removed only if nothing answers on it; if a
// live process does, this throws, naming the path.
Fd listen_unix(const std::string& path, int backlog = 1024);

// Connects to `path`; non-blocking if asked. Throws SystemError naming the path.
Fd connect_unix(const std::string& path, bool nonblocking);

// Connects to host:port over TCP (TCP_NODELAY), without blocking: sets
// `in_progress` while the connection is still being made (wait for the
// socket to be writable, then read SO_ERROR). Throws naming host:port.
Fd connect_tcp(const std::string& host, int port, bool& in_progress);

// The listening sockets handed to this process by its parent (LISTEN_FDS,
// LISTEN_PID, LISTEN_FDNAMES), by name. The variables are removed from the
// environment so that they are not passed on, and the fds made close-on-exec.
// Call it before opening anything: an fd it names that is not an open socket
// is skipped (and logged), but one opened meanwhile would be taken.
std::map<std::string, int> inherited_listen_fds();

// $SEQUENCE_RUN_DIR, else $XDG_RUNTIME_DIR/sequence, else /tmp/sequence-$UID.
std::string default_run_dir();

void set_nonblocking(int fd);

// "127.0.0.1:8080", "[::1]:8080": an IPv4 or IPv6 address with its port.
std::string format_address(const sockaddr* sa);

// Where the listening socket `fd` is bound: HOST:PORT for TCP (the port the
// kernel picked, for port 0), the file's path for a Unix socket; "" if it
// cannot be told.
std::string bound_address(int fd);

}  // namespace seq
