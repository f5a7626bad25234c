#include "report.hpp"

#include <algorithm>

namespace seq::sup {

namespace {

using Type = resp::Value::Type;

resp::Value bulk(std::string_view s) {
    resp::Value v;
    v.type = Type::bulk;
    v.str = s;
    return v;
}

resp::Value integer(std::int64_t n) {
    resp::Value v;
    v.type = Type::integer;
    v.integer = n;
    return v;
}

resp::Value array() {
    resp::Value v;
    v.type = Type::array;
    return v;
}

resp::Value maybe(const std::optional<std::int64_t>& n) { return n ? integer(*n) : resp::Value{}; }
resp::Value maybe(const std::optional<std::string>& s) { return s ? bulk(*s) : resp::Value{}; }

void put(resp::Value& kv, std::string_view key, resp::Value value) {
    kv.elems.push_back(bulk(key));
    kv.elems.push_back(std::move(value));
}

resp::Value child_value(const ChildReport& c) {
    auto kv = array();
    put(kv, "name", bulk(c.name));
    put(kv, "type", bulk(c.type));
    put(kv, "pid", maybe(c.pid));
    put(kv, "state", bulk(c.state));
    put(kv, "restarts", integer(c.restarts));
    put(kv, "last_start", maybe(c.last_start));
    if (c.stopped_by) put(kv, "stopped_by", bulk(*c.stopped_by));
    put(kv, "spawns", integer(c.spawns));
    put(kv, "last_exit", maybe(c.last_exit));
    put(kv, "uptime_ms", maybe(c.uptime_ms));
    put(kv, "restart_in_ms", maybe(c.restart_in_ms));
    if (c.standby_kept) put(kv, "standby", maybe(c.standby));
    if (!c.sockets.empty()) {
        auto list = array();
        for (auto& s : c.sockets) {
            auto one = array();
            put(one, "name", bulk(s.name));
            put(one, "address", bulk(s.address));
            list.elems.push_back(std::move(one));
        }
        put(kv, "sockets", std::move(list));
    }
    if (c.pool) {
        auto list = array();
        for (auto& k : c.instances) list.elems.push_back(child_value(k));
        put(kv, "instances", std::move(list));
    }
    if (c.type == "supervisor" || c.type == "dynamic") {
        put(kv, "strategy", bulk(c.strategy));
        if (c.type == "dynamic") put(kv, "max_children", maybe(c.max_children));
        put(kv, "max_restarts", integer(c.max_restarts));
        put(kv, "max_seconds", integer(c.max_seconds));
        put(kv, "restarts_in_window", integer(c.restarts_in_window));
        auto children = array();
        for (auto& k : c.children) children.elems.push_back(child_value(k));
        put(kv, "children", std::move(children));
    }
    put(kv, "settled", integer(c.settled ? 1 : 0));
    put(kv, "busy", integer(c.busy ? 1 : 0));
    return kv;
}

// Reads a flat key/value array, key by key; false if it is not one.
template <class F>
bool each_field(const resp::Value& kv, F&& f) {
    if (kv.type != Type::array || kv.elems.size() % 2 != 0) return false;
    for (std::size_t i = 0; i < kv.elems.size(); i += 2)
        if (!f(kv.elems[i].str, kv.elems[i + 1])) return false;
    return true;
}

bool read_int(const resp::Value& v, std::int64_t& out) {
    if (v.type != Type::integer) return false;
    out = v.integer;
    return true;
}

bool read_int(const resp::Value& v, std::optional<std::int64_t>& out) {
    if (v.type == Type::nil) return true;
    out.emplace();
    return read_int(v, *out);
}

bool read_str(const resp::Value& v, std::string& out) {
    if (v.type != Type::bulk && v.type != Type::simple) return false;
    out = v.str;
    return true;
}

bool read_str(const resp::Value& v, std::optional<std::string>& out) {
    if (v.type == Type::nil) return true;
    out.emplace();
    return read_str(v, *out);
}

bool read_children(const resp::Value& v, std::vector<ChildReport>& out);

bool read_sockets(const resp::Value& v, std::vector<ChildReport::Socket>& out) {
    if (v.type != Type::array) return false;
    for (auto& kv : v.elems) {
        auto& s = out.emplace_back();
        bool ok = each_field(kv, [&](std::string_view k, const resp::Value& f) {
            if (k == "name") return read_str(f, s.name);
            if (k == "address") return read_str(f, s.address);
            return true;
        });
        if (!ok) return false;
    }
    return true;
}

bool read_child(const resp::Value& kv, ChildReport& c) {
    return each_field(kv, [&](std::string_view k, const resp::Value& v) {
        std::int64_t flag = 0;
        if (k == "name") return read_str(v, c.name);
        if (k == "type") return read_str(v, c.type);
        if (k == "pid") return read_int(v, c.pid);
        if (k == "state") return read_str(v, c.state);
        if (k == "restarts") return read_int(v, c.restarts);
        if (k == "spawns") return read_int(v, c.spawns);
        if (k == "last_start") return read_str(v, c.last_start);
        if (k == "stopped_by") return read_str(v, c.stopped_by);
        if (k == "last_exit") return read_str(v, c.last_exit);
        if (k == "uptime_ms") return read_int(v, c.uptime_ms);
        if (k == "restart_in_ms") return read_int(v, c.restart_in_ms);
        if (k == "standby") return (c.standby_kept = true, read_int(v, c.standby));
        if (k == "sockets") return read_sockets(v, c.sockets);
        if (k == "strategy") return read_str(v, c.strategy);
        if (k == "max_restarts") return read_int(v, c.max_restarts);
        if (k == "max_seconds") return read_int(v, c.max_seconds);
        if (k == "restarts_in_window") return read_int(v, c.restarts_in_window);
        if (k == "max_children") return read_int(v, c.max_children);
        if (k == "children") return read_children(v, c.children);
        if (k == "instances") return (c.pool = true, read_children(v, c.instances));
        if (k == "settled") return read_int(v, flag) && ((c.settled = flag == 1), true);
        if (k == "busy") return read_int(v, flag) && ((c.busy = flag == 1), true);
        return true;  // a field of a newer supervisor: not ours to read
    });
}

bool read_children(const resp::Value& v, std::vector<ChildReport>& out) {
    if (v.type != Type::array) return false;
    for (auto& kv : v.elems)
        if (!read_child(kv, out.emplace_back())) return false;
    return true;
}

}  // namespace

resp::Value to_resp(const TreeReport& r) {
    auto top = array();
    put(top, "strategy", bulk(r.strategy));
    put(top, "max_restarts", integer(r.max_restarts));
    put(top, "max_seconds", integer(r.max_seconds));
    put(top, "restarts_in_window", integer(r.restarts_in_window));
    put(top, "pid", integer(r.pid));
    put(top, "state", bulk(r.state));
    auto children = array();
    for (auto& c : r.children) children.elems.push_back(child_value(c));
    auto v = array();
    v.elems.push_back(std::move(top));
    v.elems.push_back(std::move(children));
    return v;
}

std::optional<TreeReport> from_resp(const resp::Value& v) {
    if (v.type != Type::array || v.elems.size() != 2) return std::nullopt;
    TreeReport r;
    bool ok = each_field(v.elems[0], [&](std::string_view k, const resp::Value& f) {
        if (k == "strategy") return read_str(f, r.strategy);
        if (k == "max_restarts") return read_int(f, r.max_restarts);
        if (k == "max_seconds") return read_int(f, r.max_seconds);
        if (k == "restarts_in_window") return read_int(f, r.restarts_in_window);
        if (k == "pid") return read_int(f, r.pid);
        if (k == "state") return read_str(f, r.state);
        return true;
    });
    if (!ok || !read_children(v.elems[1], r.children)) return std::nullopt;
    return r;
}

const ChildReport* find_child(const std::vector<ChildReport>& children, std::string_view path) {
    auto slash = path.find('/');
    auto name = path.substr(0, slash);
    for (auto& c : children) {
        if (slash == std::string_view::npos && c.pool)
            for (auto& k : c.instances)
                if (k.name == name) return &k;
        if (c.name != name) continue;
        if (slash == std::string_view::npos) return &c;
        return find_child(c.children, path.substr(slash + 1));
    }
    return nullptr;
}

bool settled(const TreeReport& r) {
    return r.state == "running" &&
           std::all_of(r.children.begin(), r.children.end(), [](auto& c) { return c.settled; });
}

bool busy(const TreeReport& r) {
    return std::any_of(r.children.begin(), r.children.end(), [](auto& c) { return c.busy; });
}

void age(std::vector<ChildReport>& children, std::int64_t ms) {
    for (auto& c : children) {
        if (c.uptime_ms) *c.uptime_ms += ms;
        age(c.children, ms);
        age(c.instances, ms);
    }
}

}  // namespace seq::sup
