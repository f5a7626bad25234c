// The stash as a service: a Server whose requests run against a Store. With a
// durable store, the replies of one loop turn wait for one commit (group
// commit), so a client is never told "OK" before its write is saved. Keys
// with a TTL are swept by a timer set for the soonest one: an idle stash
// never wakes up.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "acl.hpp"
#include "command_counts.hpp"
#include "connection_commands.hpp"
#include "histogram.hpp"
#include "server.hpp"
#include "stash.hpp"
#include "store.hpp"
#include "uv.hpp"
#include "watches.hpp"

namespace seq::stash {

struct ServiceOptions {
    Fsync fsync = Fsync::everysec;
    bool allow_flush = false;  // FLUSHDB and FLUSHALL
    // Where the users are (seq-stash --acl, $SEQ_STASH_ACL): every client
    // must then authenticate, and touches only its keys. Empty: open.
    std::string acl_dir;
};

class Service {
public:
    Service(uv::Loop& loop, Fd listener, ServerOptions server_options, std::unique_ptr<Store> store,
            ServiceOptions options);
    void start();
    // Non-empty once the store failed and the stash must stop.
    const std::string& fatal_error() const { return fatal_; }

private:
    Server::Verdict handle(Connection& c, std::span<const std::string_view> args);
    // One command, outside a transaction or as part of EXEC. False: close.
    bool run(Connection& c, std::span<const std::string_view> args);
    // MULTI, queuing, EXEC, DISCARD, WATCH and UNWATCH; false if `args` is
    // none of these and not queued.
    bool transaction(Connection& c, std::span<const std::string_view> args);
    // INFO [section...], in Redis's sections and fields where they apply.
    std::string info(std::span<const std::string_view> sections);
    const DaemonFacts& facts() const { return facts_; }
    // NOAUTH or NOPERM for `args` from `c`, under access control.
    std::optional<std::string> access_refusal(const Connection& c, std::span<const std::string_view> args) const;
    void commit();
    // The users read again: each client logged in gets its user's grants as
    // they are now, and one whose user is gone is closed.
    void users_changed();
    // Removes keys whose time has come, a bounded batch per wakeup, and sets
    // the timer for the next one.
    void sweep();
    void arm_sweep(std::int64_t expires_ms);
    void fail(const std::exception& e, const char* then);

    uv::Loop& loop_;
    std::unique_ptr<Store> store_;
    std::optional<AccessList> acl_;
    uv::Poll acl_watch_;  // the users' directory changed: read it, and apply it to every client in
    ServiceOptions options_;
    Server server_;
    uv::Check check_;
    uv::Timer sync_timer_;
    uv::Timer sweep_timer_;
    std::int64_t sweep_at_ = 0;  // Unix ms the sweep timer is set for; 0: not set
    Watches watches_;
    std::vector<std::uint64_t> held_;  // connections whose replies wait for the commit
    std::string fatal_;
    DaemonFacts facts_;
    std::uint64_t started_ms_ = 0;
    struct Stats {
        std::uint64_t connections = 0, commands = 0, expired = 0;
    } stats_;
    std::optional<CommandCounts> calls_;  // by name, from facts_'s table
    // How long each commit of the store took (INFO's commits section, the
    // supervisor's seq_stash_commit_seconds): microseconds, cumulative
    // counts at each bound as a Prometheus histogram keeps them.
    struct CommitTimes : Histogram<12> {
        static constexpr Bounds bounds_us = {100,   250,   500,    1000,   2500,   5000,
                                             10000, 25000, 50000, 100000, 250000, 1000000};
        void add(std::uint64_t us) { Histogram::add(bounds_us, us); }
    } commit_times_;
};

}  // namespace seq::stash
