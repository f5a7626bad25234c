#include "stash_address.hpp"

#include "resp.hpp"

namespace seq::worker {

std::string StashAddress::describe() const {
    switch (kind) {
    case Kind::stash: return path;
    case Kind::redis_unix: return "unix://" + path;
    case Kind::redis_tcp: {
        bool v6 = host.find(':') != std::string::npos;
        return "redis://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
    }
    }
    return path;
}

namespace {
// "'TEXT': why", built by appending: g++ 12 at -O3 takes "'" + std::string(...)
// for an overlapping copy (a false -Wrestrict).
std::string bad(std::string_view text, const char* why) {
    std::string s = "'";
    s += text;
    s += "': ";
    s += why;
    return s;
}
}  // namespace

std::optional<StashAddress> parse_stash_address(std::string_view text, std::string& error) {
    StashAddress a;
    if (text.empty()) {
        error = "the stash address is empty";
        return std::nullopt;
    }
    if (text.starts_with("unix://")) {
        a.kind = StashAddress::Kind::redis_unix;
        a.path = text.substr(7);
        if (a.path.empty() || a.path[0] != '/') {
            error = bad(text, "a unix:// address needs an absolute path (unix:///run/redis.sock)");
            return std::nullopt;
        }
        return a;
    }
    if (!text.starts_with("redis://")) {
        if (text.find("://") != std::string_view::npos) {
            error = bad(text, "not a stash address (a socket path, redis://host:port or unix:///path)");
            return std::nullopt;
        }
        a.path = text;
        return a;
    }
    a.kind = StashAddress::Kind::redis_tcp;
    auto rest = text.substr(8);
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        if (rest.substr(slash) != "/" && rest.substr(slash) != "/0") {
            error = bad(text, "only database 0 is used");
            return std::nullopt;
        }
        rest = rest.substr(0, slash);
    }
    if (auto at = rest.rfind('@'); at != std::string_view::npos) {
        auto userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            a.password = userinfo;  // redis://secret@host, as redis-cli -u reads it
        } else {
            a.user = userinfo.substr(0, colon);
            a.password = userinfo.substr(colon + 1);
        }
    }
    std::string_view port;
    if (rest.starts_with("[")) {  // [::1]:6379
        auto close = rest.find(']');
        if (close == std::string_view::npos) {
            error = bad(text, "an IPv6 host needs its closing ']'");
            return std::nullopt;
        }
        a.host = rest.substr(1, close - 1);
        rest = rest.substr(close + 1);
        if (rest.starts_with(":")) port = rest.substr(1);
        else if (!rest.empty()) {
            error = bad(text, "unexpected text after the host");
            return std::nullopt;
        }
    } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        a.host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    } else {
        a.host = rest;
    }
    if (a.host.empty()) {
        error = bad(text, "no host");
        return std::nullopt;
    }
    if (!port.empty()) {
        auto p = resp::parse_int(port);
        if (!p || *p < 1 || *p > 65535) {
            error = bad(text, "the port must be a number from 1 to 65535");
            return std::nullopt;
        }
        a.port = static_cast<int>(*p);
    }
    return a;
}

}  // namespace seq::worker
