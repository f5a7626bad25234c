// OTP's restart decisions as pure functions: which children a death stops
// and restarts, and whether the child is restarted at all. No processes here.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace seq::sup {

enum class Strategy { one_for_one, one_for_all, rest_for_one };
enum class RestartType { permanent, transient, temporary };

std::optional<Strategy> parse_strategy(std::string_view s);
std::string_view to_string(Strategy s);
std::optional<RestartType> parse_restart_type(std::string_view s);
std::string_view to_string(RestartType t);

// Whether a child that ended is restarted: permanent always, transient only
// after an abnormal end (not exit status 0), temporary never.
bool wants_restart(RestartType type, bool normal_exit);

// What a death of child `dead` (of `count`, in start order) sets off.
// `pooled`: the dead child is one instance of a pool, which the strategy
// sees as one child that one instance's death does not end: that instance
// alone is started again, whatever the strategy.
struct Plan {
    std::vector<std::size_t> stop;   // the others to stop first, in reverse start order
    std::vector<std::size_t> start;  // then to start, in start order (dead included)
};
Plan plan_restart(Strategy s, std::size_t count, std::size_t dead, bool pooled = false);

}  // namespace seq::sup
