// KEYS and SCAN MATCH patterns, as Redis reads them: * ? [abc] [^a-z] and
// backslash escapes, over bytes (a key may hold any byte, NUL included).
#pragma once

#include <string_view>

namespace seq::stash {

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace seq::stash
