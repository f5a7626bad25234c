// TCP listen addresses as a tree file writes them: every accepted form,
// written back the same way, and every malformed one refused with its reason.
#include <doctest/doctest.h>

#include <string>

#include "listen_address.hpp"

using namespace seq::sup;

namespace {

std::string parsed(const std::string& text) {
    std::string why;
    auto a = parse_listen_address(text, why);
    return a ? to_string(*a) : "error: " + why;
}

}  // namespace

TEST_CASE("listen addresses: IPv4, IPv6 in brackets, every address, port 0, written back in one spelling") {
    CHECK(parsed("127.0.0.1:8080") == "127.0.0.1:8080");
    CHECK(parsed("0.0.0.0:80") == "0.0.0.0:80");
    CHECK(parsed("127.0.0.1:0") == "127.0.0.1:0");
    CHECK(parsed("127.0.0.1:65535") == "127.0.0.1:65535");
    CHECK(parsed("[::1]:8080") == "[::1]:8080");
    CHECK(parsed("[::]:0") == "[::]:0");
    CHECK(parsed("[0:0::1]:443") == "[::1]:443");
    CHECK(parsed("[::ffff:127.0.0.1]:1") == "[::ffff:127.0.0.1]:1");
    std::string why;
    CHECK(parse_listen_address("[::1]:1", why)->family() == AF_INET6);
    CHECK(parse_listen_address("1.2.3.4:1", why)->family() == AF_INET);
}

TEST_CASE("listen addresses: every malformed form is refused with its reason") {
    CHECK(parsed("") == "error: expected HOST:PORT, such as 127.0.0.1:8080 or [::1]:8080");
    CHECK(parsed("8080") == "error: expected HOST:PORT, such as 127.0.0.1:8080 or [::1]:8080");
    CHECK(parsed(":8080") == "error: no host: write 0.0.0.0:PORT for every address");
    CHECK(parsed("[]:8080") == "error: no host: write [::]:PORT for every address");
    CHECK(parsed("127.0.0.1:") == "error: no port after the ':'");
    CHECK(parsed("127.0.0.1:65536") ==
          "error: port 65536 is out of range: 1 to 65535, or 0 for one the kernel picks");
    CHECK(parsed("127.0.0.1:123456") ==
          "error: port 123456 is out of range: 1 to 65535, or 0 for one the kernel picks");
    CHECK(parsed("127.0.0.1:99999999999999999999").starts_with("error: port 9999999999999999 is out of range"));
    CHECK(parsed("127.0.0.1:-1") == "error: port '-1' is not a number");
    CHECK(parsed("127.0.0.1:+80") == "error: port '+80' is not a number");
    CHECK(parsed("127.0.0.1:80x") == "error: port '80x' is not a number");
    CHECK(parsed("127.0.0.1: 80") == "error: port ' 80' is not a number");
    CHECK(parsed("localhost:80") ==
          "error: 'localhost' is not an IPv4 address (names are not resolved: write 127.0.0.1, 0.0.0.0, [::1] or [::])");
    CHECK(parsed("256.0.0.1:80").starts_with("error: '256.0.0.1' is not an IPv4 address"));
    CHECK(parsed("127.1:80").starts_with("error: '127.1' is not an IPv4 address"));
    CHECK(parsed("::1:80") == "error: an IPv6 address goes in brackets, as in [::1]:8080");
    CHECK(parsed("[::1:80") == "error: an IPv6 address opened with '[' is not closed with ']'");
    CHECK(parsed("[::1]") == "error: expected ':' and a port after ']', as in [::1]:8080");
    CHECK(parsed("[::1]80") == "error: expected ':' and a port after ']', as in [::1]:8080");
    CHECK(parsed("[127.0.0.1]:80") == "error: '127.0.0.1' is not an IPv6 address");
    CHECK(parsed("[fe80::1%lo]:80") == "error: 'fe80::1%lo' is not an IPv6 address");
    CHECK(parsed(std::string("127.0.0.1\0:80", 13)) == "error: contains a NUL byte");
}

TEST_CASE("http_address: a bare port is on loopback, a name without ':' or with a '/' is a Unix socket's path") {
    auto http = [](std::string_view text) {
        std::string why;
        auto a = http_address(text, why);
        return a ? *a + (http_is_path(*a) ? " (path)" : "") : "error: " + why;
    };
    CHECK(http("9321") == "127.0.0.1:9321");
    CHECK(http("0.0.0.0:9321") == "0.0.0.0:9321");
    CHECK(http("[::1]:9321") == "[::1]:9321");
    CHECK(http("http.sock") == "http.sock (path)");
    CHECK(http("/run/seq/http.sock") == "/run/seq/http.sock (path)");
    CHECK(http("./a:b") == "./a:b (path)");
    CHECK(http("99999") == "error: port 99999 is out of range: 1 to 65535, or 0 for one the kernel picks");
    CHECK(http("localhost:80").starts_with("error: 'localhost' is not an IPv4 address"));
    CHECK(http("").starts_with("error: "));
}
