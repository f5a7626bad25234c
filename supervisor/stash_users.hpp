// The stash's access control, from the supervisors' side (a tree's
// stash_acl): each child is a user of the stash, named by its path, with a
// password of its own and the keys `path:*` plus its stash_keys. Every
// supervisor of the tree writes its children's users into its own file of
// one directory, which the stash reads (seq-stash --acl, $SEQ_STASH_ACL);
// the top writes the operator's, `default`, whose password is in the run
// dir's stash.password for redis-cli and the like.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seq::sup {

// Where the tree's users go, as the top makes it at its start.
struct StashAcl {
    std::string dir;                // <run dir>/stash.acl; empty: access control is off
    std::string operator_password;  // the top's alone: the `default` user's
};

// Makes <run dir>/stash.acl (0700), empties it of what a previous
// supervisor there left, and writes <run dir>/stash.password (0600) for
// the operator. Throws, naming the file, if it cannot.
StashAcl open_stash_acl(const std::string& run_dir);

// 32 hex digits from the kernel's random pool.
std::string new_password();

// The file of the supervisor at `path` ("" for the top) in the directory:
// a name no other supervisor's can have (names hold no '+', and none
// starts with '-').
std::string stash_users_file(std::string_view path);

// unix://USER:PASSWORD@/path, the user's '/' as %2F, as Redis clients'
// from_url take it.
std::string stash_url(std::string_view user, std::string_view password, std::string_view socket);

// One supervisor's users. Each keeps its password for as long as it is a
// user, so that a restarted child, another instance of a pool, or an old
// instance in the middle of a rollout logs in as before; its patterns are
// whatever the file says now, which the stash applies at once, to the
// clients logged in too.
class StashUsers {
public:
    // `operator_password`: the top's `default` user; empty below it.
    StashUsers(std::string dir, std::string_view supervisor_path, std::string operator_password);
    StashUsers(const StashUsers&) = delete;
    StashUsers& operator=(const StashUsers&) = delete;
    ~StashUsers();

    // Makes the file say exactly `wanted` (user: key patterns), written anew
    // (a file renamed over the old one) only if that changes it. Throws,
    // naming the file, if it cannot be written.
    void sync(const std::map<std::string, std::vector<std::string>>& wanted);
    // `user`'s password, if the file gives it every one of `patterns`;
    // nullopt if sync() has not made it so.
    std::optional<std::string> password(const std::string& user, const std::vector<std::string>& patterns) const;

private:
    struct User {
        std::vector<std::string> patterns;
        std::string password;
    };
    std::string dir_, file_, operator_password_;
    std::map<std::string, User> users_;
    std::string written_;  // the file's text as last written
};

}  // namespace seq::sup
