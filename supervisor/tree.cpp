#include "tree.hpp"

namespace seq::sup {

std::optional<ChildType> parse_child_type(std::string_view s) {
    if (s == "worker") return ChildType::worker;
    if (s == "supervisor") return ChildType::supervisor;
    return std::nullopt;
}

std::string_view to_string(ChildType t) { return t == ChildType::supervisor ? "supervisor" : "worker"; }

std::optional<Readiness> parse_readiness(std::string_view s) {
    if (s == "none") return Readiness::none;
    if (s == "notify-fd") return Readiness::notify_fd;
    if (s == "sd_notify") return Readiness::sd_notify;
    return std::nullopt;
}

std::string_view to_string(Readiness r) {
    switch (r) {
    case Readiness::none: return "none";
    case Readiness::notify_fd: return "notify-fd";
    case Readiness::sd_notify: return "sd_notify";
    }
    return "?";
}

std::vector<SocketSpec> sockets_of(const SupervisorSpec& s) {
    std::vector<SocketSpec> out;
    for (auto& c : s.children) {
        out.insert(out.end(), c.sockets.begin(), c.sockets.end());
        auto sub = sockets_of(c.sub);
        out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
}

}  // namespace seq::sup
