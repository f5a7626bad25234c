// What the top supervisor's HTTP listener serves, all of it read from the
// tree and none of it acting on it: /metrics, /livez, /readyz, and the live
// page (live_page.hpp) with its /tree.json and /child.json/PATH.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <string>

#include "daemon_figures.hpp"
#include "http_listener.hpp"
#include "usage_history.hpp"
#include "uv.hpp"

namespace seq::sup {

class Supervisor;

class HttpRoutes {
public:
    // Starts sampling the tree's usage for the page's sparklines, and
    // asking the stash and workers `daemons` names for their figures.
    HttpRoutes(Supervisor& supervisor, uv_loop_t* loop, std::function<std::vector<DaemonTarget>()> daemons = {});
    HttpReply operator()(std::string_view url);

private:
    // The scrape, made again when the tree has changed (its generation)
    // or a second has passed: a scraper every 100 ms must not have 1,000
    // children's stat files read, and their text made, ten times a
    // second. States and counts are as the tree last reported them; what
    // moves with the clock (uptime, CPU, memory) is at most a second old.
    // The live page's /tree.json is kept the same way, for half a second:
    // each open page asks twice a second. Both are made from one report
    // (the /proc reads of every child), which the sparklines' sample takes
    // too when it is fresh.
    template <class T>
    struct Cached {
        T value{};
        std::uint64_t at = 0, generation = 0;
        bool made = false;
        template <class Make>
        const T& get(std::uint64_t now, std::uint64_t generation_now, std::uint64_t max_age, Make make) {
            if (!made || now - at >= max_age || generation_now != generation) {
                value = make();
                at = now;
                generation = generation_now;
                made = true;
            }
            return value;
        }
    };
    Supervisor& supervisor_;
    uv_loop_t* loop_;
    using Body = std::shared_ptr<const std::string>;
    Cached<Body> metrics_, tree_;
    // Shared by the copies a Route makes of this: one timer, one history,
    // one report.
    struct Usage {
        uv::Timer timer;
        UsageHistory history;
        Supervisor* supervisor;
        Cached<TreeReport> report;
        // The tree with what each child uses, at most `max_age` ms old.
        const TreeReport& fresh(std::uint64_t now, std::uint64_t max_age);
    };
    std::shared_ptr<Usage> usage_;
    std::shared_ptr<DaemonFigures> daemons_;  // null: none asked
};

}  // namespace seq::sup
