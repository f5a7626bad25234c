#include "strategy.hpp"

namespace seq::sup {

std::optional<Strategy> parse_strategy(std::string_view s) {
    if (s == "one_for_one") return Strategy::one_for_one;
    if (s == "one_for_all") return Strategy::one_for_all;
    if (s == "rest_for_one") return Strategy::rest_for_one;
    return std::nullopt;
}

std::string_view to_string(Strategy s) {
    switch (s) {
    case Strategy::one_for_one: return "one_for_one";
    case Strategy::one_for_all: return "one_for_all";
    case Strategy::rest_for_one: return "rest_for_one";
    }
    return "?";
}

std::optional<RestartType> parse_restart_type(std::string_view s) {
    if (s == "permanent") return RestartType::permanent;
    if (s == "transient") return RestartType::transient;
    if (s == "temporary") return RestartType::temporary;
    return std::nullopt;
}

std::string_view to_string(RestartType t) {
    switch (t) {
    case RestartType::permanent: return "permanent";
    case RestartType::transient: return "transient";
    case RestartType::temporary: return "temporary";
    }
    return "?";
}

bool wants_restart(RestartType type, bool normal_exit) {
    switch (type) {
    case RestartType::permanent: return true;
    case RestartType::transient: return !normal_exit;
    case RestartType::temporary: return false;
    }
    return false;
}

Plan plan_restart(Strategy s, std::size_t count, std::size_t dead, bool pooled) {
    Plan p;
    if (dead >= count) return p;
    if (pooled) {
        p.start.push_back(dead);
        return p;
    }
    std::size_t first = dead;  // one_for_one and rest_for_one start from the dead child
    std::size_t last = s == Strategy::one_for_one ? dead + 1 : count;
    if (s == Strategy::one_for_all) first = 0;
    for (std::size_t i = last; i-- > first;)
        if (i != dead) p.stop.push_back(i);
    for (std::size_t i = first; i < last; ++i) p.start.push_back(i);
    return p;
}

}  // namespace seq::sup
