#include "glob.hpp"

#include <utility>

namespace seq::stash {

namespace {

// Matches one [...] class at the start of `p` (just past the '[') against
// `ch`; moves `p` past the closing ']' (or to the end of an unclosed one).
bool class_match(std::string_view& p, unsigned char ch) {
    bool negate = !p.empty() && p[0] == '^';
    if (negate) p.remove_prefix(1);
    bool match = false;
    while (!p.empty() && p[0] != ']') {
        if (p[0] == '\\' && p.size() >= 2) {
            match = match || static_cast<unsigned char>(p[1]) == ch;
            p.remove_prefix(2);
        } else if (p.size() >= 3 && p[1] == '-' && p[2] != ']') {
            auto lo = static_cast<unsigned char>(p[0]), hi = static_cast<unsigned char>(p[2]);
            if (lo > hi) std::swap(lo, hi);
            match = match || (ch >= lo && ch <= hi);
            p.remove_prefix(3);
        } else {
            match = match || static_cast<unsigned char>(p[0]) == ch;
            p.remove_prefix(1);
        }
    }
    if (!p.empty()) p.remove_prefix(1);  // the ']'
    return negate ? !match : match;
}

}  // namespace

bool glob_match(std::string_view p, std::string_view s) {
    // Iterative with one backtrack point, the last '*': linear in practice,
    // and a hostile pattern of many stars costs O(pattern × text), not more.
    std::string_view star_p, star_s;
    bool have_star = false;
    for (;;) {
        if (!p.empty() && p[0] == '*') {
            while (!p.empty() && p[0] == '*') p.remove_prefix(1);
            if (p.empty()) return true;
            star_p = p;
            star_s = s;
            have_star = true;
            continue;
        }
        if (s.empty()) return p.empty();
        bool ok = false;
        auto next_p = p;
        if (!p.empty()) {
            auto ch = static_cast<unsigned char>(s[0]);
            if (p[0] == '?') {
                ok = true;
                next_p.remove_prefix(1);
            } else if (p[0] == '[') {
                next_p.remove_prefix(1);
                ok = class_match(next_p, ch);
            } else if (p[0] == '\\' && p.size() >= 2) {
                ok = static_cast<unsigned char>(p[1]) == ch;
                next_p.remove_prefix(2);
            } else {
                ok = static_cast<unsigned char>(p[0]) == ch;
                next_p.remove_prefix(1);
            }
        }
        if (ok) {
            p = next_p;
            s.remove_prefix(1);
            continue;
        }
        if (!have_star || star_s.empty()) return false;
        star_s.remove_prefix(1);
        p = star_p;
        s = star_s;
    }
}

}  // namespace seq::stash
