// What the HTTP listener says of the tree, from its report: the Prometheus
// text format (0.0.4) at /metrics, and whether it is ready (/readyz). Pure
// functions of a TreeReport, so they are tested without sockets.
#pragma once

#include <string>
#include <string_view>

#include "report.hpp"

namespace seq::sup {

// A label's value as the text format wants it: \\, " and newline escaped.
std::string label_value(std::string_view s);

// Every child's and supervisor's figures, one family at a time, labelled
// by `path` (the top supervisor's is "/") and, for a pool's instances,
// `instance` (its index).
std::string metrics_text(const TreeReport& r);

struct TreeHealth {
    bool ready = false;
    std::string body;  // "ready\n", or each child that is not, a line each
};
// Ready: every child at every depth runs, or is down for good (stopped by
// request, or ended and not to be restarted); none is starting, stopping,
// backing off, and the tree is not stopping.
TreeHealth tree_readiness(const TreeReport& r);

}  // namespace seq::sup
