// One process's health probe, as its child's HealthSpec says: a check every
// interval (an HTTP GET, a TCP connect, or a command), each within its
// timeout, and each result told with the count of failures in a row. While
// the process starts (readiness = "health") it is checked sooner, 50 ms
// after its start and then twice as long each time up to a second (or the
// interval, if shorter), so that its readiness is seen soon without a
// storm of checks, and well within its start timeout.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "listen_address.hpp"
#include "side_jobs.hpp"
#include "tree.hpp"
#include "uv.hpp"

namespace seq::sup {

class HttpChecks;

class HealthProbe {
public:
    // Where a check is made: commands as side jobs, HTTP through libcurl
    // (made when first asked for: it throws if libcurl cannot be loaded).
    struct Tools {
        SideJobs* jobs;
        std::function<HttpChecks&()> http;
    };
    // Each result: nullopt for a pass; else why not, and how many checks
    // have failed in a row. Told from the loop, never from inside a call
    // here, so the probe may be destroyed by whoever it tells.
    // `failures`: how many in a row its spec (the one it was started from) allows.
    using Told = std::function<void(const std::optional<std::string>& failure, unsigned in_row, unsigned failures)>;

    // `serving`: the process is ready already (checked every interval).
    // `cwd`: where a command runs (its child's).
    HealthProbe(uv_loop_t* loop, HealthSpec spec, std::string cwd, Tools tools, bool serving, Told told);
    ~HealthProbe();
    HealthProbe(const HealthProbe&) = delete;
    HealthProbe& operator=(const HealthProbe&) = delete;
    // The process became ready: failures count from none, checks every interval.
    void serving();

private:
    struct Tcp;
    void check();
    void done(std::optional<std::string> failure);
    void schedule(std::uint64_t ms);
    void cancel();

    uv_loop_t* loop_;
    HealthSpec spec_;
    std::string cwd_;
    Tools tools_;
    Told told_;
    std::optional<ListenAddress> tcp_at_;
    uv::Timer next_;     // the next check, or a result to tell from the loop
    uv::Timer timeout_;  // a TCP connect's
    bool serving_ = false;
    bool in_flight_ = false;
    std::uint64_t delay_ = 50;  // while starting
    unsigned in_row_ = 0;
    std::optional<std::string> pending_;  // a failure found at once, told from the loop
    pid_t job_ = 0;
    std::uint64_t http_ = 0;
    Tcp* tcp_ = nullptr;  // freed by its handle's close
};

}  // namespace seq::sup
