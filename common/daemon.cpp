#include "daemon.hpp"

#include <csignal>
#include <stdexcept>
#include <unistd.h>

#include "socket.hpp"

namespace seq {

Listener::Listener(const std::string& name, const std::string& path) {
    auto inherited = inherited_listen_fds();
    if (auto it = inherited.find(name); it != inherited.end()) {
        fd_ = Fd(it->second);
        set_nonblocking(fd_.get());
        describe_ = "inherited socket '" + name + "' (fd " + std::to_string(fd_.get()) + ")";
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

void notify_ready(int fd) {
    if (fd < 0) return;
    [[maybe_unused]] auto n = ::write(fd, "\n", 1);
    ::close(fd);
}

StopSignals::StopSignals(uv_loop_t* loop, std::function<void(int)> stop)
    : stop_(std::move(stop)), term_(uv::make_signal(loop)), int_(uv::make_signal(loop)) {
    std::signal(SIGPIPE, SIG_IGN);
    term_->data = this;
    int_->data = this;
    uv::check(uv_signal_start(term_.get(), on_signal, SIGTERM), "uv_signal_start");
    uv::check(uv_signal_start(int_.get(), on_signal, SIGINT), "uv_signal_start");
}

void StopSignals::on_signal(uv_signal_t* h, int signum) {
    if (auto* self = uv::owner<StopSignals>(h)) self->stop_(signum);
}

}  // namespace seq
