// The standby protocol, both ends. A supervisor may start a second instance
// of a child ahead of need: exec'd and initialised, but idle. It is started
// with $SEQ_STANDBY_FD (a SOCK_SEQPACKET socket) and $SEQ_NOTIFY_FD, and no
// listening sockets. It writes "standby\n" on the notify fd once it is idle
// and may be activated, and waits, costing nothing, on the standby fd. When
// the instance it stands for dies, the supervisor sends one message there:
// the socket names, ':'-separated, with the listening sockets themselves as
// SCM_RIGHTS, in that order. The program then connects to what it needs,
// reads its state, serves, and writes "\n" on the notify fd, as any start
// does. The end of the standby fd without a message means: stop.
// $SEQ_STANDBY_FOR, when set, is the pid of the instance it stands for: once
// that has ended, the program may connect and send its first requests ahead
// of the activation, to be quicker; but it acts on no answer, writes
// nothing and serves nothing before the activation, which may never come
// (the supervisor gave up), or come after a dependency was restarted.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fd.hpp"

namespace seq::standby {

// Program side. The fd this process was started with as a standby, taken
// out of the environment; nullopt if it was started to serve at once.
std::optional<int> inherited_fd();
// "standby\n" on the notify fd, which stays open for the newline of serving.
void say_idle(int notify_fd);
// The instance this standby stands for, from $SEQ_STANDBY_FOR (its pid), as
// a pidfd that turns readable once it has ended; nullopt if not given, gone
// already, or the kernel has no pidfds (then only activation tells).
std::optional<Fd> watch_active();
// Reads the activation (call when `fd` is readable): the sockets by name.
// nullopt if the supervisor closed the fd (stop) or sent no sockets.
std::optional<std::map<std::string, Fd>> receive(int fd);

// Supervisor side: sends the activation. Throws SystemError on failure.
void activate(int fd, const std::vector<std::pair<std::string, int>>& sockets);

}  // namespace seq::standby
