#include "sequence.hpp"

#include <limits>

#include "commands.hpp"
#include "resp.hpp"

namespace seq::worker {

Command classify(std::string_view name) {
    if (is_command(name, "next")) return Command::next;
    if (is_command(name, "increment")) return Command::increment;
    if (is_command(name, "get")) return Command::get;
    if (is_command(name, "ping")) return Command::ping;
    if (is_command(name, "info")) return Command::info;
    if (is_command(name, "quit")) return Command::quit;
    if (is_command(name, "multi")) return Command::multi;
    if (is_command(name, "exec")) return Command::exec;
    if (is_command(name, "discard")) return Command::discard;
    return Command::unknown;
}

bool apply(Command c, std::span<const std::string_view> args, std::int64_t& value, std::string& out) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    switch (c) {
    case Command::next:
        if (args.size() != 1) return resp::append_error(out, wrong_args(args[0])), false;
        if (value == max) return resp::append_error(out, "ERR the sequence is exhausted (at the 64-bit maximum)"), false;
        resp::append_int(out, value);
        ++value;
        return true;
    case Command::increment: {
        if (args.size() != 2) return resp::append_error(out, wrong_args(args[0])), false;
        auto n = resp::parse_int(args[1]);
        if (!n) return resp::append_error(out, "ERR increment must be an integer"), false;
        if (*n < 0) return resp::append_error(out, "ERR increment must not be negative"), false;
        std::int64_t sum;
        if (__builtin_add_overflow(value, *n, &sum))
            return resp::append_error(out, "ERR increment would overflow the 64-bit sequence"), false;
        value = sum;
        resp::append_int(out, value);
        return *n != 0;
    }
    case Command::get:
        if (args.size() != 1) return resp::append_error(out, wrong_args(args[0])), false;
        resp::append_int(out, value);
        return false;
    default:
        resp::append_error(out, "ERR not a sequence command");
        return false;
    }
}

std::int64_t mark_for(std::int64_t value, std::int64_t reserve) {
    std::int64_t mark;
    return __builtin_add_overflow(value, reserve, &mark) ? std::numeric_limits<std::int64_t>::max() : mark;
}

}  // namespace seq::worker
