// Environment files in systemd's EnvironmentFile= syntax (env_file = [...]):
// KEY=VALUE lines; blank lines and lines starting with # or ; ignored;
// a value in '...' taken as it is, in "..." with \" \\ \$ \` and \n
// escapes; an unquoted value trimmed, a backslash taking the next
// character as it is, and one at the end of a line joining the next.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>

namespace seq::sup {

struct EnvFileError {
    unsigned line;  // 1-based
    std::string what;
};

// The variables of `text`, in the order of their names; or the first error.
std::variant<std::map<std::string, std::string>, EnvFileError> parse_env_file(std::string_view text);

// The file at `path` read and parsed; a missing file is an error unless
// `optional`. The error names the file and the line: "app.env:3: ...".
std::variant<std::map<std::string, std::string>, std::string> read_env_file(const std::string& path, bool optional);

}  // namespace seq::sup
