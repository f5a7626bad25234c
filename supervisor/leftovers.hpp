// What a supervisor killed with -9 left running: a child's background job,
// a daemon that double-forked into a session of its own. Each process of
// the tree carries the tree's marker, $SEQ_TREE (the top supervisor's run
// dir), in its environment; the next supervisor on that run dir, holding
// its lock, stops every process that carries it before it binds anything
// they might still hold.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "cgroups.hpp"

namespace seq::sup {

// SIGTERM to each process whose $SEQ_TREE is `marker`, then SIGKILL to
// those still there after `grace`; each is logged with its pid and name.
// Only those this process may signal (all, as root). Returns how many
// were found.
// With cgroups on, every process in the tree's cgroups too, marker or not.
std::size_t stop_leftovers(const std::string& marker, std::chrono::milliseconds grace, const Cgroups& cgroups);

}  // namespace seq::sup
