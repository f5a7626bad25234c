#include "log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "log.hpp"

namespace seq::sup {

LogFile::LogFile(std::string path, std::uint64_t max_size, unsigned keep)
    : path_(std::move(path)), max_size_(max_size), keep_(keep) {
    open();
}

bool LogFile::open() {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    // Not for every user to read: a child's output may hold what is private.
    fd_ = Fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640));
    if (!fd_) {
        if (error_ == 0) {
            error_ = errno;
            log("log file %s: cannot open it: %s; its lines are dropped (and counted) until it opens",
                path_.c_str(), std::strerror(error_));
            dropped_at_fail_ = dropped_;
            if (on_state) on_state();
        }
        return false;
    }
    struct stat st{};
    size_ = fstat(fd_.get(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    return true;
}

void LogFile::add(std::string_view stamp, Stream stream, std::string_view who, pid_t pid, std::string_view text) {
    char id[24];
    int idn = std::snprintf(id, sizeof id, "[%d] ", static_cast<int>(pid));
    std::size_t len = stamp.size() + 5 + who.size() + static_cast<std::size_t>(idn) + text.size() + 1;
    // Rotated at a line's edge: what was before it is written to the old file first.
    if (size_ + buf_.size() > 0 && size_ + buf_.size() + len > max_size_) {
        flush();
        rotate();
    }
    buf_.reserve(buf_.size() + len);
    buf_ += stamp;
    buf_ += stream == Stream::err ? " err " : " out ";
    buf_ += who;
    buf_.append(id, static_cast<std::size_t>(idn));
    buf_ += text;
    buf_ += '\n';
    if (buf_.size() >= buffer_max) flush();
}

void LogFile::flush() {
    if (buf_.empty()) return;
    auto lines = [](std::string_view s) { return static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n')); };
    if (!fd_ && !open()) {
        dropped_ += lines(buf_);
        buf_.clear();
        return;
    }
    std::size_t done = 0;
    int err = 0;
    while (done < buf_.size()) {
        auto n = ::write(fd_.get(), buf_.data() + done, buf_.size() - done);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        err = n < 0 ? errno : EIO;
        break;
    }
    if (done < buf_.size()) {
        // A line cut short is taken back (the file grows only by us): what
        // is in it is whole lines, each once; what is not is counted.
        auto nl = done ? buf_.rfind('\n', done - 1) : std::string::npos;
        std::size_t whole = nl == std::string::npos ? 0 : nl + 1;
        if (whole < done) {
            // From the file's real end (an external truncation may have moved it).
            auto end = lseek(fd_.get(), 0, SEEK_END);
            if (end < 0 || ftruncate(fd_.get(), end - static_cast<off_t>(done - whole)) < 0) whole = done;
        }
        size_ += whole;
        fail(err, lines(std::string_view(buf_).substr(whole)));
    } else {
        size_ += done;
        if (error_) {
            log("log file %s: writing again, after %llu lines dropped", path_.c_str(),
                static_cast<unsigned long long>(dropped_ - dropped_at_fail_));
            error_ = 0;
            if (on_state) on_state();
        }
    }
    buf_.clear();
}

void LogFile::fail(int error, std::uint64_t lines) {
    dropped_ += lines;
    if (error_ != 0) return;  // said already; the supervisor reports the count once a minute
    error_ = error;
    dropped_at_fail_ = dropped_ - lines;
    log("log file %s: cannot write: %s; its lines are dropped (and counted) until it can", path_.c_str(),
        std::strerror(error));
    if (on_state) on_state();
}

void LogFile::rotate() {
    auto numbered = [this](unsigned k) { return path_ + "." + std::to_string(k); };
    if (keep_ == 0) {
        ::unlink(path_.c_str());
    } else {
        // The live file out of the way first: if it cannot be moved, no
        // archive has been shifted (a retry must not push one off the end).
        auto moving = path_ + ".rotating";
        if (::rename(path_.c_str(), moving.c_str()) < 0 && errno != ENOENT) {
            log("log file %s: cannot rotate it: %s; it grows by max_size more before the next try", path_.c_str(),
                std::strerror(errno));
            size_ = 0;
            return;
        }
        for (unsigned k = keep_; k >= 2; --k) ::rename(numbered(k - 1).c_str(), numbered(k).c_str());
        ::rename(moving.c_str(), numbered(1).c_str());
    }
    // Those a larger `keep` left (before a reload made it smaller).
    for (unsigned k = keep_ + 1; ::unlink(numbered(k).c_str()) == 0; ++k) {
    }
    fd_.reset();
    size_ = 0;
    open();
}

void LogFile::reopen() {
    flush();
    fd_.reset();
    open();
}

std::uint64_t LogFile::take_new_drops() {
    auto n = dropped_ - reported_;
    reported_ = dropped_;
    return n;
}

LogFiles::LogFiles(uv_loop_t* loop) : report_(uv::make_timer(loop)) { report_->data = this; }

std::shared_ptr<LogFile> LogFiles::get(const std::string& path, std::uint64_t max_size, unsigned keep) {
    if (auto it = files_.find(path); it != files_.end())
        if (auto f = it->second.lock()) {
            f->set_bounds(max_size, keep);
            return f;
        }
    std::erase_if(files_, [](auto& kv) { return kv.second.expired(); });
    auto f = std::make_shared<LogFile>(path, max_size, keep);
    f->on_state = [this] {
        if (!uv_is_active(reinterpret_cast<uv_handle_t*>(report_.get())))
            uv_timer_start(report_.get(), [](uv_timer_t* t) {
                if (auto* self = uv::owner<LogFiles>(t)) self->report();
            }, 60'000, 60'000);
        if (on_change) on_change();
    };
    if (f->failing()) f->on_state();  // it could not be opened
    files_[path] = f;
    return f;
}

void LogFiles::reopen_all() {
    for (auto& [path, weak] : files_)
        if (auto f = weak.lock()) f->reopen();
}

void LogFiles::report() {
    bool any = false;
    for (auto& [path, weak] : files_) {
        auto f = weak.lock();
        if (!f) continue;
        if (auto n = f->take_new_drops())
            log("log file %s: %llu lines dropped in the last minute", path.c_str(), static_cast<unsigned long long>(n));
        any = any || f->failing();
    }
    if (!any) uv_timer_stop(report_.get());
    if (on_change) on_change();
}

}  // namespace seq::sup
