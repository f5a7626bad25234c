// JSON's string, for what we write as JSON (seqctl --json, event hooks, the
// live page): quotes, backslashes and control characters escaped; valid
// UTF-8 passed as it is, and each byte that is not part of valid UTF-8 (a
// child's output may hold anything) written as U+FFFD, so that strict
// parsers take it.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace seq {

namespace json_detail {

// The length of the valid UTF-8 sequence at s[i] (2 to 4), or 0.
inline std::size_t utf8_length(std::string_view s, std::size_t i) {
    auto at = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
    auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) { return at(k) >= lo && at(k) <= hi; };
    const unsigned c = at(0);
    if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
    if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
    if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? 3 : 0;
    if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
    if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

}  // namespace json_detail

inline std::string json_string(std::string_view s) {
    std::string r = "\"";
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c == '"' || c == '\\') r += '\\', r += static_cast<char>(c);
            else if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                r += buf;
            } else r += static_cast<char>(c);
            ++i;
        } else if (auto n = json_detail::utf8_length(s, i)) {
            r.append(s.substr(i, n));
            i += n;
        } else {
            r += "\\ufffd";
            ++i;
        }
    }
    return r + "\"";
}

}  // namespace seq
