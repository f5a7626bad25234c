#include "dynamic_child.hpp"

#include "commands.hpp"
#include "supervisor_variables.hpp"

namespace seq::sup {

namespace {

// What a word looks like in an error: short, and printable.
std::string shown(std::string_view s) {
    std::string r;
    for (char c : s.substr(0, 64)) r += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    return "'" + r + (s.size() > 64 ? "...'" : "'");
}

}  // namespace

std::optional<Addition> parse_addition(std::span<const std::string_view> words, std::string& why) {
    if (words.empty()) {
        why = "ERR add needs a name for the child";
        return std::nullopt;
    }
    Addition a;
    a.name = words[0];
    if (!valid_name(a.name)) {
        why = "ERR " + shown(a.name) + " is not a child's name: " + name_rule;
        return std::nullopt;
    }
    std::size_t i = 1;
    for (; i < words.size() && is_command(words[i], "env"); i += 2) {
        if (i + 1 == words.size()) {
            why = "ERR ENV needs NAME=VALUE after it";
            return std::nullopt;
        }
        auto kv = words[i + 1];
        auto eq = kv.find('=');
        auto key = kv.substr(0, eq);
        if (eq == std::string_view::npos || key.empty() || kv.find('\0') != std::string_view::npos) {
            why = "ERR " + shown(kv) + " is not NAME=VALUE (a name, no NUL byte)";
            return std::nullopt;
        }
        if (is_supervisor_variable(key)) {
            why = "ERR " + shown(key) + " is set by the supervisor itself";
            return std::nullopt;
        }
        if (a.env.size() == max_added_env && !a.env.count(std::string(key))) {
            why = "ERR more than " + std::to_string(max_added_env) + " ENV variables";
            return std::nullopt;
        }
        a.env[std::string(key)] = std::string(kv.substr(eq + 1));
    }
    if (i < words.size() && is_command(words[i], "args")) {
        for (++i; i < words.size(); ++i) {
            if (words[i].find('\0') != std::string_view::npos) {
                why = "ERR an argument contains a NUL byte: " + shown(words[i]);
                return std::nullopt;
            }
            if (a.args.size() == max_added_args) {
                why = "ERR more than " + std::to_string(max_added_args) + " arguments";
                return std::nullopt;
            }
            a.args.emplace_back(words[i]);
        }
    }
    if (i < words.size()) {
        why = "ERR " + shown(words[i]) + " is not ENV or ARGS (add path name [ENV NAME=VALUE]... [ARGS arg...])";
        return std::nullopt;
    }
    return a;
}

std::vector<std::string> addition_words(const Addition& a) {
    std::vector<std::string> out{a.name};
    for (auto& [k, v] : a.env) {
        out.emplace_back("ENV");
        out.push_back(k + "=" + v);
    }
    if (!a.args.empty()) {
        out.emplace_back("ARGS");
        out.insert(out.end(), a.args.begin(), a.args.end());
    }
    return out;
}

ChildSpec dynamic_child_spec(const ChildSpec& tmpl, const Addition& a) {
    ChildSpec c = tmpl;
    c.name = a.name;
    c.command.insert(c.command.end(), a.args.begin(), a.args.end());
    for (auto& [k, v] : a.env) c.env[k] = v;
    return c;
}

}  // namespace seq::sup
