// What the top supervisor's HTTP listener serves, all of it read from the
// tree and none of it acting on it: /metrics, /livez, /readyz.
#pragma once

#include <cstdint>
#include <string_view>
#include <string>

#include "http_listener.hpp"

namespace seq::sup {

class Supervisor;

class HttpRoutes {
public:
    HttpRoutes(Supervisor& supervisor, uv_loop_t* loop) : supervisor_(supervisor), loop_(loop) {}
    HttpReply operator()(std::string_view url);

private:
    // The scrape, made again when the tree has changed (its generation)
    // or a second has passed: a scraper every 100 ms must not have 1,000
    // children's stat files read, and their text made, ten times a
    // second. States and counts are as the tree last reported them; what
    // moves with the clock (uptime, CPU, memory) is at most a second old.
    const std::string& metrics();
    Supervisor& supervisor_;
    uv_loop_t* loop_;
    std::string metrics_;
    std::uint64_t metrics_at_ = 0, metrics_generation_ = 0;
    bool metrics_made_ = false;
};

}  // namespace seq::sup
