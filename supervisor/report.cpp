#include "report.hpp"

#include <algorithm>
#include <type_traits>

namespace seq::sup {

namespace {

using Type = resp::Value::Type;

// Written straight to RESP, field by field: a snapshot of a thousand
// children goes out many times a second while they are added, and a tree
// of values in between would cost a few allocations per field. A flat
// key/value array says its length first: the same code that writes the
// fields counts them first, with nowhere to write (`out` null).
struct Fields {
    std::string* out;
    std::size_t n = 0;
    // The key; true if its value is to be written.
    bool key(std::string_view k) {
        ++n;
        if (out) resp::append_bulk(*out, k);
        return out != nullptr;
    }
    void put(std::string_view k, std::string_view v) {
        if (key(k)) resp::append_bulk(*out, v);
    }
    void put(std::string_view k, std::int64_t v) {
        if (key(k)) resp::append_int(*out, v);
    }
    template <class T>
    void put_maybe(std::string_view k, const std::optional<T>& v) {
        if (!key(k)) return;
        if (!v) resp::append_nil(*out);
        else if constexpr (std::is_same_v<T, std::string>) resp::append_bulk(*out, *v);
        else resp::append_int(*out, *v);
    }
};

// Its fields, counted and then written: one array of key/value pairs.
template <class Each>
void append_fields(std::string& out, Each&& each) {
    Fields count{nullptr};
    each(count);
    resp::append_array(out, count.n * 2);
    Fields write{&out};
    each(write);
}

void append_child(std::string& out, const ChildReport& c);

void child_fields(Fields& f, const ChildReport& c) {
    f.put("name", c.name);
    f.put("type", c.type);
    f.put_maybe("pid", c.pid);
    f.put("state", c.state);
    f.put("restarts", c.restarts);
    f.put_maybe("last_start", c.last_start);
    if (c.stopped_by) f.put("stopped_by", *c.stopped_by);
    f.put("spawns", c.spawns);
    f.put_maybe("last_exit", c.last_exit);
    f.put_maybe("uptime_ms", c.uptime_ms);
    f.put_maybe("restart_in_ms", c.restart_in_ms);
    if (c.standby_kept) f.put_maybe("standby", c.standby);
    f.put("generation", c.generation);
    if (c.rollout) f.put("rollout", *c.rollout);
    if (c.surge_pid) f.put("surge_pid", *c.surge_pid);
    if (!c.draining.empty() && f.key("draining")) {
        resp::append_array(*f.out, c.draining.size());
        for (auto pid : c.draining) resp::append_int(*f.out, pid);
    }
    if (c.upgrade) f.put("upgrade", *c.upgrade);
    if (c.log_file) f.put("log_file", *c.log_file);
    if (c.log_dropped) f.put("log_dropped", c.log_dropped);
    f.put_maybe("memory_bytes", c.memory_bytes);
    f.put_maybe("cpu_ms", c.cpu_ms);
    f.put_maybe("memory_max", c.memory_max);
    if (c.cgroup) f.put("cgroup", *c.cgroup);
    if (!c.sockets.empty() && f.key("sockets")) {
        resp::append_array(*f.out, c.sockets.size());
        for (auto& s : c.sockets)
            append_fields(*f.out, [&](Fields& g) {
                g.put("name", s.name);
                g.put("address", s.address);
            });
    }
    if (c.pool && f.key("instances")) {
        resp::append_array(*f.out, c.instances.size());
        for (auto& k : c.instances) append_child(*f.out, k);
    }
    if (c.type == "supervisor" || c.type == "dynamic") {
        f.put("strategy", c.strategy);
        if (c.type == "dynamic") f.put_maybe("max_children", c.max_children);
        f.put("max_restarts", c.max_restarts);
        f.put("max_seconds", c.max_seconds);
        f.put("restarts_in_window", c.restarts_in_window);
        if (f.key("children")) {
            resp::append_array(*f.out, c.children.size());
            for (auto& k : c.children) append_child(*f.out, k);
        }
    }
    f.put("settled", std::int64_t{c.settled ? 1 : 0});
    f.put("busy", std::int64_t{c.busy ? 1 : 0});
}

void append_child(std::string& out, const ChildReport& c) {
    append_fields(out, [&](Fields& f) { child_fields(f, c); });
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
        if (k == "generation") return read_int(v, c.generation);
        if (k == "rollout") return read_str(v, c.rollout);
        if (k == "surge_pid") return read_int(v, c.surge_pid);
        if (k == "upgrade") return read_str(v, c.upgrade);
        if (k == "log_file") return read_str(v, c.log_file);
        if (k == "log_dropped") return read_int(v, c.log_dropped);
        if (k == "memory_bytes") return read_int(v, c.memory_bytes);
        if (k == "cpu_ms") return read_int(v, c.cpu_ms);
        if (k == "memory_max") return read_int(v, c.memory_max);
        if (k == "cgroup") return read_str(v, c.cgroup);
        if (k == "draining") {
            if (v.type != Type::array) return false;
            for (auto& pid : v.elems)
                if (!read_int(pid, c.draining.emplace_back())) return false;
            return true;
        }
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

void append_report(std::string& out, const TreeReport& r) {
    resp::append_array(out, 2);
    append_fields(out, [&](Fields& f) {
        f.put("strategy", r.strategy);
        f.put("max_restarts", r.max_restarts);
        f.put("max_seconds", r.max_seconds);
        f.put("restarts_in_window", r.restarts_in_window);
        f.put("pid", r.pid);
        f.put("state", r.state);
    });
    resp::append_array(out, r.children.size());
    for (auto& c : r.children) append_child(out, c);
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
