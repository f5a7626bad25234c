#include "log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <string>

namespace seq {

namespace {
// Written once in main before the loop starts; read-only afterwards.
std::string& program_name() {
    static std::string name = "sequence";
    return name;
}
}  // namespace

void log_init(std::string_view program) { program_name() = program; }

void log(const char* fmt, ...) {
    char line[1024];
    timeval tv{};
    gettimeofday(&tv, nullptr);
    tm t{};
    localtime_r(&tv.tv_sec, &t);
    int n = std::snprintf(line, sizeof line, "%02d:%02d:%02d.%03d %s[%d]: ", t.tm_hour, t.tm_min, t.tm_sec,
                          static_cast<int>(tv.tv_usec / 1000), program_name().c_str(), static_cast<int>(getpid()));
    va_list ap;
    va_start(ap, fmt);
    n += std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, fmt, ap);
    va_end(ap);
    if (n > static_cast<int>(sizeof line) - 2) n = sizeof line - 2;
    line[n++] = '\n';
    // One write per line, so lines from several processes sharing stderr never interleave.
    [[maybe_unused]] auto w = ::write(STDERR_FILENO, line, static_cast<std::size_t>(n));
}

}  // namespace seq
