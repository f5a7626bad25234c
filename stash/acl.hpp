// Who may touch which keys, as Redis 6's ACLs say it for the part a tree
// needs: each user has passwords and key patterns, and may run every
// command on the keys its patterns match. The supervisors write the users
// into files in one directory (`user NAME >PASSWORD ~PATTERN ...`, a line
// each, as in a Redis ACL file); the stash reads them again whenever the
// directory changes (inotify), and at once when a client logs in as
// someone not known yet and a change is pending: a child started a moment
// ago is never refused for being newer than what was read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fd.hpp"

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
    // Watches the directory (inotify) and reads it; throws if it is not a
    // directory of our user's that no one else may write, or cannot be
    // read. A file or a line that cannot be read is logged and left out.
    explicit AccessList(std::string dir);
    // Reads the files again if the directory changed since; true if so.
    bool refresh();
    // The grants of `user` if `password` is one of its passwords, as last
    // read; else null.
    std::shared_ptr<const KeyGrants> authenticate(std::string_view user, std::string_view password) const;
    // What `user` may touch now; null if it is no longer a user.
    std::shared_ptr<const KeyGrants> grants_of(std::string_view user) const;
    // Readable when the directory changed: the owner polls it, then calls refresh().
    int watch_fd() const { return watch_.get(); }
    const std::string& dir() const { return dir_; }

private:
    void load();
    const AclUser* find(std::string_view user, std::string_view password) const;
    std::string dir_;
    Fd watch_;  // inotify; not open where the kernel has none: then every unknown login reads again
    std::map<std::string, AclUser, std::less<>> users_;
    std::vector<std::string> problems_;  // what the last load logged
};

}  // namespace seq::stash
