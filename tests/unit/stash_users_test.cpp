// The supervisor's side of the stash's access control: each supervisor's
// users file, whose passwords last while a user's keys do.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "stash_users.hpp"

using namespace seq::sup;

namespace {

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Dir {
    std::string path;
    Dir() {
        char tmpl[] = "/tmp/seq-stash-users-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        path = tmpl;
    }
    ~Dir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("stash users: file names no two supervisors share, URLs with the path's '/' escaped, passwords of 32 hex digits") {
    CHECK(stash_users_file("") == "-top.acl");
    CHECK(stash_users_file("jobs") == "jobs.acl");
    CHECK(stash_users_file("jobs/inner") == "jobs+inner.acl");
    CHECK(stash_url("web/http", "pw", "/run/stash.sock") == "unix://web%2Fhttp:pw@/run/stash.sock");
    auto a = new_password(), b = new_password();
    CHECK(a.size() == 32);
    CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(a != b);
}

TEST_CASE("stash users: the top's file has the operator, a password lasts while the user does, the file is written only when it changes, and goes with its supervisor") {
    Dir d;
    auto acl = open_stash_acl(d.path);
    CHECK(acl.dir == d.path + "/stash.acl");
    struct stat st {};
    REQUIRE(stat(acl.dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(stat((d.path + "/stash.password").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(read(d.path + "/stash.password") == acl.operator_password + "\n");
    auto file = acl.dir + "/-top.acl";
    {
        StashUsers users(acl.dir, "", acl.operator_password);
        users.sync({{"a", {"a:*"}}, {"b", {"b:*", "shared:*"}}});
        auto pa = users.password("a", {"a:*"});
        auto pb = users.password("b", {"b:*", "shared:*"});
        REQUIRE(pa);
        REQUIRE(pb);
        CHECK(users.password("b", {"b:*"}) == pb);  // a part of what it is given
        CHECK_FALSE(users.password("b", {"c:*"}));
        CHECK(read(file).find("user default >" + acl.operator_password + " ~*\nuser a >" + *pa + " ~a:*\nuser b >" + *pb +
                              " ~b:* ~shared:*\n") != std::string::npos);
        // The same users: the same passwords, and the file untouched.
        REQUIRE(stat(file.c_str(), &st) == 0);
        auto inode = st.st_ino;
        users.sync({{"a", {"a:*"}}, {"b", {"b:*", "shared:*"}}});
        CHECK(users.password("a", {"a:*"}) == pa);
        REQUIRE(stat(file.c_str(), &st) == 0);
        CHECK(st.st_ino == inode);
        // New keys: the same password, the file says them; a user gone: out of the file.
        users.sync({{"b", {"b:*"}}});
        CHECK(users.password("b", {"b:*"}) == pb);
        CHECK_FALSE(users.password("b", {"b:*", "shared:*"}));  // no longer given
        CHECK_FALSE(users.password("a", {"a:*"}));
        CHECK(read(file).find("user a ") == std::string::npos);
        CHECK(read(file).find("user b >" + *pb + " ~b:*\n") != std::string::npos);
        // A user back after it went: a new password.
        users.sync({{"a", {"a:*"}}, {"b", {"b:*"}}});
        CHECK(users.password("a", {"a:*"}) != pa);
        REQUIRE(stat(file.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
    }
    CHECK_FALSE(std::filesystem::exists(file));
    // A nested supervisor's file has no operator.
    StashUsers nested(acl.dir, "jobs", "");
    nested.sync({{"jobs/x", {"jobs/x:*"}}});
    CHECK(read(acl.dir + "/jobs.acl").find("user default") == std::string::npos);
    // A new start there: what was left is gone, and a new operator password.
    std::ofstream(acl.dir + "/stale.acl") << "user old >x ~*\n";
    auto again = open_stash_acl(d.path);
    CHECK_FALSE(std::filesystem::exists(acl.dir + "/stale.acl"));
    CHECK(again.operator_password != acl.operator_password);
}
