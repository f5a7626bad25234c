#include "held_sockets.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>

#include "listen_address.hpp"
#include "log.hpp"
#include "process.hpp"
#include "socket.hpp"

namespace seq::sup {

namespace {

// The inodes of the sockets listening on TCP `port` in our network
// namespace, from /proc/net/tcp and tcp6 (local address HEX:PORT, state 0A).
std::set<std::string> listening_inodes(unsigned port) {
    std::set<std::string> inodes;
    char want[8];
    std::snprintf(want, sizeof want, ":%04X", port);
    for (auto* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        auto text = read_proc(file);
        std::size_t at = text.find('\n');  // past the header
        while (at != std::string::npos && at + 1 < text.size()) {
            auto end = text.find('\n', at + 1);
            auto line = text.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
            at = end;
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            char local[64], state[8];
            unsigned long inode = 0;
            if (std::sscanf(line.c_str(), "%*s %63s %*s %7s %*s %*s %*s %*s %*s %lu", local, state, &inode) != 3)
                continue;
            std::string l = local;
            if (std::strcmp(state, "0A") == 0 && l.ends_with(want) && inode != 0) inodes.insert(std::to_string(inode));
        }
    }
    return inodes;
}

// "pid 123 (python3)" for the first process we may look into that holds
// one of `inodes`; "" if none can be told.
std::string holder(const std::set<std::string>& inodes) {
    if (inodes.empty()) return "";
    std::unique_ptr<DIR, int (*)(DIR*)> proc(opendir("/proc"), closedir);
    if (!proc) return "";
    while (auto* e = readdir(proc.get())) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        std::string base = std::string("/proc/") + e->d_name;
        std::unique_ptr<DIR, int (*)(DIR*)> fds(opendir((base + "/fd").c_str()), closedir);
        if (!fds) continue;  // not ours to look into
        while (auto* f = readdir(fds.get())) {
            char link[64];
            auto n = readlinkat(dirfd(fds.get()), f->d_name, link, sizeof link - 1);
            if (n <= 8) continue;
            link[n] = '\0';
            std::string_view l(link, static_cast<std::size_t>(n));
            if (!l.starts_with("socket:[")) continue;
            if (!inodes.count(std::string(l.substr(8, l.size() - 9)))) continue;
            pid_t pid = std::atoi(e->d_name);
            return "pid " + std::to_string(pid) + " (" + process_name(pid) + ")";
        }
    }
    return "";
}

std::string port_of(const std::string& listen) { return listen.substr(listen.rfind(':') + 1); }

// A Unix socket's file given its owner, group and mode, found by an fd
// that follows no symlink and must be the very file we bound (a child that
// may write its folder could have put something else there). Closed to
// 0600 first, then its owner and group, then its mode: never open, for a
// moment, to a group or mode it is leaving.
void set_access(const std::string& path, const FileId& bound, const SocketSpec& s) {
    auto what = "socket '" + s.name + "' (" + path + ")";
    Fd f(open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st{};
    if (!f || fstat(f.get(), &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_dev != bound.dev || st.st_ino != bound.ino)
        throw std::runtime_error(what + ": no longer the socket bound there; its mode, owner and group are unchanged");
    auto self = "/proc/self/fd/" + std::to_string(f.get());
    if (chmod(self.c_str(), 0600) < 0) throw SystemError(what + ": chmod", errno);
    if ((s.uid || s.gid) && fchownat(f.get(), "", s.uid ? *s.uid : static_cast<uid_t>(-1),
                                     s.gid ? *s.gid : static_cast<gid_t>(-1), AT_EMPTY_PATH) < 0)
        throw SystemError(what + ": chown", errno);
    if (chmod(self.c_str(), s.mode) < 0) throw SystemError(what + ": chmod", errno);
}

FileId id_of(const std::string& path) {
    struct stat st{};
    if (lstat(path.c_str(), &st) < 0) throw SystemError("stat " + path, errno);
    return {st.st_dev, st.st_ino};
}

// A change of access on a reload: said if it fails, and the rest goes on
// (the binds are all done; nothing is to be undone).
template <class F>
void or_log(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        log("%s", e.what());
    }
}

}  // namespace

HeldSocket::~HeldSocket() {
    if (!unlink.empty()) ::unlink(unlink.c_str());
}

Fd listen_tcp(const SocketSpec& s) {
    std::string why;
    auto a = parse_listen_address(s.listen, why);
    const std::string what = "socket '" + s.name + "' (" + s.listen + ")";
    if (!a) throw std::runtime_error(what + ": " + why);
    Fd fd(socket(a->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw SystemError(what + ": socket", errno);
    int on = 1;
    if (s.reuse_address && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
        throw SystemError(what + ": SO_REUSEADDR", errno);
    if (a->family() == AF_INET6) {
        int v6only = s.ipv6_only ? 1 : 0;
        if (setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
            throw SystemError(what + ": IPV6_V6ONLY", errno);
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a->addr), a->len) < 0) {
        int err = errno;
        std::string msg = what + ": binding: " + std::strerror(err);
        if (err == EADDRINUSE) {
            auto port = static_cast<unsigned>(std::stoul(port_of(s.listen)));
            auto who = holder(listening_inodes(port));
            msg += who.empty() ? " (held by a process this user cannot see, or one not listening yet)"
                               : " (held by " + who + ")";
        }
        throw std::runtime_error(msg);
    }
    if (listen(fd.get(), s.backlog) < 0) throw SystemError(what + ": listening", errno);
    return fd;
}

std::unique_ptr<HeldSocket> HeldSockets::control(const Tree& tree) {
    auto s = control_socket_spec(tree, dir_.file("control.sock"));
    auto held = take_or_bind(s, s.path);
    if (!held->unlink.empty()) control_ = {s, held->id};  // bound here: ours to open to control_group, and close again
    return held;
}

Environment HeldSockets::bind(const Tree& tree) {
    std::map<std::string, std::shared_ptr<HeldSocket>> next;
    Environment env;
    // Each socket as bound: a relative Unix path put in the run dir.
    auto wanted = sockets_of(tree.root);
    for (auto& s : wanted)
        if (!s.tcp() && !s.path.starts_with("/")) s.path = dir_.file(s.path);
    for (auto& s : wanted) {
        auto where = s.where();
        std::shared_ptr<HeldSocket> held;
        if (auto it = bound_.find(where); it != bound_.end()) {
            held = it->second;
            // An option set at bind cannot change without a new bind, which
            // the socket held at that address would refuse.
            if (s.tcp() && held->spec.ipv6_only != s.ipv6_only)
                throw std::runtime_error("socket '" + s.name + "' (" + s.listen +
                                         "): ipv6_only cannot change while the socket is held; stop the tree and "
                                         "start it again to rebind it");
        } else {
            held = take_or_bind(s, s.tcp() ? "" : s.path);
        }
        next[where] = held;
        env.sockets[s.name] = held->fd.get();
        if (s.name == tree.stash) env.stash = s.path;
    }
    env.crash_loop_restarts = tree.crash_loop_restarts;
    env.crash_loop_seconds = tree.crash_loop_seconds;
    env.on_event = tree.on_event;
    or_log([&] { dir_.allow(run_dir_access(tree)); });
    if (control_) {
        auto s = control_socket_spec(tree, control_->first.path);
        if (!s.same_access(control_->first))
            or_log([&] { set_access(s.path, control_->second, s), control_->first = s; });
    }
    // Only now, with every bind done, are the changes made: a backlog
    // changed in place (listen again), those no longer named closed and
    // removed; a child still running holds its own copy until it stops.
    for (auto& s : wanted) {
        auto& held = next[s.where()];
        if (held->spec.backlog != s.backlog) listen(held->fd.get(), s.backlog);
        if (!held->unlink.empty() && !s.same_access(held->spec)) or_log([&] { set_access(held->unlink, held->id, s); });
        held->spec = s;
    }
    bound_ = std::move(next);
    return env;
}

void HeldSockets::close_unclaimed() {
    for (auto& [name, fd] : inherited_) {
        log("socket '%s': inherited (fd %d), but the tree has no socket of that name; closing it", name.c_str(), fd);
        close(fd);
    }
    inherited_.clear();
}

std::unique_ptr<HeldSocket> HeldSockets::take_or_bind(const SocketSpec& s, const std::string& path) {
    auto it = inherited_.find(s.name);
    if (it == inherited_.end()) {
        if (s.tcp()) return std::make_unique<HeldSocket>(listen_tcp(s), "", s);
        auto held = std::make_unique<HeldSocket>(listen_unix(path, s.backlog), path, s);
        held->id = id_of(path);
        set_access(path, held->id, s);
        return held;
    }
    set_nonblocking(it->second);
    auto held = std::make_unique<HeldSocket>(Fd(it->second), "", s);
    inherited_.erase(it);  // taken: a reload that drops it closes it for good
    log("socket '%s': inherited (fd %d), not bound here", s.name.c_str(), held->fd.get());
    return held;
}

}  // namespace seq::sup
