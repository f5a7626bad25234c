// What every program's command line does alike (CLI11): --max-clients, and
// leaving with 0 after --help or 2 after a usage error.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <optional>
#include <string>

namespace seq {

inline void add_max_clients(CLI::App& app, std::size_t& n, const std::string& help) {
    app.add_option("--max-clients", n, help)->capture_default_str()->check(CLI::PositiveNumber);
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
