#include "exec_watch.hpp"

#include <poll.h>

#include "process.hpp"

namespace seq::sup {

ExecWatch::ExecWatch(uv_loop_t* loop, Fd status, std::string program, std::string cwd)
    : fd_(std::move(status)), poll_(uv::make_poll(loop, fd_.get())), program_(std::move(program)),
      cwd_(std::move(cwd)) {
    poll_->data = this;
    uv::check(uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
        if (auto* self = uv::owner<ExecWatch>(h)) self->read();
    }), "uv_poll_start(exec status)");
}

void ExecWatch::read() {
    if (!fd_) return;
    failure_ = read_exec_failure(fd_.get(), program_, cwd_);
    // Readable means done: the end of the pipe (the exec went through), or
    // the report, the last thing the child writes.
    poll_.close();
    fd_.reset();
}

const std::optional<std::string>& ExecWatch::failure() {
    // Only once the pipe says (its end, or the report): asked before the
    // exec (a spawn that forks rather than vforks), a read would close it,
    // and the child would die of SIGPIPE writing why its exec failed.
    pollfd p{fd_.get(), POLLIN, 0};
    if (fd_ && ::poll(&p, 1, 0) > 0) read();
    return failure_;
}

}  // namespace seq::sup
