// A child's log file, kept the way s6-log and supervisord keep theirs:
// whole lines appended; rotated by size (file to file.1, file.1 to file.2,
// ... up to file.KEEP, the oldest deleted); reopened on demand, for an
// external logrotate. A full or failing disk costs lines, counted, never
// the supervisor's work; writing resumes with the first write it takes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "child_log.hpp"
#include "fd.hpp"
#include "uv.hpp"

namespace seq::sup {

class LogFile {
public:
    // Lines wait in memory up to this many bytes, or the end of the read
    // that brought them (ChildOutput flushes then): one write for many.
    static constexpr std::size_t buffer_max = 64 << 10;

    // Opens it at once, making its folder if need be; a failure is logged,
    // naming the path, and the open is tried again with each flush.
    LogFile(std::string path, std::uint64_t max_size, unsigned keep);
    LogFile(const LogFile&) = delete;
    LogFile& operator=(const LogFile&) = delete;
    ~LogFile() { flush(); }

    // A reload may change them; the path stays.
    void set_bounds(std::uint64_t max_size, unsigned keep) { max_size_ = max_size, keep_ = keep; }
    // "STAMP out WHO[PID] TEXT\n". It rotates first if the line would take
    // the file past max_size (a line is never split between two files).
    void add(std::string_view stamp, Stream stream, std::string_view who, pid_t pid, std::string_view text);
    void flush();
    // Closes and opens the path again: after an external mv, the new lines
    // go to a new file there.
    void reopen();

    const std::string& path() const { return path_; }
    std::uint64_t dropped() const { return dropped_; }  // lines, since it was made
    bool failing() const { return error_ != 0; }
    // Lines dropped since the last call (the once-a-minute report).
    std::uint64_t take_new_drops();
    // Called as it starts dropping lines (the supervisor then reports them
    // once a minute while it lasts), and as it writes again.
    std::function<void()> on_state;

private:
    bool open();
    void rotate();
    void fail(int error, std::uint64_t lines);

    std::string path_;
    std::uint64_t max_size_;
    unsigned keep_;
    Fd fd_;
    std::uint64_t size_ = 0;  // of the file open, as written by us
    std::string buf_;         // whole lines, not yet written
    std::uint64_t dropped_ = 0, reported_ = 0, dropped_at_fail_ = 0;
    int error_ = 0;  // errno of what failed last; 0 while writes go through
};

// The log files of a supervisor's children, one object a path (a pool's
// instances share theirs), each living as long as some child or process
// still writes to it.
class LogFiles {
public:
    explicit LogFiles(uv_loop_t* loop);
    // The file at `path` (made if no one has it open), with these bounds.
    std::shared_ptr<LogFile> get(const std::string& path, std::uint64_t max_size, unsigned keep);
    // seqctl logs --reopen, SIGUSR1.
    void reopen_all();
    // Called when a file starts or stops dropping lines, and at each
    // minute's report: what status shows has changed.
    std::function<void()> on_change;

private:
    void report();  // once a minute while a file is failing
    std::map<std::string, std::weak_ptr<LogFile>, std::less<>> files_;
    uv::Timer report_;
};

}  // namespace seq::sup
