// The state of a supervisor's tree as a value: what STATUS answers, and the
// snapshot a nested supervisor sends its parent.
#include <unistd.h>

#include "supervisor.hpp"

namespace seq::sup {

namespace {

resp::Value bulk(std::string_view s) {
    resp::Value v;
    v.type = resp::Value::Type::bulk;
    v.str = s;
    return v;
}

resp::Value integer(std::int64_t n) {
    resp::Value v;
    v.type = resp::Value::Type::integer;
    v.integer = n;
    return v;
}

resp::Value array() {
    resp::Value v;
    v.type = resp::Value::Type::array;
    return v;
}

void put(resp::Value& kv, std::string_view key, resp::Value value) {
    kv.elems.push_back(bulk(key));
    kv.elems.push_back(std::move(value));
}

}  // namespace

std::string Supervisor::child_state_name(const Child& c, std::uint64_t now) {
    auto state = state_of(c);
    if (state != State::down) return state_name(state);
    if (!c.wants_running()) return "stopped";
    return c.not_before_ms > now ? "waiting" : "down";
}

resp::Value Supervisor::snapshot() {
    auto now = loop_.now();
    auto top = array();
    put(top, "strategy", bulk(to_string(options_.strategy)));
    put(top, "max_restarts", integer(options_.max_restarts));
    put(top, "max_seconds", integer(static_cast<std::int64_t>(options_.max_seconds)));
    put(top, "restarts_in_window", integer(static_cast<std::int64_t>(intensity_.recent(now))));
    put(top, "pid", integer(getpid()));
    put(top, "state", bulk(shutting_down_ ? "stopping" : "running"));
    auto children = array();
    for (auto& c : children_) {
        auto kv = array();
        put(kv, "name", bulk(c->spec.name));
        put(kv, "type", bulk(to_string(c->spec.type)));
        put(kv, "pid", c->active ? integer(c->active->pid) : resp::Value{});
        auto state = child_state_name(*c, now);
        bool waiting = state == "waiting";
        put(kv, "state", bulk(state));
        // Every start after the first is a restart, whatever caused it.
        put(kv, "restarts", integer(static_cast<std::int64_t>(c->spawns > 0 ? c->spawns - 1 : 0)));
        put(kv, "last_start", c->spawns > 1 ? bulk(to_string(c->last_cause)) : resp::Value{});
        if (c->goal == Goal::held && !c->active)
            put(kv, "stopped_by", bulk(c->spawns == 0 && !c->spec.autostart ? "autostart" : "request"));
        put(kv, "spawns", integer(static_cast<std::int64_t>(c->spawns)));
        put(kv, "last_exit", c->last_exit.empty() ? resp::Value{} : bulk(c->last_exit));
        put(kv, "uptime_ms", c->active ? integer(static_cast<std::int64_t>(now - c->active->started_ms)) : resp::Value{});
        // Backing off: how long until it starts again.
        put(kv, "restart_in_ms", waiting ? integer(static_cast<std::int64_t>(c->not_before_ms - now)) : resp::Value{});
        if (c->spec.standby)  // its pid once it is idle and may be activated
            put(kv, "standby", c->standby && c->standby->phase == lifecycle::Phase::idle ? integer(c->standby->pid)
                                                                                       : resp::Value{});
        if (c->spec.type == ChildType::supervisor) {
            put(kv, "strategy", bulk(to_string(c->spec.sub.strategy)));
            put(kv, "max_restarts", integer(c->spec.sub.max_restarts));
            put(kv, "max_seconds", integer(static_cast<std::int64_t>(c->spec.sub.max_seconds)));
            const resp::Value* snap = c->active && c->subtree ? c->subtree->snapshot() : nullptr;
            auto* window = snap && !snap->elems.empty() ? resp::field(snap->elems[0], "restarts_in_window") : nullptr;
            put(kv, "restarts_in_window", window ? *window : integer(0));
            put(kv, "children", snap ? aged_children(*snap, now - c->subtree->received_ms()) : array());
        }
        put(kv, "settled", integer(child_settled(*c) ? 1 : 0));
        put(kv, "busy", integer(child_busy(*c) ? 1 : 0));
        children.elems.push_back(std::move(kv));
    }
    auto v = array();
    v.elems.push_back(std::move(top));
    v.elems.push_back(std::move(children));
    return v;
}

void Supervisor::status(std::string& out) { resp::append_value(out, snapshot()); }

}  // namespace seq::sup
