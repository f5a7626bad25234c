// One readable line per event on stderr: time, program[pid], message.
#pragma once

#include <string_view>

namespace seq {

// Set once in main, before anything logs.
void log_init(std::string_view program);

[[gnu::format(printf, 1, 2)]] void log(const char* fmt, ...);

}  // namespace seq
