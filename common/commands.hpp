// Small helpers shared by the daemons' command tables.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace seq {

// Command names are case-insensitive, as in Redis.
inline bool is_command(std::string_view got, std::string_view name) {
    return got.size() == name.size() && std::equal(got.begin(), got.end(), name.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == b;
           });
}

inline std::string lowercase(std::string_view s) {
    std::string r(s.substr(0, 64));
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

inline std::string wrong_args(std::string_view cmd) {
    return "ERR wrong number of arguments for '" + lowercase(cmd) + "' command";
}

inline std::string unknown_command(std::string_view cmd) {
    std::string shown;
    for (char c : cmd.substr(0, 64)) shown += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    return "ERR unknown command '" + shown + "'";
}

}  // namespace seq
