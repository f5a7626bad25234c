// A child of a dynamic supervisor (type = "dynamic", OTP's
// DynamicSupervisor): what `seqctl add` (ADD on the control socket) gives
// it, read from a request's words and written back as them (the request
// goes down the tree as it came), checked, and made into the child's spec
// with the supervisor's template.
//
//   ADD path name [ENV NAME=VALUE]... [ARGS arg...]
//
// ARGS takes every word after it, so an argument may be any word, "ENV" too.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tree.hpp"

namespace seq::sup {

struct Addition {
    std::string name;
    std::vector<std::string> args;              // appended to the template's command
    std::map<std::string, std::string> env;     // over the template's env
    bool operator==(const Addition&) const = default;
};

// Explicit bounds on one request: each is far past any real use.
inline constexpr std::size_t max_added_args = 1024;
inline constexpr std::size_t max_added_env = 1024;

// From the words after ADD's path; nullopt and `why` (an error reply) if
// they are not a valid addition.
std::optional<Addition> parse_addition(std::span<const std::string_view> words, std::string& why);
// The words that parse_addition reads back to `a`.
std::vector<std::string> addition_words(const Addition& a);
// The child's spec: the template's, named, with the args and env added.
ChildSpec dynamic_child_spec(const ChildSpec& tmpl, const Addition& a);

}  // namespace seq::sup
