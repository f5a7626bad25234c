// The environment variables the supervisor sets for its children: the one
// list that a tree file's `env` may not name (the child would get the name
// twice, or ours would be lost), and that no child inherits from the
// supervisor's own environment (a NOTIFY_SOCKET of systemd's, a
// SEQ_RESERVE meant for someone else).
#pragma once

#include <algorithm>
#include <array>
#include <string_view>

namespace seq::sup {

inline constexpr std::array<std::string_view, 22> supervisor_variables = {
    "LISTEN_FDS",     "LISTEN_PID",      "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC",
    "WATCHDOG_PID",   "SEQ_NAME",        "SEQ_INSTANCE",   "SEQ_NOTIFY_FD", "SEQ_LOG",
    "SEQ_STASH",      "SEQ_RESERVE",     "SEQ_STANDBY_FD", "SEQ_STANDBY_FOR", "SEQ_INDEX",
    "SEQ_GENERATION", "SEQ_TREE",        "SEQ_CGROUP",    "SEQ_STASH_ACL", "SEQ_STASH_USER",
    "SEQ_STASH_PASSWORD", "SEQ_STASH_URL",
};

inline bool is_supervisor_variable(std::string_view name) {
    return std::find(supervisor_variables.begin(), supervisor_variables.end(), name) != supervisor_variables.end();
}

}  // namespace seq::sup
