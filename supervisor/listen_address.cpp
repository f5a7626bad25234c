#include "listen_address.hpp"

#include "socket.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cstring>

namespace seq::sup {

namespace {

// 'TEXT', at most 64 bytes of it; appended, as g++ 12 at -O3 takes
// "'" + std::string for an overlapping copy (GCC bug 105329).
std::string quoted(std::string_view text) {
    std::string s = "'";
    s += text.substr(0, 64);
    s += "'";
    return s;
}

std::optional<std::uint16_t> parse_port(std::string_view s, std::string& why) {
    if (s.empty()) {
        why = "no port after the ':'";
        return std::nullopt;
    }
    unsigned long n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            why = "port '" + std::string(s.substr(0, 16)) + "' is not a number";
            return std::nullopt;
        }
        n = n * 10 + static_cast<unsigned long>(c - '0');
        if (n > 65535) {
            why = "port " + std::string(s.substr(0, 16)) + " is out of range: 1 to 65535, or 0 for one the kernel picks";
            return std::nullopt;
        }
    }
    return static_cast<std::uint16_t>(n);
}

}  // namespace

std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string& why) {
    ListenAddress a;
    if (text.find('\0') != std::string_view::npos) {
        why = "contains a NUL byte";
        return std::nullopt;
    }
    std::string_view host, port;
    bool v6 = text.starts_with("[");
    if (v6) {
        auto close = text.find(']');
        if (close == std::string_view::npos) {
            why = "an IPv6 address opened with '[' is not closed with ']'";
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.starts_with(":")) {
            why = "expected ':' and a port after ']', as in [::1]:8080";
            return std::nullopt;
        }
        port = rest.substr(1);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            why = "expected HOST:PORT, such as 127.0.0.1:8080 or [::1]:8080";
            return std::nullopt;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            why = "an IPv6 address goes in brackets, as in [::1]:8080";
            return std::nullopt;
        }
    }
    if (host.empty()) {
        why = std::string("no host: write ") + (v6 ? "[::]" : "0.0.0.0") + ":PORT for every address";
        return std::nullopt;
    }
    auto p = parse_port(port, why);
    if (!p) return std::nullopt;
    std::string h(host);
    if (v6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(*p);
        if (inet_pton(AF_INET6, h.c_str(), &in6->sin6_addr) != 1) {
            why = quoted(h) + " is not an IPv6 address";
            return std::nullopt;
        }
        a.len = sizeof(sockaddr_in6);
    } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&a.addr);
        in4->sin_family = AF_INET;
        in4->sin_port = htons(*p);
        if (inet_pton(AF_INET, h.c_str(), &in4->sin_addr) != 1) {
            why = quoted(h) + " is not an IPv4 address (names are not resolved: write 127.0.0.1, 0.0.0.0, [::1] or [::])";
            return std::nullopt;
        }
        a.len = sizeof(sockaddr_in);
    }
    return a;
}

namespace {

}  // namespace

bool http_is_path(std::string_view address) {
    return address.find('/') != std::string_view::npos || address.find(':') == std::string_view::npos;
}

std::optional<std::string> http_address(std::string_view text, std::string& why) {
    const bool port = !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
    if (!port && !text.empty() && http_is_path(text)) return std::string(text);
    std::string address(text);
    if (port) address = "127.0.0.1:" + address;
    if (!parse_listen_address(address, why)) return std::nullopt;
    return address;
}

std::string to_string(const ListenAddress& a) { return format_address(reinterpret_cast<const sockaddr*>(&a.addr)); }

}  // namespace seq::sup
