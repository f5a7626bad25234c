// The listening sockets of the whole tree, bound by the top supervisor (a
// Unix socket in the run dir, or a TCP address) before any child starts, and
// held across their users' lives and across reloads: a connection made while
// its server restarts waits in the backlog and is served.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <utility>

#include <sys/types.h>
#include <string>

#include "fd.hpp"
#include "run_dir.hpp"
#include "supervisor.hpp"
#include "tree.hpp"

namespace seq::sup {

// A file as bound: the same path may name another one later.
struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
};

// A socket the supervisor binds and owns; or one it was handed (socket
// activation), which its owner keeps and removes.
struct HeldSocket {
    Fd fd;
    std::string unlink;  // a Unix socket bound here: removed with it
    FileId id;           // and its file
    SocketSpec spec;
    HeldSocket(Fd f, std::string u, SocketSpec s) : fd(std::move(f)), unlink(std::move(u)), spec(std::move(s)) {}
    HeldSocket(const HeldSocket&) = delete;
    HeldSocket& operator=(const HeldSocket&) = delete;
    ~HeldSocket();
};

class HeldSockets {
public:
    // `inherited`: listening sockets handed to us by name (systemd's socket
    // activation); one of those is used instead of binding its name's
    // address, so that it outlives even a kill -9 of this supervisor.
    HeldSockets(const RunDir& dir, std::map<std::string, int> inherited) : dir_(dir), inherited_(std::move(inherited)) {}
    // The control socket: inherited as "control", or bound in the run dir
    // (open to the tree's control_group, if it names one).
    std::unique_ptr<HeldSocket> control(const Tree& tree);
    // Binds what `tree` names and is not bound yet (one bound at the same
    // address is kept, whatever its name); throws, naming the socket and
    // its address, and changing nothing, if one cannot be bound. Gives the
    // run dir, the control socket and each Unix socket the access the tree
    // says, bound or kept.
    Environment bind(const Tree& tree);
    // What was handed to us under a name no socket of the tree has: a
    // client would connect and wait for ever. Said, and closed.
    void close_unclaimed();

private:
    std::unique_ptr<HeldSocket> take_or_bind(const SocketSpec& s, const std::string& path);

    const RunDir& dir_;
    std::map<std::string, int> inherited_;
    std::optional<std::pair<SocketSpec, FileId>> control_;  // the control socket, if bound here, as its access was last set
    std::map<std::string, std::shared_ptr<HeldSocket>> bound_;  // by SocketSpec::where, as bound
};

// Binds and listens on the TCP address `s.listen`, non-blocking and
// close-on-exec. Throws naming the socket and the address; for an address
// in use, also who holds it, where /proc tells.
Fd listen_tcp(const SocketSpec& s);

}  // namespace seq::sup
