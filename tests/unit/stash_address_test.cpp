// --stash as the worker reads it: a socket path of our stash, or a Redis URL.
#include <doctest/doctest.h>

#include "stash_address.hpp"

using namespace seq::worker;

namespace {
StashAddress ok(std::string_view text) {
    std::string why;
    auto a = parse_stash_address(text, why);
    REQUIRE_MESSAGE(a, why);
    return *a;
}
std::string error(std::string_view text) {
    std::string why;
    CHECK_FALSE(parse_stash_address(text, why));
    return why;
}
}  // namespace

TEST_CASE("stash addresses: a path, redis:// with user, password, host and port, unix://") {
    auto a = ok("/run/seq/stash.sock");
    CHECK(a.kind == StashAddress::Kind::stash);
    CHECK(a.path == "/run/seq/stash.sock");
    CHECK_FALSE(a.redis());
    CHECK(ok("stash.sock").path == "stash.sock");
    a = ok("redis://10.0.0.5:6380");
    CHECK(a.kind == StashAddress::Kind::redis_tcp);
    CHECK(a.host == "10.0.0.5");
    CHECK(a.port == 6380);
    CHECK(a.password.empty());
    CHECK(ok("redis://db.example").port == 6379);
    a = ok("redis://:s3cret@db.example:7000/0");
    CHECK(a.user.empty());
    CHECK(a.password == "s3cret");
    CHECK(a.describe() == "redis://db.example:7000");  // never the password
    a = ok("redis://app:pw:with:colons@h:1");
    CHECK(a.user == "app");
    CHECK(a.password == "pw:with:colons");
    CHECK(ok("redis://pw@h").password == "pw");
    a = ok("redis://[::1]:6379");
    CHECK(a.host == "::1");
    CHECK(a.describe() == "redis://[::1]:6379");
    a = ok("unix:///var/run/redis/redis.sock");
    CHECK(a.kind == StashAddress::Kind::redis_unix);
    CHECK(a.path == "/var/run/redis/redis.sock");
    CHECK(a.describe() == "unix:///var/run/redis/redis.sock");
}

TEST_CASE("stash addresses that are not: each error names the address and what is wrong") {
    CHECK(error("") == "the stash address is empty");
    CHECK(error("redis://h:0").find("the port must be a number from 1 to 65535") != std::string::npos);
    CHECK(error("redis://h:99999").find("'redis://h:99999'") == 0);
    CHECK(error("redis://h:x").find("port") != std::string::npos);
    CHECK(error("redis://:pw@").find("no host") != std::string::npos);
    CHECK(error("redis://h/3").find("only database 0") != std::string::npos);
    CHECK(error("redis://[::1:6379").find("closing ']'") != std::string::npos);
    CHECK(error("unix://relative.sock").find("absolute path") != std::string::npos);
    CHECK(error("rediss://h:6379").find("not a stash address") != std::string::npos);
}
