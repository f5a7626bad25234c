// Starting a child process the way a supervisor must: by fork and exec of an
// argv (never a shell), with its listening sockets at fds 3.. (systemd's
// LISTEN_FDS convention), its readiness pipe after them, and a death signal
// that ties its life to the supervisor's.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace seq::sup {

struct SpawnArgs {
    std::vector<std::string> argv;                        // argv[0] is the program's path
    std::vector<std::pair<std::string, int>> listen_fds;  // name, fd in the supervisor
    int notify_fd = -1;                                   // write end of the readiness pipe
};

// The fd number at which the child finds the readiness pipe.
inline int child_notify_fd(const SpawnArgs& a) { return 3 + static_cast<int>(a.listen_fds.size()); }

// Forks and execs; returns the child's pid. Throws if fork fails. An exec
// that fails shows up as the child's exit status 127.
pid_t spawn(const SpawnArgs& args);

// "exit status 3", "killed by SIGKILL", "killed by SIGSEGV (core dumped)".
std::string describe_exit(int wait_status);
bool is_normal_exit(int wait_status);

}  // namespace seq::sup
