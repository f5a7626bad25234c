#include "env_file.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "supervisor_variables.hpp"

namespace seq::sup {

namespace {

bool name_char(char c, bool first) {
    return c == '_' || std::isalpha(static_cast<unsigned char>(c)) || (!first && std::isdigit(static_cast<unsigned char>(c)));
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

std::variant<std::map<std::string, std::string>, EnvFileError> parse_env_file(std::string_view text) {
    std::map<std::string, std::string> vars;
    std::size_t at = 0;
    unsigned line = 1;
    auto peek = [&] { return at < text.size() ? text[at] : '\0'; };
    while (at < text.size()) {
        unsigned started = line;
        while (at < text.size() && (blank(text[at]) || text[at] == '\n')) line += text[at++] == '\n';
        if (at >= text.size()) break;
        started = line;
        if (peek() == '#' || peek() == ';') {
            while (at < text.size() && text[at] != '\n') ++at;
            continue;
        }
        std::string key;
        while (at < text.size() && name_char(text[at], key.empty())) key += text[at++];
        while (at < text.size() && blank(text[at])) ++at;
        if (key.empty() || peek() != '=')
            return EnvFileError{started, key.empty() ? "not a variable's name: a line is NAME=VALUE"
                                                     : "no = after " + key + ": a line is NAME=VALUE"};
        if (is_supervisor_variable(key)) return EnvFileError{started, key + " is set by the supervisor itself"};
        ++at;
        while (at < text.size() && blank(text[at])) ++at;
        std::string value;
        if (peek() == '\'' || peek() == '"') {
            char quote = text[at++];
            bool closed = false;
            while (at < text.size()) {
                char c = text[at++];
                if (c == '\n') ++line;
                if (c == quote) {
                    closed = true;
                    break;
                }
                if (quote == '"' && c == '\\' && at < text.size()) {
                    char e = text[at++];
                    if (e == 'n') value += '\n';
                    else if (e == '\n') ++line;  // a line joined
                    else if (e == '"' || e == '\\' || e == '$' || e == '`') value += e;
                    else value += '\\', value += e;
                    continue;
                }
                value += c;
            }
            if (!closed) return EnvFileError{started, std::string("a value opened with ") + quote + " is never closed"};
            while (at < text.size() && blank(text[at])) ++at;
            if (at < text.size() && text[at] != '\n' && text[at] != '#')
                return EnvFileError{line, "something after the closing quote of " + key + "'s value"};
            while (at < text.size() && text[at] != '\n') ++at;
        } else {
            while (at < text.size() && text[at] != '\n') {
                char c = text[at++];
                if (c == '\\' && at < text.size()) {
                    char e = text[at++];
                    if (e == '\n') ++line;  // continued on the next line
                    else value += e;
                    continue;
                }
                value += c;
            }
            while (!value.empty() && blank(value.back())) value.pop_back();
        }
        if (value.find('\0') != std::string::npos) return EnvFileError{started, key + "'s value holds a NUL byte"};
        vars[key] = std::move(value);
    }
    return vars;
}

std::variant<std::map<std::string, std::string>, std::string> read_env_file(const std::string& path, bool optional) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (optional && errno == ENOENT) return std::map<std::string, std::string>{};
        return path + ": cannot read: " + std::strerror(errno);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto got = parse_env_file(ss.str());
    if (auto* e = std::get_if<EnvFileError>(&got)) return path + ":" + std::to_string(e->line) + ": " + e->what;
    return std::get<0>(std::move(got));
}

}  // namespace seq::sup
