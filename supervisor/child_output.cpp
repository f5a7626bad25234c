#include "child_output.hpp"

#include <unistd.h>

#include <cerrno>

#include "log.hpp"

namespace seq::sup {

ChildOutput::ChildOutput(uv_loop_t* loop, Fd read_end, std::string who, pid_t pid, Sinks sinks)
    : fd_(std::move(read_end)),
      poll_(uv::make_poll(loop, fd_.get())),
      who_(std::move(who)),
      pid_(pid),
      sinks_(std::move(sinks)) {
    poll_->data = this;
    uv::check(uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
        auto* self = uv::owner<ChildOutput>(h);
        if (self && !self->read_some(read_budget)) {
            // End of file: every writer is gone (the child and whatever
            // inherited its stderr). Its death, not this, ends its life.
            self->lines_.finish([self](std::string_view l) { self->log_piece(l); });
            if (self->sinks_.file) self->sinks_.file->flush();
            self->poll_.close();
        }
    }), "uv_poll_start(child output)");
}

bool ChildOutput::read_some(std::size_t budget) {
    char buf[16 << 10];
    while (budget > 0) {
        auto n = ::read(fd_.get(), buf, sizeof buf < budget ? sizeof buf : budget);
        if (n > 0) {
            lines_.feed(std::string_view(buf, static_cast<std::size_t>(n)),
                        [this](std::string_view l) { log_piece(l); });
            budget -= static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        bool more = n < 0 && errno == EAGAIN;  // 0: end of file; another error: nothing more to read
        if (sinks_.file) sinks_.file->flush();
        return more;
    }
    if (sinks_.file) sinks_.file->flush();  // one write for what this wakeup read
    return true;
}

void ChildOutput::finish() {
    // What the child wrote before it died is all in the pipe by now; a
    // process it left behind that keeps writing is not waited for.
    read_some(1 << 20);
    lines_.finish([this](std::string_view l) { log_piece(l); });
    if (sinks_.file) sinks_.file->flush();
    poll_.close();
    fd_.reset();
}

void ChildOutput::log_piece(std::string_view line) {
    if (sinks_.to_stderr) log_line(who_, pid_, line);
    // One clock read a line: the file and the memory say the same time.
    auto now = wall_now_ms();
    if (sinks_.file) {
        if (now != stamp_ms_ || stamp_.empty()) {
            stamp_ms_ = now;
            stamp_ = rfc3339(now);
        }
        sinks_.file->add(stamp_, sinks_.stream, who_, pid_, line);
    }
    if (sinks_.keep) sinks_.keep(now, line);
}

}  // namespace seq::sup
