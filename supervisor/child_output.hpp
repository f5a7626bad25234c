// A child's stdout and stderr, read from a pipe and logged line by line
// under the child's name and pid. Bounded: a line longer than max_line is
// logged in pieces, and one wakeup reads at most read_budget bytes, so a
// child that floods its output never holds up the supervisor's other work.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "child_log.hpp"
#include "fd.hpp"
#include "log_file.hpp"
#include "uv.hpp"

namespace seq::sup {

// Cuts a byte stream into lines (without their "\n", and a "\r" before it),
// none longer than `max` bytes.
class LineSplitter {
public:
    explicit LineSplitter(std::size_t max) : max_(max) {}
    template <class Emit>
    void feed(std::string_view data, Emit&& emit) {
        while (!data.empty()) {
            auto nl = data.find('\n');
            auto piece = nl == std::string_view::npos ? data : data.substr(0, nl);
            auto room = max_ - partial_.size();
            if (piece.size() > room) {  // too long: out goes a piece of max_ bytes
                partial_.append(piece.substr(0, room));
                emit(std::string_view(partial_));
                partial_.clear();
                data.remove_prefix(room);
                continue;
            }
            partial_.append(piece);
            if (nl == std::string_view::npos) return;
            if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
            emit(std::string_view(partial_));
            partial_.clear();
            data.remove_prefix(nl + 1);
        }
    }
    // The last line, if it had no newline.
    template <class Emit>
    void finish(Emit&& emit) {
        if (!partial_.empty()) emit(std::string_view(partial_));
        partial_.clear();
    }

private:
    std::size_t max_;
    std::string partial_;
};

class ChildOutput {
public:
    static constexpr std::size_t max_line = 900;  // fits one log line with its stamp
    static constexpr std::size_t read_budget = 64 << 10;

    // Where each line goes: the supervisor's stderr unless to_stderr is
    // false, the child's log file if it has one, and `keep` (what the
    // supervisor keeps of it, RecentLines).
    using Keep = std::function<void(std::uint64_t wall_ms, std::string_view line)>;
    struct Sinks {
        Stream stream = Stream::out;
        bool to_stderr = true;
        std::shared_ptr<LogFile> file;
        Keep keep;
    };
    ChildOutput(uv_loop_t* loop, Fd read_end, std::string who, pid_t pid, Sinks sinks);
    // Reads what the pipe still holds (the child is dead), logs it, and stops.
    void finish();

private:
    // Reads up to `budget` bytes; false once the pipe is at its end.
    bool read_some(std::size_t budget);
    void log_piece(std::string_view line);

    Fd fd_;
    uv::Poll poll_;
    LineSplitter lines_{max_line};
    std::string who_;
    pid_t pid_;
    Sinks sinks_;
    // The file's time stamp, made again only when the millisecond changes.
    std::uint64_t stamp_ms_ = 0;
    std::string stamp_;
};

}  // namespace seq::sup
