// The stash as a service: a Server whose requests run against a Store. With a
// durable store, the replies of one loop turn wait for one commit (group
// commit), so a client is never told "OK" before its write is saved.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "connection_commands.hpp"
#include "server.hpp"
#include "store.hpp"
#include "uv.hpp"

namespace seq::stash {

class Service {
public:
    Service(uv::Loop& loop, Fd listener, ServerOptions options, std::unique_ptr<Store> store, Fsync fsync);
    void start() { server_.start(); }
    // Non-empty once the store failed and the stash must stop.
    const std::string& fatal_error() const { return fatal_; }

private:
    Server::Verdict handle(Connection& c, std::span<const std::string_view> args);
    // CLIENT REPLY ON|OFF|SKIP, as Redis: a writer that needs no "+OK" per
    // write (the worker handing off its number) spares both sides the traffic.
    void client_command(Connection& c, std::span<const std::string_view> args);
    // INFO, in Redis's sections and fields where they apply.
    std::string info() const;
    const DaemonFacts& facts() const { return facts_; }
    void commit();

    uv::Loop& loop_;
    std::unique_ptr<Store> store_;
    Fsync fsync_;
    Server server_;
    uv::Check check_;
    uv::Timer sync_timer_;
    std::vector<std::uint64_t> held_;  // connections whose replies wait for the commit
    std::unordered_set<std::uint64_t> replies_off_, skip_one_;
    std::string fatal_;
    DaemonFacts facts_;
    std::uint64_t started_ms_ = 0;
};

}  // namespace seq::stash
