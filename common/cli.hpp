// What every program's command line does alike (CLI11): --max-clients, and
// leaving with 0 after --help or 2 after a usage error.
#pragma once

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <charconv>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "limits.hpp"

namespace seq {

// A whole number from `lo` to `hi`, or 0 where `zero` says what 0 means
// ("off"). Checked before CLI11 converts it, so that "-1" never wraps into
// an unsigned option, and the error says the range in integers.
inline CLI::Validator integer_in(std::int64_t lo, std::int64_t hi, const char* zero = nullptr) {
    auto range = std::to_string(lo) + " to " + std::to_string(hi);
    if (zero) range += " (0: " + std::string(zero) + ")";
    return CLI::Validator(
        [lo, hi, zero, range](std::string& s) -> std::string {
            std::int64_t v = 0;
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
            bool whole = ec == std::errc() && end == s.data() + s.size();
            if (whole && ((v >= lo && v <= hi) || (zero && v == 0))) return {};
            return "'" + s + "' is not a whole number from " + range;
        },
        range);
}

inline void add_max_clients(CLI::App& app, std::size_t& n, const std::string& help) {
    app.add_option("--max-clients", n, help)->capture_default_str()->check(integer_in(1, 1'000'000));
}

// An open file descriptor, as --notify-fd takes. A closed one is refused at
// once: the daemon would otherwise write its readiness newline into, and
// close, whatever it opened later under that number (a client, its own loop).
inline CLI::Validator open_fd() {
    return CLI::Validator(
        [](std::string& s) -> std::string {
            if (auto e = integer_in(0, INT_MAX)(s); !e.empty()) return e;
            if (::fcntl(std::stoi(s), F_GETFD) == -1) return "fd " + s + " is not open";
            return {};
        },
        "open fd");
}

// --notify-fd, with $SEQ_NOTIFY_FD as its default (s6's readiness convention).
inline void add_notify_fd(CLI::App& app, int& fd, const std::string& when) {
    app.add_option("--notify-fd", fd, "write a newline to this fd " + when + ", then close it (default: $SEQ_NOTIFY_FD)")
        ->envname("SEQ_NOTIFY_FD")
        ->check(open_fd());
}

// Parses the command line. Returns the exit code to leave with (0 after
// --help, 2 after a usage error, the message printed), or nullopt to go on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
        return std::nullopt;
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
}

}  // namespace seq
