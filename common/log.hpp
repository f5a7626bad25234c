// One readable line per event on stderr: time, program[pid], message.
#pragma once

#include <string_view>
#include <sys/types.h>

namespace seq {

// Set once in main, before anything logs. Under a supervisor that reads our
// stderr ($SEQ_LOG=bare), the supervisor stamps each line with the time, our
// name and pid, so we write the message alone.
void log_init(std::string_view program);

[[gnu::format(printf, 1, 2)]] void log(const char* fmt, ...);

// A line on behalf of another process (a child's output): time, who[pid], text.
void log_line(std::string_view who, pid_t pid, std::string_view text);

// Whether our lines go out without the time and our name ($SEQ_LOG=bare).
bool log_bare();

}  // namespace seq
