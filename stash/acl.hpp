// Who may touch which keys, as Redis 6's ACLs say it for the part a tree
// needs: each user has passwords and key patterns, and may run every
// command on the keys its patterns match. The supervisors write the users
// into files in one directory (`user NAME >PASSWORD ~PATTERN ...`, a line
// each, as in a Redis ACL file); the stash reads them when a client
// authenticates as someone it does not know, or with a password it does not
// know: a child started a moment ago is never refused for being newer than
// what was read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace seq {

// What one user may touch. The stash's connections hold it (Session::grants).
struct KeyGrants {
    KeyGrants() = default;
    explicit KeyGrants(std::vector<std::string> patterns);

    std::vector<std::string> patterns;  // globs, as KEYS takes them
    bool all = false;                    // "~*": every key and every command

    bool may(std::string_view key) const;

private:
    // The patterns that are a literal prefix and one '*' (web:*), the most
    // common by far, checked as prefixes: every command of a client pays
    // for this, so a glob is matched only for the others.
    std::vector<std::string> prefixes_, globs_;
};

}  // namespace seq

namespace seq::stash {

struct AclUser {
    std::string name;
    std::vector<std::string> passwords;
    std::shared_ptr<const KeyGrants> grants;
};

// The users in one file's text. A line that is not a user is skipped and
// said in `errors` ("LINE: why"); blank lines and # comments are not.
std::vector<AclUser> parse_acl(std::string_view text, std::vector<std::string>& errors);

// The users of every `*.acl` file in a directory.
class AccessList {
public:
    explicit AccessList(std::string dir) : dir_(std::move(dir)) {}
    // Reads the directory; throws if it cannot be read at all. A file or a
    // line that cannot be read is logged and left out.
    void load();
    // The grants of `user` if `password` is one of its passwords, reading
    // the files again first if it is not (once per call); else null.
    std::shared_ptr<const KeyGrants> authenticate(std::string_view user, std::string_view password);
    const std::string& dir() const { return dir_; }

private:
    const AclUser* find(std::string_view user, std::string_view password) const;
    std::string dir_;
    std::map<std::string, AclUser, std::less<>> users_;
    std::vector<std::string> problems_;  // what the last load logged
};

}  // namespace seq::stash
