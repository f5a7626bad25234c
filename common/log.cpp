#include "log.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace seq {

namespace {
// Written once in main before the loop starts; read-only afterwards.
struct Setup {
    std::string name = "sequence";
    bool bare = false;
    std::uint64_t dropped = 0;  // lines not written while stderr was full
};
Setup& setup() {
    static Setup s;
    return s;
}

constexpr std::size_t line_max = 1024;

int stamp(char* line, std::string_view who, pid_t pid) {
    // Under a supervisor that stamps our lines, the time is its to add.
    if (setup().bare) return std::snprintf(line, line_max, "%.*s[%d]: ", static_cast<int>(who.size()), who.data(),
                                           static_cast<int>(pid));
    timeval tv{};
    gettimeofday(&tv, nullptr);
    tm t{};
    localtime_r(&tv.tv_sec, &t);
    return std::snprintf(line, line_max, "%02d:%02d:%02d.%03d %.*s[%d]: ", t.tm_hour, t.tm_min, t.tm_sec,
                         static_cast<int>(tv.tv_usec / 1000), static_cast<int>(who.size()), who.data(),
                         static_cast<int>(pid));
}

// One write per line, so lines from several processes sharing stderr never
// interleave; and never a write that could block: a stderr nobody reads (a
// stopped pager, a full pipe) costs lines, counted, not the event loop. A
// line (at most 1 KiB, under PIPE_BUF) goes whole into a pipe that polls
// writable.
void emit(char* line, int n) {
    if (n > static_cast<int>(line_max) - 2) n = line_max - 2;
    line[n++] = '\n';
    pollfd p{STDERR_FILENO, POLLOUT, 0};
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) {
        ++setup().dropped;
        return;
    }
    if (setup().dropped > 0) {
        char note[line_max + 96];
        int m = std::snprintf(note, sizeof note, "(%llu log lines dropped: standard error was not writable)\n",
                              static_cast<unsigned long long>(setup().dropped));
        std::memcpy(note + m, line, static_cast<std::size_t>(n));
        setup().dropped = 0;
        [[maybe_unused]] auto w = ::write(STDERR_FILENO, note, static_cast<std::size_t>(m + n));
        return;
    }
    [[maybe_unused]] auto w = ::write(STDERR_FILENO, line, static_cast<std::size_t>(n));
}
}  // namespace

// journald stamps each line itself (time, name, pid) when it is our stderr:
// $JOURNAL_STREAM then names the device and inode of that very stream.
static bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    struct stat st{};
    if (!stream || fstat(STDERR_FILENO, &st) < 0) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
    return dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
}

void log_init(std::string_view program) {
    setup().name = program;
    const char* mode = std::getenv("SEQ_LOG");
    setup().bare = (mode && std::strcmp(mode, "bare") == 0) || stderr_is_journal();
}

void log(const char* fmt, ...) {
    char line[line_max];
    int n = setup().bare ? 0 : stamp(line, setup().name, getpid());
    va_list ap;
    va_start(ap, fmt);
    n += std::vsnprintf(line + n, line_max - static_cast<std::size_t>(n) - 1, fmt, ap);
    va_end(ap);
    emit(line, n);
}

bool log_bare() { return setup().bare; }

void log_line(std::string_view who, pid_t pid, std::string_view text) {
    char line[line_max];
    int n = stamp(line, who, pid);
    auto room = line_max - 2 - static_cast<std::size_t>(n);
    auto len = text.size() < room ? text.size() : room;
    std::memcpy(line + n, text.data(), len);
    emit(line, n + static_cast<int>(len));
}

}  // namespace seq
