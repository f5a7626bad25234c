// A TCP socket's address as a tree file writes it ("127.0.0.1:8080",
// "[::1]:0"), and a bound socket's address as status shows it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace seq::sup {

struct ListenAddress {
    sockaddr_storage addr{};
    socklen_t len = 0;
    int family() const { return addr.ss_family; }
};

// HOST:PORT, HOST an IPv4 address or an IPv6 one in brackets (names are not
// resolved: a supervisor binds before any resolver may answer), PORT 0 to
// 65535 (0: the kernel picks one). nullopt with `why` if it is not one.
std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string& why);

// The HTTP listener's address as a tree file's `http` or --http gives it:
// HOST:PORT, a bare PORT, which is on loopback (127.0.0.1:PORT), or a Unix
// socket's path (it has a '/', or no ':': "http.sock"). nullopt with `why`
// if it is none of these.
std::optional<std::string> http_address(std::string_view text, std::string& why);
// Whether an address http_address() gave is a Unix socket's path.
bool http_is_path(std::string_view address);

// "127.0.0.1:8080", "[::1]:8080".
std::string to_string(const ListenAddress& a);

}  // namespace seq::sup
