#include "daemon.hpp"

#include <csignal>
#include <cstring>
#include <stdexcept>
#include <unistd.h>

#include "log.hpp"
#include "socket.hpp"

namespace seq {

Listener::Listener(const std::string& name, const std::string& path) {
    auto inherited = inherited_listen_fds();
    auto it = inherited.find(name);
    // One socket under another name (a tree with several workers names each
    // its own): that one is ours.
    if (it == inherited.end() && inherited.size() == 1) it = inherited.begin();
    if (it != inherited.end()) {
        fd_ = Fd(it->second);
        set_nonblocking(fd_.get());
        describe_ = "inherited socket '" + it->first + "' (fd " + std::to_string(fd_.get()) + ")";
        return;
    }
    if (path.empty()) throw std::invalid_argument("no --socket given and no socket '" + name + "' inherited");
    fd_ = listen_unix(path);
    unlink_ = path;
    describe_ = path;
}

Listener::~Listener() {
    if (!unlink_.empty()) ::unlink(unlink_.c_str());
}

std::optional<int> open_listener(std::optional<Listener>& out, const std::string& name, const std::string& path) {
    try {
        out.emplace(name, path);
    } catch (const std::invalid_argument& e) {
        log("%s", e.what());
        return exit_code::usage;
    } catch (const std::exception& e) {
        log("cannot listen: %s", e.what());
        return exit_code::socket;
    }
    return std::nullopt;
}

void notify_ready(int fd) {
    if (fd < 0) return;
    [[maybe_unused]] auto n = ::write(fd, "\n", 1);
    ::close(fd);
}

std::string signal_name(int sig) {
    if (const char* abbrev = sigabbrev_np(sig)) return std::string("SIG") + abbrev;
    return "signal " + std::to_string(sig);
}

StopSignals::StopSignals(uv_loop_t* loop, std::function<void(int)> stop) : stop_(std::move(stop)) {
    std::signal(SIGPIPE, SIG_IGN);
    // SIGHUP too: a closed terminal should stop the tree in order, not leave
    // its sockets and lock behind.
    for (int signum : {SIGTERM, SIGINT, SIGHUP}) {
        auto& h = handles_.emplace_back(uv::make_signal(loop));
        h->data = this;
        uv::check(uv_signal_start(h.get(), on_signal, signum), "uv_signal_start");
    }
}

void StopSignals::on_signal(uv_signal_t* h, int signum) {
    if (auto* self = uv::owner<StopSignals>(h)) self->stop_(signum);
}

}  // namespace seq
