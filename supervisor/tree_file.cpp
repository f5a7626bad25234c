#include "tree_file.hpp"

#include "env_file.hpp"
#include "listen_address.hpp"
#include "tree_events.hpp"
#include "supervisor_variables.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

// toml++ compiled here alone, header-only: no shared library for a restarted
// nested supervisor to load, and no second copy of libstdc++ beside our
// static one.
#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

namespace seq::sup {

namespace {

const std::set<std::string_view> top_keys = {"strategy", "max_restarts", "max_seconds", "auto_shutdown", "stash", "stash_acl", "http", "crash_loop_restarts", "crash_loop_seconds", "on_event", "child",
                                             "log_dir", "log_stderr", "run_dir_group", "control_group"};
const std::set<std::string_view> common_keys = {"name", "type", "restart", "autostart", "significant", "shutdown",
                                                "start_timeout", "backoff"};
const std::set<std::string_view> log_keys = {"file", "max_size", "keep", "stderr"};
const std::set<std::string_view> backoff_keys = {"initial", "factor", "max", "reset_after"};
const std::set<std::string_view> worker_keys = {"stash_keys", "memory_max", "memory_high", "cpu_max", "pids_max", "io_weight", "env_file", "user", "group", "supplementary_groups", "umask", "nice", "limits", "log", "command", "program", "readiness", "sockets", "env", "cwd", "watchdog", "health", "reserve", "standby", "instances",
                                                "update", "max_surge", "min_uptime", "migrate"};
const std::set<std::string_view> supervisor_keys = {"strategy", "max_restarts", "max_seconds", "auto_shutdown", "child",
                                                    "log_dir", "log_stderr"};
const std::set<std::string_view> on_event_keys = {"command", "events", "timeout"};
const std::set<std::string_view> health_keys = {"http", "tcp", "command", "interval", "timeout", "failures"};
const std::set<std::string_view> socket_keys = {"name", "path", "listen", "backlog", "reuse_address", "ipv6_only",
                                                "mode", "owner", "group"};
const std::set<std::string_view> dynamic_keys = {"max_restarts", "max_seconds", "max_children", "template", "log_dir",
                                                 "log_stderr"};
// What a dynamic supervisor's template may not say: each child added from
// it gets these from `seqctl add`, or cannot have them.
const std::map<std::string_view, const char*> not_in_template = {
    {"name", "not in a template: each child added from it is named by seqctl add"},
    {"type", "not in a template: it is a worker's spec"},
    {"autostart", "not in a template: an added child starts when it is added"},
    {"significant", "not in a template: a dynamic supervisor's children end nothing but themselves"},
    {"instances", "not in a template: add as many children as you need"},
};
// Files of the run dir that are not sockets a tree may name.
const std::set<std::string_view> reserved_paths = {"control.sock", "notify.sock", "supervisor.lock"};

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string in_quotes(std::string_view s) {
    std::string r = "\"";
    for (char c : s.substr(0, 80)) r += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    return r + "\"";
}

// The limits a child's `limits` may set, by the name ulimit and systemd use.
const std::pair<const char*, int> resource_names[] = {
    {"as", RLIMIT_AS},         {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},   {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE},
    {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO}, {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
};

// cpu_max as cgroup's cpu.max takes it: "50%" is "50000 100000" (of one
// CPU; "200%", two), or "QUOTA PERIOD" in microseconds (1000 to 1000000).
std::optional<std::string> cpu_max_of(std::string_view v) {
    auto number = [](std::string_view s) -> std::optional<std::uint64_t> {
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
        return n;
    };
    if (v.ends_with('%')) {
        auto pct = number(v.substr(0, v.size() - 1));
        if (!pct || *pct < 1 || *pct > 100000) return std::nullopt;
        return std::to_string(*pct * 1000) + " 100000";
    }
    auto space = v.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    auto quota = number(v.substr(0, space)), period = number(v.substr(space + 1));
    if (!quota || !period || *period < 1000 || *period > 1000000 || *quota < 1000) return std::nullopt;
    return std::to_string(*quota) + " " + std::to_string(*period);
}

// A user's uid and primary gid, from the user database.
std::optional<std::pair<std::uint32_t, std::uint32_t>> user_named(const std::string& name) {
    std::vector<char> buf(16384);
    passwd pw{}, *found = nullptr;
    int err;
    while ((err = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE && buf.size() < (1 << 24))
        buf.resize(buf.size() * 4);
    if (err != 0 || !found) return std::nullopt;
    return std::pair{static_cast<std::uint32_t>(pw.pw_uid), static_cast<std::uint32_t>(pw.pw_gid)};
}

std::optional<std::uint32_t> group_named(const std::string& name) {
    std::vector<char> buf(16384);  // a group with many members needs more: grown until it fits
    group gr{}, *found = nullptr;
    int err;
    while ((err = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found)) == ERANGE && buf.size() < (1 << 24))
        buf.resize(buf.size() * 4);
    if (err != 0 || !found) return std::nullopt;
    return static_cast<std::uint32_t>(gr.gr_gid);
}

// Whether this process may give a file to group `gid`: root may give any;
// anyone else, only a group of its own.
bool may_give_group(std::uint32_t gid) {
    if (geteuid() == 0 || gid == getegid()) return true;
    std::vector<gid_t> mine(static_cast<std::size_t>(std::max(getgroups(0, nullptr), 0)));
    int n = getgroups(static_cast<int>(mine.size()), mine.data());
    return std::find(mine.begin(), mine.begin() + std::max(n, 0), gid) != mine.begin() + std::max(n, 0);
}

// The groups initgroups would give `user` with primary group `gid`.
std::vector<std::uint32_t> groups_of(const std::string& user, std::uint32_t gid) {
    std::vector<gid_t> list(64);
    int n = static_cast<int>(list.size());
    while (getgrouplist(user.c_str(), gid, list.data(), &n) < 0) list.resize(static_cast<std::size_t>(n) * 2 + 1), n = static_cast<int>(list.size());
    return {list.begin(), list.begin() + n};
}

// Why a log file (or, with `dir`, a log directory) at `p` could not be
// made, where that can be told before it is: what is there is of the wrong
// kind, or the nearest folder that exists is not one or is not writable.
std::optional<std::string> log_path_problem(const std::filesystem::path& p, bool dir) {
    std::error_code ec;
    auto st = std::filesystem::status(p, ec);
    if (std::filesystem::exists(st)) {
        if (dir != std::filesystem::is_directory(st))
            return in_quotes(p.string()) + (dir ? " is not a directory" : " is a directory, not a file");
        if (access(p.c_str(), W_OK | (dir ? X_OK : 0)) != 0)
            return "cannot write " + in_quotes(p.string()) + ": " + std::strerror(errno);
        return std::nullopt;
    }
    auto up = p.parent_path();
    while (!std::filesystem::exists(up, ec) && up.has_relative_path()) up = up.parent_path();
    if (!std::filesystem::is_directory(up, ec))
        return "cannot create " + in_quotes(p.string()) + ": " + in_quotes(up.string()) + " is not a directory";
    if (access(up.c_str(), W_OK | X_OK) != 0)
        return "cannot create " + in_quotes(p.string()) + " in " + in_quotes(up.string()) + ": " + std::strerror(errno);
    return std::nullopt;
}

class Loader {
public:
    Loader(const std::string& file, const LoadContext& ctx) : file_(file), ctx_(ctx) {
        std::error_code ec;
        auto abs = std::filesystem::absolute(file, ec);
        dir_ = ec ? std::string(".") : abs.parent_path().string();
    }

    Tree load(const toml::table& doc) {
        Tree tree;
        std::optional<std::pair<std::string, toml::source_region>> stash;
        for (auto&& [key, node] : doc) {
            auto k = key.str();
            if (k == "template" || k == "max_children") {
                // The subtree a dynamic supervisor is handed has them at its top.
                if (!ctx_.subtree)
                    unknown(key, "", {}, "only for a child of type = \"dynamic\" (the top of a tree lists its children)");
            } else if (!top_keys.count(k)) {
                unknown(key, "", top_keys);
            } else if (k == "stash") {
                if (auto s = string_of(node, "", "stash")) stash = {{*s, node.source()}};
            } else if (k == "http") {
                if (auto s = string_of(node, "", "http")) {
                    std::string why;
                    if (auto a = http_address(*s, why)) tree.http = *a;
                    else error(node.source(), "", "http", why + " (HOST:PORT, PORT on 127.0.0.1, or a Unix socket's path)");
                }
            } else if (k == "crash_loop_restarts" || k == "crash_loop_seconds") {
                auto b = k == "crash_loop_restarts" ? bounds::crash_loop_restarts : bounds::crash_loop_seconds;
                if (auto v = integer_of(node, "", k, b))
                    (k == "crash_loop_restarts" ? tree.crash_loop_restarts : tree.crash_loop_seconds) =
                        static_cast<std::uint32_t>(*v);
            } else if (k == "on_event") {
                tree.on_event = hook(node);
            } else if (k == "stash_acl") {
                if (auto* b = node.as_boolean()) tree.stash_acl = b->get();
                else error(node.source(), "", "stash_acl", "expected true or false");
            } else if (k == "run_dir_group" || k == "control_group") {
                if (auto g = named_group(node, "", k)) (k == "run_dir_group" ? tree.run_dir_group : tree.control_group) = g;
            }
        }
        run_dir_group_ = tree.run_dir_group;
        supervisor_flags(doc, "", tree.root);
        log_defaults(doc, "");
        if (ctx_.subtree && doc.get("template")) dynamic_flags(doc, "", tree.root);
        else children(doc, "", tree.root);
        if (stash) {
            const auto all = sockets_of(tree.root);  // held: `found` points into it
            const SocketSpec* found = nullptr;
            for (auto& s : all)
                if (s.name == stash->first) found = &s;
            if (!found)
                error(stash->second, "", "stash", "no socket named " + in_quotes(stash->first) + " in the tree");
            else if (found->tcp())
                error(stash->second, "", "stash",
                      in_quotes(stash->first) + " is a TCP socket; $SEQ_STASH names a Unix socket's path");
            tree.stash = stash->first;
            // `AUTH password` logs in as `default`: the operator's, at the top.
            for (auto& c : tree.root.children)
                if (tree.stash_acl && !ctx_.subtree && c.name == "default")
                    error(stash->second, "", "stash_acl",
                          "a child at the top is named \"default\", which is the stash's operator's user: name it "
                          "otherwise, or set stash_acl = false");
        }
        return tree;
    }

    std::vector<std::string> errors;

private:
    void error(const toml::source_region& at, const std::string& child, std::string_view key, const std::string& what) {
        std::string where = file_ + ":" + std::to_string(at.begin.line) + ":" + std::to_string(at.begin.column) + ": ";
        std::string subject = child.empty() ? "" : "child " + in_quotes(child) + ", ";
        subject += "key " + in_quotes(key) + ": ";
        errors.push_back(where + subject + what);
    }

    // `table`: the key's table within the child ("backoff"), so that the
    // error names the key as the file spells it ("backoff.intial").
    void unknown(const toml::key& key, const std::string& child, const std::set<std::string_view>& known,
                 const char* note = nullptr, std::string_view table = {}) {
        std::string what = note ? note : "unknown key";
        if (!note) {
            std::string_view best;
            std::size_t best_d = 3;
            for (auto k : known)
                if (auto d = edit_distance(key.str(), k); d < best_d) best_d = d, best = k;
            if (!best.empty()) what += "; did you mean " + in_quotes(best) + "?";
        }
        error(key.source(), child, table.empty() ? std::string(key.str()) : std::string(table) + "." + std::string(key.str()),
              what);
    }

    // A number of bytes: an integer, or a string with a binary suffix as
    // systemd's MemoryMax= takes it ("512K", "200M", "1G", "2T").
    std::optional<std::uint64_t> size_of(const toml::node& n, const std::string& child, std::string_view key, Bounds b) {
        std::optional<std::uint64_t> v;
        if (auto* i = n.as_integer(); i && i->get() >= 0) {
            v = static_cast<std::uint64_t>(i->get());
        } else if (auto* s = n.as_string()) {
            const auto& text = s->get();
            std::uint64_t number = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
            std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
            int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : unit == "T" ? 40 : -1;
            if (ec == std::errc{} && end != text.data() && shift >= 0 && number <= (~std::uint64_t{0} >> shift))
                v = number << shift;
        }
        if (!v) {
            error(n.source(), child, key, "expected a number of bytes, or one with K, M, G or T, such as \"200M\"");
            return std::nullopt;
        }
        if (*v < static_cast<std::uint64_t>(b.lo) || *v > static_cast<std::uint64_t>(b.hi)) {
            error(n.source(), child, key, std::to_string(*v) + " bytes is out of range (" + std::to_string(b.lo) + " to " +
                                              std::to_string(b.hi) + ")");
            return std::nullopt;
        }
        return v;
    }

    // A group this supervisor may give its files to, by name.
    std::optional<NamedGroup> named_group(const toml::node& n, const std::string& child, std::string_view key) {
        auto name = string_of(n, child, key);
        if (!name) return std::nullopt;
        auto gid = group_named(*name);
        if (!gid) {
            error(n.source(), child, key, "no such group: " + in_quotes(*name));
            return std::nullopt;
        }
        if (!may_give_group(*gid)) {
            error(n.source(), child, key,
                  "only a supervisor running as root may give its files to a group it is not in (" + in_quotes(*name) +
                      ")");
            return std::nullopt;
        }
        return NamedGroup{*name, *gid};
    }

    std::optional<std::string> string_of(const toml::node& n, const std::string& child, std::string_view key) {
        if (auto* s = n.as_string()) return s->get();
        error(n.source(), child, key, "expected a string");
        return std::nullopt;
    }

    // A whole number in [lo, hi].
    std::optional<std::int64_t> integer_of(const toml::node& n, const std::string& child, std::string_view key,
                                           Bounds b) {
        auto [lo, hi] = b;
        auto* i = n.as_integer();
        if (!i) {
            error(n.source(), child, key, "expected a whole number");
            return std::nullopt;
        }
        if (i->get() < lo || i->get() > hi) {
            error(n.source(), child, key,
                  std::to_string(i->get()) + " is out of range (" + std::to_string(lo) + " to " + std::to_string(hi) + ")");
            return std::nullopt;
        }
        return i->get();
    }

    void supervisor_flags(const toml::table& t, const std::string& child, SupervisorSpec& s) {
        if (auto* n = t.get("strategy"))
            if (auto v = string_of(*n, child, "strategy")) {
                if (auto st = parse_strategy(*v)) s.strategy = *st;
                else error(n->source(), child, "strategy",
                           in_quotes(*v) + " is not one of one_for_one, one_for_all, rest_for_one");
            }
        if (auto* n = t.get("max_restarts"))
            if (auto v = integer_of(*n, child, "max_restarts", bounds::max_restarts)) s.max_restarts = static_cast<unsigned>(*v);
        if (auto* n = t.get("max_seconds"))
            if (auto v = integer_of(*n, child, "max_seconds", bounds::max_seconds)) s.max_seconds = static_cast<std::uint64_t>(*v);
        if (auto* n = t.get("auto_shutdown"))
            if (auto v = string_of(*n, child, "auto_shutdown")) {
                if (auto a = parse_auto_shutdown(*v)) s.auto_shutdown = *a;
                else error(n->source(), child, "auto_shutdown",
                           in_quotes(*v) + " is not one of never, any_significant, all_significant");
            }
    }

    void children(const toml::table& t, const std::string& prefix, SupervisorSpec& s) {
        auto* n = t.get("child");
        if (!n) return;
        auto* arr = n->as_array();
        if (!arr || !arr->is_array_of_tables()) {
            error(n->source(), prefix, "child", "expected [[child]] tables");
            return;
        }
        std::set<std::string> names;
        std::size_t index = 0;
        for (auto& elem : *arr) {
            ++index;
            ChildSpec c;
            child(*elem.as_table(), prefix, index, c);
            if (!c.name.empty() && !names.insert(c.name).second)
                error(elem.source(), "", "name",
                      "two children named " + in_quotes(c.name) + (prefix.empty() ? "" : " under " + in_quotes(prefix)));
            s.children.push_back(std::move(c));
        }
    }

    void child(const toml::table& t, const std::string& prefix, std::size_t index, ChildSpec& c) {
        // Messages name the child by its path in the tree, or by its place
        // while it has no usable name.
        std::string path = (prefix.empty() ? "" : prefix + "/") + "#" + std::to_string(index);
        if (auto* n = t.get("name")) {
            if (auto v = string_of(*n, path, "name")) {
                if (valid_name(*v)) {
                    c.name = *v;
                    path = (prefix.empty() ? "" : prefix + "/") + *v;
                } else {
                    error(n->source(), path, "name", in_quotes(*v) + " is not a name: " + name_rule);
                }
            }
        } else {
            error(t.source(), path, "name", "missing: every child needs a name");
        }
        bool dynamic = false;
        if (auto* n = t.get("type"))
            if (auto v = string_of(*n, path, "type")) {
                if (*v == "dynamic") c.type = ChildType::supervisor, dynamic = true;
                else if (auto ty = parse_child_type(*v)) c.type = *ty;
                else error(n->source(), path, "type", in_quotes(*v) + " is not one of worker, supervisor, dynamic");
            }
        const bool sup = c.type == ChildType::supervisor;
        // A supervisor waits for its children to stop, however long (OTP).
        if (sup) c.shutdown_ms = std::nullopt;
        const auto& own = dynamic ? dynamic_keys : sup ? supervisor_keys : worker_keys;
        for (auto&& [key, node] : t) {
            auto k = key.str();
            if (own.count(k) || common_keys.count(k) || (k == "generation" && ctx_.subtree)) continue;
            if (sup && k == "instances")
                unknown(key, path, {}, "only for a worker: a supervisor is not a pool (put the pool below it)");
            else if (dynamic && supervisor_keys.count(k))
                unknown(key, path, {},
                        k == "child" ? "a dynamic supervisor's children are added at run time (seqctl add), from its "
                                       "[child.template]"
                                     : "not for a dynamic supervisor: its children are independent (one_for_one) "
                                       "and end nothing but themselves");
            else if (sup && worker_keys.count(k))
                unknown(key, path, {},
                        dynamic ? "not for a child of type \"dynamic\" (put it in its [child.template])"
                                : "not for a child of type \"supervisor\" (its children have their own)");
            else if (!dynamic && dynamic_keys.count(k) && !supervisor_keys.count(k))
                unknown(key, path, {}, "only for a child of type = \"dynamic\"");
            else if (!sup && supervisor_keys.count(k))
                unknown(key, path, {}, "only for a child of type = \"supervisor\"");
            else {
                std::set<std::string_view> known = common_keys;
                known.insert(worker_keys.begin(), worker_keys.end());
                known.insert(supervisor_keys.begin(), supervisor_keys.end());
                known.insert(dynamic_keys.begin(), dynamic_keys.end());
                unknown(key, path, known);
            }
        }
        child_fields(t, path, c);
        if (sup) {
            // Its log_dir and log_stderr hold for everything below it.
            auto outer = logs_;
            supervisor_flags(t, path, c.sub);
            log_defaults(t, path);
            if (dynamic) {
                logs_path_ = path;  // its children are added at run time: they share its file
                dynamic_flags(t, path, c.sub);
                logs_path_.clear();
            } else {
                children(t, path, c.sub);
            }
            logs_ = outer;
            return;
        }
        worker(t, path, c);
    }

    // A supervisor's log_dir and log_stderr: the defaults of every child
    // below it that does not say otherwise.
    void log_defaults(const toml::table& t, const std::string& path) {
        if (auto* n = t.get("log_dir"))
            if (auto v = string_of(*n, path, "log_dir")) {
                auto dir = (std::filesystem::path(dir_) / *v).lexically_normal();
                if (v->empty()) error(n->source(), path, "log_dir", "empty: name a directory");
                else if (auto why = log_path_problem(dir, true)) error(n->source(), path, "log_dir", *why);
                else logs_.dir = dir.string();
            }
        if (auto* n = t.get("log_stderr")) {
            if (auto* b = n->as_boolean()) logs_.to_stderr = b->get();
            else error(n->source(), path, "log_stderr", "expected true or false");
        }
    }

    // The file of a child that names none: <log_dir>/<its path, / as .>.log.
    void apply_log_defaults(const std::string& path, ChildSpec& c) {
        if (!c.log.file.empty() || logs_.dir.empty()) return;
        std::string name = path;
        std::replace(name.begin(), name.end(), '/', '.');
        c.log.file = (std::filesystem::path(logs_.dir) / (name + ".log")).string();
    }

    // { file = "logs/web.log", max_size = 10485760, keep = 5, stderr = true }
    void log(const toml::node& n, const std::string& path, LogSpec& l) {
        auto* tab = n.as_table();
        if (!tab) {
            error(n.source(), path, "log",
                  "expected a table, such as { file = \"logs/web.log\", max_size = 10485760, keep = 5 }");
            return;
        }
        for (auto&& [key, node] : *tab)
            if (!log_keys.count(key.str())) unknown(key, path, log_keys, nullptr, "log");
        if (auto* f = tab->get("file"))
            if (auto v = string_of(*f, path, "log.file")) {
                auto file = (std::filesystem::path(dir_) / *v).lexically_normal();
                if (v->empty() || v->back() == '/') error(f->source(), path, "log.file", in_quotes(*v) + " is not a file's path");
                else if (auto why = log_path_problem(file, false)) error(f->source(), path, "log.file", *why);
                else l.file = file.string();
            }
        if (auto* v = tab->get("max_size"))
            if (auto i = integer_of(*v, path, "log.max_size", bounds::log_max_size)) l.max_size = static_cast<std::uint64_t>(*i);
        if (auto* v = tab->get("keep"))
            if (auto i = integer_of(*v, path, "log.keep", bounds::log_keep)) l.keep = static_cast<unsigned>(*i);
        if (auto* v = tab->get("stderr")) {
            if (auto* b = v->as_boolean()) l.to_stderr = b->get();
            else error(v->source(), path, "log.stderr", "expected true or false");
        }
    }

    // The keys every child has: restart, significant, autostart, shutdown,
    // start_timeout, backoff.
    void child_fields(const toml::table& t, const std::string& path, ChildSpec& c) {
        if (auto* n = t.get("restart"))
            if (auto v = string_of(*n, path, "restart")) {
                if (auto r = parse_restart_type(*v)) c.restart = *r;
                else error(n->source(), path, "restart", in_quotes(*v) + " is not one of permanent, transient, temporary");
            }
        if (auto* n = t.get("significant")) {
            if (auto* b = n->as_boolean()) {
                c.significant = b->get();
                // OTP refuses it too: a permanent child never ends for good.
                if (c.significant && c.restart == RestartType::permanent)
                    error(n->source(), path, "significant",
                          "only for a transient or temporary child (a permanent one is always restarted)");
            } else {
                error(n->source(), path, "significant", "expected true or false");
            }
        }
        if (auto* n = t.get("autostart")) {
            if (auto* b = n->as_boolean()) c.autostart = b->get();
            else error(n->source(), path, "autostart", "expected true or false");
        }
        if (auto* n = t.get("shutdown")) {
            if (auto* s = n->as_string()) {
                if (s->get() == "brutal_kill") c.shutdown_ms = 0;
                else if (s->get() == "infinity") c.shutdown_ms = std::nullopt;
                else error(n->source(), path, "shutdown",
                           in_quotes(s->get()) + " is not \"brutal_kill\", \"infinity\" or a number of milliseconds");
            } else if (auto v = integer_of(*n, path, "shutdown", bounds::ms)) {
                c.shutdown_ms = static_cast<std::uint64_t>(*v);
            }
        }
        if (auto* n = t.get("start_timeout"))
            if (auto v = integer_of(*n, path, "start_timeout", bounds::start_timeout)) c.start_timeout_ms = static_cast<std::uint64_t>(*v);
        if (auto* n = t.get("backoff")) backoff(*n, path, c.backoff);
        // Numbered by the top supervisor; only a subtree it hands down says it.
        if (auto* n = ctx_.subtree ? t.get("generation") : nullptr)
            if (auto v = integer_of(*n, path, "generation", bounds::generation)) c.generation = static_cast<std::uint64_t>(*v);
    }

    // update, max_surge, min_uptime: how a change of the spec is applied.
    // Read once the rest of the worker is: handover needs what a standby needs.
    void update(const toml::table& t, const std::string& path, ChildSpec& c) {
        if (auto* n = t.get("update"))
            if (auto v = string_of(*n, path, "update")) {
                if (auto u = parse_update(*v)) c.update = *u;
                else error(n->source(), path, "update", in_quotes(*v) + " is not one of restart, rolling, handover");
                if (c.update == Update::handover) {
                    // The new version is started as a standby (sequence-protocol(7): STANDBY PROTOCOL).
                    if (c.readiness != Readiness::notify_fd)
                        error(n->source(), path, "update",
                              "\"handover\" needs readiness = \"notify-fd\" (the new version says it is idle there)");
                    if (c.sockets.empty())
                        error(n->source(), path, "update",
                              "\"handover\" needs sockets: the new version gets them when it takes over");
                    if (c.instances > 0)
                        error(n->source(), path, "update",
                              "\"handover\" is for one process: a pool's instances may run side by side "
                              "(update = \"rolling\")");
                }
            }
        if (auto* n = t.get("max_surge")) {
            if (auto v = integer_of(*n, path, "max_surge", bounds::max_surge)) c.max_surge = static_cast<unsigned>(*v);
            if (c.update != Update::rolling)
                error(n->source(), path, "max_surge",
                      "only with update = \"rolling\" (how many new instances start beside the old)");
        }
        if (auto* n = t.get("migrate")) {
            ChildSpec job;
            command(*n, path, job, "migrate");
            std::string why;
            if (!job.command.empty()) {
                if (auto found = resolve(job.command[0], why)) {
                    job.command[0] = *found;
                    c.migrate = job.command;
                } else {
                    error(n->source(), path, "migrate", why);
                }
            }
            if (c.update == Update::restart)
                error(n->source(), path, "migrate",
                      "only with update = \"rolling\" or \"handover\" (it runs before the first new instance, "
                      "while the old ones serve)");
        }
        if (auto* n = t.get("min_uptime")) {
            if (auto v = integer_of(*n, path, "min_uptime", bounds::min_uptime))
                c.min_uptime_ms = static_cast<std::uint64_t>(*v);
            if (c.update == Update::restart)
                error(n->source(), path, "min_uptime",
                      "only with update = \"rolling\" or \"handover\" (a restart has no rollout to roll back)");
        }
    }

    // A dynamic supervisor's own: max_children, and the template each child
    // added is made from (a worker's spec without a name), here at
    // [child.template] or, in the subtree it is handed, at [template].
    void dynamic_flags(const toml::table& t, const std::string& path, SupervisorSpec& s) {
        if (auto* n = t.get("max_children"))
            if (auto v = integer_of(*n, path, "max_children", bounds::max_children))
                s.max_children = static_cast<unsigned>(*v);
        auto* n = t.get("template");
        if (!n) {
            error(t.source(), path, "template",
                  "missing: a dynamic supervisor needs a [child.template], the worker spec each child added is made from");
            return;
        }
        auto* tab = n->as_table();
        if (!tab) {
            error(n->source(), path, "template", "expected a table: [child.template], a worker's spec without a name");
            return;
        }
        ChildSpec c;
        const std::string at = (path.empty() ? "" : path + "/") + "template";
        for (auto&& [key, node] : *tab) {
            auto k = key.str();
            if (k == "generation" && ctx_.subtree) continue;
            if (auto why = not_in_template.find(k); why != not_in_template.end()) unknown(key, at, {}, why->second);
            else if (!common_keys.count(k) && !worker_keys.count(k)) {
                std::set<std::string_view> known = common_keys;
                known.insert(worker_keys.begin(), worker_keys.end());
                unknown(key, at, known);
            }
        }
        child_fields(*tab, at, c);
        worker(*tab, at, c);
        s.child_template = {std::move(c)};
    }

    // What a worker's table says of it beyond the keys every child has.
    void worker(const toml::table& t, const std::string& path, ChildSpec& c) {
        if (auto* n = t.get("command")) command(*n, path, c);
        else error(t.source(), path, "command", "missing: a worker needs a command to run");
        program(t, path, c);
        if (auto* n = t.get("readiness"))
            if (auto v = string_of(*n, path, "readiness")) {
                if (auto r = parse_readiness(*v)) c.readiness = *r;
                else error(n->source(), path, "readiness", in_quotes(*v) + " is not one of none, notify-fd, sd_notify, health");
            }
        if (auto* n = t.get("sockets")) sockets(*n, path, c);
        if (auto* n = t.get("watchdog"))
            if (auto v = integer_of(*n, path, "watchdog", bounds::watchdog)) c.watchdog_ms = static_cast<std::uint64_t>(*v);
        if (auto* n = t.get("health")) c.health = health(*n, path);
        if (c.readiness == Readiness::health && !t.get("health"))
            error(t.get("readiness")->source(), path, "readiness",
                  "\"health\" needs a health table: the child is ready when its probe first passes");
        if (auto* n = t.get("reserve"))
            if (auto v = integer_of(*n, path, "reserve", bounds::reserve)) c.reserve = static_cast<std::uint64_t>(*v);
        if (auto* n = t.get("standby")) {
            if (auto* b = n->as_boolean()) {
                c.standby = b->get();
                // The protocol hands the standby its sockets at activation and
                // hears it through $SEQ_NOTIFY_FD: without both it could not
                // tell idle from serving.
                if (c.standby && c.readiness != Readiness::notify_fd)
                    error(n->source(), path, "standby", "needs readiness = \"notify-fd\" (the standby says it is idle there)");
                if (c.standby && c.sockets.empty())
                    error(n->source(), path, "standby", "needs sockets: a standby gets them only when it is activated");
            } else {
                error(n->source(), path, "standby", "expected true or false");
            }
        }
        if (auto* n = t.get("instances"))
            if (auto v = integer_of(*n, path, "instances", bounds::instances)) {
                c.instances = static_cast<unsigned>(*v);
                // OTP's significant child is one process whose end ends the
                // supervisor; a pool's instances end and restart one by one.
                if (c.significant)
                    error(n->source(), path, "instances", "a pool cannot be significant (each instance restarts alone)");
            }
        if (auto* n = t.get("env")) env(*n, path, c);
        if (auto* n = t.get("env_file")) env_files(*n, path, c);
        if (auto* n = t.get("stash_keys")) stash_keys(*n, path, c);
        identity(t, path, c);
        limits(t, path, c);
        if (auto* n = t.get("memory_max")) c.memory_max = size_of(*n, path, "memory_max", bounds::memory_max);
        if (auto* n = t.get("memory_high")) c.memory_high = size_of(*n, path, "memory_high", bounds::memory_max);
        for (auto key : {"pids_max", "io_weight"})
            if (auto* n = t.get(key))
                if (auto v = integer_of(*n, path, key, key == std::string_view("pids_max") ? bounds::pids_max : bounds::io_weight))
                    (key == std::string_view("pids_max") ? c.pids_max : c.io_weight) = static_cast<std::uint64_t>(*v);
        if (auto* n = t.get("cpu_max"))
            if (auto v = string_of(*n, path, "cpu_max")) {
                if (auto as = cpu_max_of(*v)) c.cpu_max = *as;
                else error(n->source(), path, "cpu_max", in_quotes(*v) + " is not a share of CPUs, such as \"50%\" or \"150%\", nor cpu.max's \"QUOTA PERIOD\" in microseconds, such as \"50000 100000\"");
            }
        update(t, path, c);
        // Where processes of the child share its address, an HTTP or TCP
        // probe reaches whichever of them the kernel picks: a pool's
        // instances, and a rolling update's new instance beside the old.
        if (auto* n = t.get("health"); n && c.health && c.health->kind != HealthSpec::Kind::command && c.instances > 0)
            error(n->source(), path, "health",
                  "an http or tcp probe of a pool reaches any of its instances, not the one probed: use a command");
        if (auto* n = t.get("readiness"); n && c.update == Update::rolling && c.readiness == Readiness::health)
            error(n->source(), path, "readiness",
                  "\"health\" with update = \"rolling\": the old instance would answer the new one's probe; use "
                  "notify-fd or sd_notify");
        c.log.to_stderr = logs_.to_stderr;  // unless its own log table says
        if (auto* n = t.get("log")) log(*n, path, c.log);
        // A dynamic supervisor's children share its file (their lines name them).
        apply_log_defaults(logs_path_.empty() ? path : logs_path_, c);
        // One writer a file: two would rotate each other's archives away
        // (a pool's instances share the pool's, written by one supervisor).
        if (!c.log.file.empty())
            if (auto [at, fresh] = log_owners_.emplace(c.log.file, path); !fresh)
                error(t.get("log") ? t.get("log")->source() : t.source(), path, "log",
                      "its file " + in_quotes(c.log.file) + " is " + in_quotes(at->second) +
                          "'s too: each child needs a file of its own");
        // Relative paths in a command ("web.py", "--data-dir data") mean
        // what they say beside the tree file, wherever the supervisor was
        // started from: the child runs there unless `cwd` says otherwise.
        c.cwd = dir_;
        if (auto* n = t.get("cwd"))
            if (auto v = string_of(*n, path, "cwd")) {
                std::error_code ec;
                auto dir = std::filesystem::path(dir_) / *v;
                if (v->empty() || !std::filesystem::is_directory(dir, ec))
                    error(n->source(), path, "cwd", in_quotes(*v) + " is not a directory");
                else
                    c.cwd = dir.lexically_normal().string();
            }
    }

    // user, group, supplementary_groups; umask and nice.
    void identity(const toml::table& t, const std::string& path, ChildSpec& c) {
        const bool root = geteuid() == 0;
        auto* user = t.get("user");
        if (!user) {
            for (auto key : {"group", "supplementary_groups"})
                if (auto* n = t.get(key)) error(n->source(), path, key, "only with `user` (whom the child runs as)");
        } else if (auto name = string_of(*user, path, "user")) {
            Credentials who;
            who.user = *name;
            auto pw = user_named(*name);
            if (!pw) {
                error(user->source(), path, "user", "no such user: " + in_quotes(*name));
            } else {
                who.uid = pw->first;
                who.gid = pw->second;
                bool ok = true;
                if (auto* n = t.get("group"))
                    if (auto g = string_of(*n, path, "group")) {
                        if (auto gid = group_named(*g)) who.group = *g, who.gid = *gid;
                        else error(n->source(), path, "group", "no such group: " + in_quotes(*g)), ok = false;
                    }
                if (auto* n = t.get("supplementary_groups")) {
                    who.supplementary_given = true;
                    auto* arr = n->as_array();
                    if (!arr) error(n->source(), path, "supplementary_groups", "expected a list of group names"), ok = false;
                    for (std::size_t i = 0; arr && i < arr->size(); ++i) {
                        auto* g = (*arr)[i].as_string();
                        auto gid = g ? group_named(g->get()) : std::nullopt;
                        if (!gid) {
                            error(n->source(), path, "supplementary_groups",
                                  g ? "no such group: " + in_quotes(g->get()) : "expected a list of group names");
                            ok = false;
                            continue;
                        }
                        who.supplementary.push_back(g->get());
                        who.groups.push_back(*gid);
                    }
                } else {
                    who.groups = groups_of(*name, who.gid);  // as initgroups gives them
                }
                // A supervisor that is not root cannot become anyone else;
                // naming itself changes nothing, and is allowed.
                if (ok && !root && (who.uid != geteuid() || who.gid != getegid() || who.supplementary_given))
                    error(user->source(), path, "user",
                          "only a supervisor running as root may run a child as another user or group (this one "
                          "runs as uid " + std::to_string(geteuid()) + ")"),
                        ok = false;
                if (ok) c.run_as = std::move(who);
            }
        }
        if (auto* n = t.get("umask"))
            if (auto v = string_of(*n, path, "umask")) {
                unsigned mask = 0;
                auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), mask, 8);
                if (v->empty() || ec != std::errc{} || end != v->data() + v->size() || mask > 0777)
                    error(n->source(), path, "umask", in_quotes(*v) + " is not an octal mode, such as \"0027\"");
                else
                    c.umask = mask;
            }
        if (auto* n = t.get("nice"))
            if (auto v = integer_of(*n, path, "nice", bounds::nice)) {
                int was = getpriority(PRIO_PROCESS, 0);
                if (*v < was && !root)
                    error(n->source(), path, "nice",
                          std::to_string(*v) + " is below this supervisor's own (" + std::to_string(was) +
                              "): only root may raise a priority");
                else
                    c.nice = static_cast<int>(*v);
            }
    }

    // limits = { nofile = 65536, core = "unlimited", stack = { soft = ..., hard = ... } }
    void limits(const toml::table& t, const std::string& path, ChildSpec& c) {
        auto* n = t.get("limits");
        if (!n) return;
        auto* tab = n->as_table();
        if (!tab) {
            error(n->source(), path, "limits", "expected a table, such as { nofile = 65536, core = \"unlimited\" }");
            return;
        }
        std::set<std::string_view> names;
        for (auto& [name, resource] : resource_names) names.insert(name);
        for (auto&& [key, node] : *tab) {
            auto k = std::string(key.str());
            auto found = std::find_if(std::begin(resource_names), std::end(resource_names),
                                      [&](auto& r) { return k == r.first; });
            if (found == std::end(resource_names)) {
                unknown(key, path, names, nullptr, "limits");
                continue;
            }
            const std::string full = "limits." + k;
            auto value = [&](const toml::node& v, std::string_view at) -> std::optional<std::uint64_t> {
                if (auto* str = v.as_string(); str && str->get() == "unlimited") return ~std::uint64_t{0};
                if (auto* i = v.as_integer(); i && i->get() >= 0) return static_cast<std::uint64_t>(i->get());
                error(v.source(), path, at, "expected a number of 0 or more, or \"unlimited\"");
                return std::nullopt;
            };
            ResourceLimit l{k, found->second, 0, 0};
            if (auto* both = node.as_table()) {
                for (auto&& [sub, subnode] : *both)
                    if (sub.str() != "soft" && sub.str() != "hard") unknown(sub, path, {"soft", "hard"}, nullptr, full);
                auto* soft = both->get("soft");
                auto* hard = both->get("hard");
                if (!soft || !hard) {
                    error(node.source(), path, full, "give both soft and hard, or one number for both");
                    continue;
                }
                auto sv = value(*soft, full + ".soft"), hv = value(*hard, full + ".hard");
                if (!sv || !hv) continue;
                l.soft = *sv, l.hard = *hv;
                if (l.soft > l.hard) {
                    error(node.source(), path, full, "soft is above hard");
                    continue;
                }
            } else if (auto v = value(node, full)) {
                l.soft = l.hard = *v;
            } else {
                continue;
            }
            // No one may pass the kernel's bound on open files, not even root.
            if (l.resource == RLIMIT_NOFILE) {
                std::uint64_t nr_open = 0;
                std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
                if (nr_open > 0 && l.hard > nr_open) {
                    error(node.source(), path, full,
                          "above the kernel's bound on open files (fs.nr_open, " + std::to_string(nr_open) + ")");
                    continue;
                }
            }
            // Only root raises a hard limit: a child's start would fail.
            rlimit ours{};
            if (geteuid() != 0 && getrlimit(l.resource, &ours) == 0 && ours.rlim_max != RLIM_INFINITY &&
                (l.hard == ~std::uint64_t{0} || l.hard > ours.rlim_max)) {
                error(node.source(), path, full,
                      "above this supervisor's own hard limit (" + std::to_string(ours.rlim_max) +
                          "), which only root may raise");
                continue;
            }
            c.limits.push_back(l);
        }
    }

    // { initial = 100, factor = 2.0, max = 30000, reset_after = 10000 }, in ms;
    // what is left out takes these values.
    void backoff(const toml::node& n, const std::string& path, BackoffSpec& b) {
        auto* tab = n.as_table();
        if (!tab) {
            error(n.source(), path, "backoff",
                  "expected a table, such as { initial = 100, factor = 2.0, max = 30000, reset_after = 10000 }");
            return;
        }
        b = BackoffSpec{100, 2.0, 30000, 10000};
        for (auto&& [key, node] : *tab) {
            auto k = key.str();
            std::string full = "backoff." + std::string(k);
            if (!backoff_keys.count(k)) {
                unknown(key, path, backoff_keys, nullptr, "backoff");
            } else if (k == "factor") {
                auto f = node.value<double>();
                if (!f || !node.is_number()) error(node.source(), path, full, "expected a number");
                else if (*f < 1.0 || *f > 100.0) error(node.source(), path, full, "must be from 1 to 100");
                else b.factor = *f;
            } else if (auto v = integer_of(node, path, full, bounds::ms)) {
                auto ms = static_cast<std::uint64_t>(*v);
                (k == "initial" ? b.initial_ms : k == "max" ? b.max_ms : b.reset_after_ms) = ms;
            }
        }
        if (b.max_ms < b.initial_ms)
            error(n.source(), path, "backoff",
                  "max (" + std::to_string(b.max_ms) + (tab->get("max") ? "" : ", the default") +
                      ") is less than initial (" + std::to_string(b.initial_ms) + ")");
    }

    // A command of on_event or health: its program resolved as a child's is.
    std::vector<std::string> side_command(const toml::node& n, const std::string& path, std::string_view key) {
        ChildSpec job;
        command(n, path, job, key);
        if (job.command.empty()) return {};
        std::string why;
        if (auto found = resolve(job.command[0], why)) {
            job.command[0] = *found;
            return job.command;
        }
        error(n.source(), path, key, why);
        return {};
    }

    // on_event = { command = [...], events = ["gave_up", ...], timeout = ms }
    std::optional<HookSpec> hook(const toml::node& n) {
        auto* t = n.as_table();
        if (!t) {
            error(n.source(), "", "on_event",
                  "expected a table, such as { command = [\"./alert.sh\"], events = [\"gave_up\"] }");
            return std::nullopt;
        }
        const auto& keys = on_event_keys;
        for (auto&& [key, node] : *t)
            if (!keys.count(key.str())) unknown(key, "", keys, nullptr, "on_event");
        HookSpec h;
        if (auto* c = t->get("command")) h.command = side_command(*c, "", "on_event.command");
        else error(t->source(), "", "on_event.command", "missing: the command to run for each event");
        if (auto* e = t->get("events")) {
            if (auto* arr = e->as_array()) {
                for (auto& v : *arr) {
                    auto* name = v.as_string();
                    if (name && is_event_kind(name->get())) {
                        h.events.push_back(name->get());
                        continue;
                    }
                    error(v.source(), "", "on_event.events",
                          (name ? in_quotes(name->get()) : std::string("a value that is not a string")) +
                              " is not an event; events are " + event_kinds_text());
                }
            } else {
                error(e->source(), "", "on_event.events",
                      "expected an array of event names, such as [\"gave_up\", \"crash_loop\"]");
            }
        }
        if (auto* v = t->get("timeout"))
            if (auto ms = integer_of(*v, "", "on_event.timeout", bounds::hook_timeout))
                h.timeout_ms = static_cast<std::uint64_t>(*ms);
        if (h.command.empty()) return std::nullopt;
        return h;
    }

    // health = { http = URL | tcp = "HOST:PORT" | command = [...], interval, timeout, failures }
    std::optional<HealthSpec> health(const toml::node& n, const std::string& path) {
        auto* t = n.as_table();
        if (!t) {
            error(n.source(), path, "health", "expected a table, such as { http = \"http://127.0.0.1:8080/healthz\" }");
            return std::nullopt;
        }
        const auto& keys = health_keys;
        for (auto&& [key, node] : *t)
            if (!keys.count(key.str())) unknown(key, path, keys, nullptr, "health");
        HealthSpec h;
        int kinds = 0;
        bool good = true;
        if (auto* v = t->get("http")) {
            ++kinds;
            h.kind = HealthSpec::Kind::http;
            if (auto url = string_of(*v, path, "health.http")) {
                if (http_url(*url)) h.target = *url;
                else error(v->source(), path, "health.http", in_quotes(*url) + " is not an http:// or https:// URL"), good = false;
            } else {
                good = false;
            }
        }
        if (auto* v = t->get("tcp")) {
            ++kinds;
            h.kind = HealthSpec::Kind::tcp;
            if (auto at = string_of(*v, path, "health.tcp")) {
                std::string why;
                auto a = parse_listen_address(*at, why);
                if (a && to_string(*a).ends_with(":0")) a.reset(), why = "port 0 is nobody's";
                // One the supervisor holds (its own, or a child's before it)
                // would always pass: the kernel takes the connect into the
                // held socket's backlog, whether or not anyone accepts.
                for (auto& held : tcp_) {
                    std::string ignored;
                    auto at_held = parse_listen_address(held.listen, ignored);
                    if (a && at_held && to_string(*at_held) == to_string(*a)) {
                        why = "that is socket " + in_quotes(held.name) +
                              ", which the supervisor holds: a connect there always succeeds, served or not (probe "
                              "the program with http or a command)";
                        a.reset();
                    }
                }
                if (a) h.target = *at;
                else error(v->source(), path, "health.tcp", in_quotes(*at) + ": " + why + (why.starts_with("that is") ? "" : " (HOST:PORT, HOST an IP address)")), good = false;
            } else {
                good = false;
            }
        }
        if (auto* v = t->get("command")) {
            ++kinds;
            h.kind = HealthSpec::Kind::command;
            h.command = side_command(*v, path, "health.command");
            good = good && !h.command.empty();
        }
        if (kinds != 1) {
            error(t->source(), path, "health",
                  kinds ? "one probe only: http, tcp or command" : "needs a probe: http, tcp or command");
            return std::nullopt;
        }
        if (auto* v = t->get("interval"))
            if (auto ms = integer_of(*v, path, "health.interval", bounds::health_interval))
                h.interval_ms = static_cast<std::uint64_t>(*ms);
        if (auto* v = t->get("timeout"))
            if (auto ms = integer_of(*v, path, "health.timeout", bounds::health_timeout))
                h.timeout_ms = static_cast<std::uint64_t>(*ms);
        if (auto* v = t->get("failures"))
            if (auto k = integer_of(*v, path, "health.failures", bounds::health_failures))
                h.failures = static_cast<unsigned>(*k);
        if (!good) return std::nullopt;
        return h;
    }

    // http://HOST... or https://HOST..., with no space or control character.
    static bool http_url(std::string_view u) {
        auto rest = u.starts_with("http://") ? u.substr(7) : u.starts_with("https://") ? u.substr(8) : std::string_view{};
        if (rest.empty() || rest.front() == '/') return false;
        for (unsigned char c : u)
            if (c <= 0x20 || c == 0x7f) return false;
        return true;
    }

    void command(const toml::node& n, const std::string& path, ChildSpec& c, std::string_view key = "command") {
        auto* arr = n.as_array();
        if (!arr) {
            error(n.source(), path, key, "expected an array of strings, such as [\"prog\", \"--flag\"]");
            return;
        }
        if (arr->empty()) {
            error(n.source(), path, key, "empty: it needs at least the program");
            return;
        }
        for (auto& e : *arr) {
            auto* s = e.as_string();
            if (!s) {
                error(e.source(), path, key, "expected only strings");
                c.command.clear();
                return;
            }
            c.command.push_back(s->get());
        }
    }

    // The file to exec: `program` if given (argv[0] is then only a name, as
    // `exec -a` makes it), else command[0]; resolved once, here.
    void program(const toml::table& t, const std::string& path, ChildSpec& c) {
        const toml::node* at = t.get("program");
        std::string prog;
        if (at) {
            auto v = string_of(*at, path, "program");
            if (!v) return;
            prog = *v;
        } else if (!c.command.empty()) {
            at = &t.get("command")->as_array()->front();
            prog = c.command[0];
        } else {
            return;
        }
        std::string why;
        if (auto found = resolve(prog, why)) c.program = *found;
        else error(at->source(), path, at == t.get("program") ? "program" : "command", why);
    }

    void sockets(const toml::node& n, const std::string& path, ChildSpec& c) {
        auto* arr = n.as_array();
        if (!arr) {
            error(n.source(), path, "sockets",
                  "expected an array, such as [\"web\"], [{ name = \"web\", path = \"web.sock\" }] or "
                  "[{ name = \"web\", listen = \"127.0.0.1:8080\" }]");
            return;
        }
        for (auto& e : *arr) {
            SocketSpec s;
            const toml::node* listen = nullptr;
            if (auto* str = e.as_string()) {
                s.name = str->get();
                if (run_dir_group_) s.mode = 0660, s.group = run_dir_group_->name, s.gid = run_dir_group_->gid;
            } else if (auto* tab = e.as_table()) {
                if (!socket_table(*tab, path, s, listen)) continue;
            } else {
                error(e.source(), path, "sockets", "expected a socket's name or { name = ..., path = ... }");
                continue;
            }
            if (s.name.empty()) {
                if (e.is_string() || e.as_table()->get("name"))
                    error(e.source(), path, "sockets", "a socket's name cannot be empty");
                continue;
            }
            if (!valid_name(s.name)) {
                error(e.source(), path, "sockets", in_quotes(s.name) + " is not a socket name (letters, digits, '_', '-', '.')");
                continue;
            }
            if (!socket_names_.insert(s.name).second) {
                error(e.source(), path, "sockets", "socket " + in_quotes(s.name) + " is named twice in the tree");
                continue;
            }
            if (listen) {
                std::string why;
                auto a = parse_listen_address(s.listen, why);
                if (!a) {
                    error(listen->source(), path, "sockets.listen", in_quotes(s.listen) + ": " + why);
                    continue;
                }
                s.listen = to_string(*a);  // "[0::1]:80" and "[::1]:80" are one address
                if (a->family() == AF_INET && e.as_table()->get("ipv6_only"))
                    error(e.source(), path, "sockets.ipv6_only", "only for an IPv6 address (" + s.listen + " is IPv4)");
                if (!socket_paths_.insert(s.where()).second) {
                    error(e.source(), path, "sockets", "address " + s.listen + " is used twice in the tree");
                    continue;
                }
                if (auto* other = overlapping(s)) {
                    error(e.source(), path, "sockets",
                          "address " + s.listen + " overlaps " + other->listen + " (socket " + in_quotes(other->name) +
                              "): the kernel binds one port to a wildcard address or to others, not both");
                    continue;
                }
                tcp_.push_back(s);
            } else {
                if (!unix_path(e, path, s)) continue;
            }
            c.sockets.push_back(std::move(s));
        }
    }

    // { name = ..., path = ... } or { name = ..., listen = ..., backlog, reuse_address, ipv6_only }.
    bool socket_table(const toml::table& tab, const std::string& path, SocketSpec& s, const toml::node*& listen) {
        const auto& keys = socket_keys;
        bool ok = true;
        for (auto&& [key, node] : tab) {
            auto k = key.str();
            auto full = "sockets." + std::string(k);
            if (k == "name") {
                if (auto v = string_of(node, path, full)) s.name = *v;
            } else if (k == "path") {
                if (auto v = string_of(node, path, full)) s.path = *v;
            } else if (k == "listen") {
                if (auto v = string_of(node, path, full)) s.listen = *v, listen = &node;
                else ok = false;
            } else if (k == "backlog") {
                if (auto v = integer_of(node, path, full, bounds::backlog)) s.backlog = static_cast<int>(*v);
            } else if (k == "reuse_address" || k == "ipv6_only") {
                if (auto* b = node.as_boolean()) (k == "reuse_address" ? s.reuse_address : s.ipv6_only) = b->get();
                else error(node.source(), path, full, "expected true or false");
            } else if (k == "mode") {
                if (auto v = string_of(node, path, full)) {
                    unsigned mode = 0;
                    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), mode, 8);
                    if (v->empty() || ec != std::errc{} || end != v->data() + v->size() || mode > 0777)
                        error(node.source(), path, full, in_quotes(*v) + " is not an octal mode, such as \"0660\"");
                    else if (!(mode & 0200))
                        error(node.source(), path, full, in_quotes(*v) + " leaves the owner unable to connect (give it 0600 at least)");
                    else
                        s.mode = mode;
                }
            } else if (k == "owner") {
                if (auto v = string_of(node, path, full)) {
                    if (auto pw = user_named(*v); !pw)
                        error(node.source(), path, full, "no such user: " + in_quotes(*v));
                    else if (pw->first != geteuid() && geteuid() != 0)
                        error(node.source(), path, full,
                              "only a supervisor running as root may give a socket to another user (" + in_quotes(*v) + ")");
                    else
                        s.owner = *v, s.uid = pw->first;
                }
            } else if (k == "group") {
                if (auto g = named_group(node, path, full)) s.group = g->name, s.gid = g->gid;
            } else {
                unknown(key, path, keys, nullptr, "sockets");
            }
        }
        if (!tab.get("name")) error(tab.source(), path, "sockets", "a socket table needs a name");
        if (tab.get("path") && tab.get("listen")) {
            error(tab.source(), path, "sockets",
                  "a socket has either a path (Unix) or listen (TCP), not both");
            return false;
        }
        if (!listen) {
            for (auto k : {"reuse_address", "ipv6_only"})
                if (tab.get(k))
                    error(tab.get(k)->source(), path, "sockets." + std::string(k),
                          "only for a TCP socket (one with listen = \"HOST:PORT\")");
        } else {
            for (auto k : {"mode", "owner", "group"})
                if (tab.get(k))
                    error(tab.get(k)->source(), path, "sockets." + std::string(k),
                          "only for a Unix socket (one with a path): anyone who can reach a TCP port may connect");
        }
        if (!listen && run_dir_group_) {
            if (!tab.get("mode")) s.mode = 0660;
            if (!tab.get("group")) s.group = run_dir_group_->name, s.gid = run_dir_group_->gid;
        }
        return ok;
    }

    // A Unix socket's path, made normal and checked bindable and unique.
    bool unix_path(const toml::node& e, const std::string& path, SocketSpec& s) {
        if (s.path.empty()) s.path = s.name + ".sock";
        // "./web.sock" and "web.sock" are one file: compared, and kept, as one.
        auto normal = std::filesystem::path(s.path).lexically_normal();
        if (auto leaf = normal.filename(); leaf.empty() || leaf == "." || leaf == "..") {
            error(e.source(), path, "sockets", in_quotes(s.path) + " names a directory, not a socket's file");
            return false;
        }
        s.path = normal.string();
        if (s.path.find('\0') != std::string::npos || reserved_paths.count(s.path)) {
            error(e.source(), path, "sockets", in_quotes(s.path) + " is the supervisor's own file in the run dir");
            return false;
        }
        if (auto why = unbindable(s.path); !why.empty()) {
            error(e.source(), path, "sockets", in_quotes(s.path) + ": " + why);
            return false;
        }
        if (!socket_paths_.insert(s.path).second) {
            error(e.source(), path, "sockets", "socket path " + in_quotes(s.path) + " is used twice in the tree");
            return false;
        }
        return true;
    }

    void env(const toml::node& n, const std::string& path, ChildSpec& c) {
        auto* tab = n.as_table();
        if (!tab) {
            error(n.source(), path, "env", "expected a table, such as { LANG = \"C\" }");
            return;
        }
        for (auto&& [key, node] : *tab) {
            std::string k(key.str());
            if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos) {
                error(key.source(), path, "env", in_quotes(k) + " is not an environment variable's name");
            } else if (is_supervisor_variable(k)) {
                error(key.source(), path, "env", in_quotes(k) + " is set by the supervisor itself");
            } else if (auto v = string_of(node, path, "env." + k)) {
                if (v->find('\0') != std::string::npos) error(node.source(), path, "env." + k, "contains a NUL byte");
                else c.env[k] = *v;
            }
        }
    }

    // stash_keys = ["shared:*"]: patterns as KEYS takes them, written into
    // the stash's users file as words.
    void stash_keys(const toml::node& n, const std::string& path, ChildSpec& c) {
        auto* arr = n.as_array();
        if (!arr) {
            error(n.source(), path, "stash_keys", "expected a list of key patterns, such as [\"shared:*\"]");
            return;
        }
        for (auto& item : *arr) {
            auto* str = item.as_string();
            const std::string text = str ? str->get() : std::string();
            bool printable = std::all_of(text.begin(), text.end(), [](char ch) { return ch > ' ' && ch <= '~'; });
            if (!str || text.empty() || text.size() > 256 || !printable)
                error(item.source(), path, "stash_keys",
                      "expected a key pattern: 1 to 256 printable characters without spaces, such as \"shared:*\"");
            else c.stash_keys.push_back(text);
        }
    }

    // env_file = ["app.env", "-local.env"]: each read now for its errors,
    // and again at each start of the child.
    void env_files(const toml::node& n, const std::string& path, ChildSpec& c) {
        auto* arr = n.as_array();
        if (!arr) {
            error(n.source(), path, "env_file", "expected a list of files, such as [\"app.env\", \"-local.env\"]");
            return;
        }
        for (auto& item : *arr) {
            auto* str = item.as_string();
            if (!str || str->get().empty() || str->get() == "-") {
                error(item.source(), path, "env_file", "expected a file's path (with a leading - if it may be missing)");
                continue;
            }
            std::string file = str->get();
            bool optional = file.front() == '-';
            if (optional) file.erase(0, 1);
            auto abs = (std::filesystem::path(dir_) / file).lexically_normal().string();
            auto got = read_env_file(abs, optional);
            if (auto* why = std::get_if<std::string>(&got)) error(item.source(), path, "env_file", *why);
            else c.env_files.push_back({abs, optional});
        }
    }

    // A TCP socket of the tree that `s` could not be bound beside: the same
    // port, one side a wildcard of its family (0.0.0.0, [::]), or [::]
    // taking IPv4 too against an IPv4 address. Port 0 is the kernel's pick.
    const SocketSpec* overlapping(const SocketSpec& s) const {
        auto split = [](const SocketSpec& x) {
            auto colon = x.listen.rfind(':');
            return std::pair{x.listen.substr(0, colon), x.listen.substr(colon + 1)};
        };
        auto [host, port] = split(s);
        if (port == "0") return nullptr;
        auto v6 = [](const std::string& h) { return h.starts_with("["); };
        auto wild = [](const std::string& h) { return h == "0.0.0.0" || h == "[::]"; };
        for (auto& t : tcp_) {
            auto [other, other_port] = split(t);
            if (other_port != port) continue;
            if (v6(host) == v6(other) ? wild(host) || wild(other)
                                      : (v6(host) ? host == "[::]" && !s.ipv6_only : other == "[::]" && !t.ipv6_only))
                return &t;
        }
        return nullptr;
    }

    // Why a socket at `p` (relative to the run dir) could not be bound, or
    // "" if it can be (as far as can be told before binding it).
    std::string unbindable(const std::string& p) const {
        if (ctx_.run_dir.empty()) return "";
        auto full = std::filesystem::path(p.starts_with("/") ? p : ctx_.run_dir + "/" + p).lexically_normal();
        constexpr std::size_t room = sizeof(sockaddr_un::sun_path) - 1;
        if (full.string().size() > room)
            return "too long for a socket: " + std::to_string(full.string().size()) + " bytes as bound (" +
                   full.string() + "), at most " + std::to_string(room);
        // The run dir itself is made at start; a folder in it or elsewhere is not.
        auto dir = full.parent_path();
        std::error_code ec;
        if (dir != std::filesystem::path(ctx_.run_dir).lexically_normal() && !std::filesystem::is_directory(dir, ec))
            return "its folder " + dir.string() + " does not exist";
        return "";
    }

    static std::string executable(const std::filesystem::path& p) {
        struct stat st{};
        if (stat(p.c_str(), &st) != 0) return "not found";
        if (!S_ISREG(st.st_mode)) return "not a regular file";
        if (access(p.c_str(), X_OK) != 0) return "not executable";
        return "";
    }

    std::optional<std::string> resolve(const std::string& prog, std::string& why) {
        if (prog.empty()) {
            why = "the program is an empty string";
            return std::nullopt;
        }
        if (prog.find('/') != std::string::npos) {
            auto p = (std::filesystem::path(dir_) / prog).lexically_normal();
            if (auto bad = executable(p); !bad.empty()) {
                why = "program " + in_quotes(prog) + ": " + bad + (p.string() == prog ? "" : " (as " + p.string() + ")");
                return std::nullopt;
            }
            return p.string();
        }
        std::vector<std::string> dirs{ctx_.program_dir};
        std::stringstream path(ctx_.path);
        for (std::string d; std::getline(path, d, ':');) dirs.push_back(d.empty() ? "." : d);
        for (auto& d : dirs) {
            if (d.empty()) continue;
            auto p = std::filesystem::path(d) / prog;
            auto bad = executable(p);
            if (bad.empty()) return std::filesystem::absolute(p).lexically_normal().string();
            if (bad != "not found") {
                why = "program " + in_quotes(prog) + ": " + p.string() + " is " + bad;
                return std::nullopt;
            }
        }
        why = "program " + in_quotes(prog) + " not found beside seq-supervisor (" + ctx_.program_dir + ") nor on $PATH";
        return std::nullopt;
    }

    std::string file_;
    std::string dir_;
    // log_dir and log_stderr of the supervisor whose children are read.
    struct LogDefaults {
        std::string dir;  // absolute; empty: none
        bool to_stderr = true;
    } logs_;
    std::string logs_path_;  // a dynamic supervisor's, while its template is read
    std::map<std::string, std::string> log_owners_;  // each log file, and the child that has it
    const LoadContext& ctx_;
    std::set<std::string> socket_names_, socket_paths_;
    std::optional<NamedGroup> run_dir_group_;  // every Unix socket's group (and 0660) unless it names its own
    std::vector<SocketSpec> tcp_;  // the TCP sockets so far
};

// TOML's basic string: quotes, backslashes and control characters escaped.
std::string toml_string(std::string_view s) {
    std::string r = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') r += '\\', r += static_cast<char>(c);
        else if (c == '\n') r += "\\n";
        else if (c == '\t') r += "\\t";
        else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            r += buf;
        } else r += static_cast<char>(c);
    }
    return r + "\"";
}

std::string toml_array(const std::vector<std::string>& v) {
    std::string r = "[";
    for (std::size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + toml_string(v[i]);
    return r + "]";
}

void write_health(std::string& out, const HealthSpec& h) {
    out += "health = { ";
    switch (h.kind) {
    case HealthSpec::Kind::http: out += "http = " + toml_string(h.target); break;
    case HealthSpec::Kind::tcp: out += "tcp = " + toml_string(h.target); break;
    case HealthSpec::Kind::command: out += "command = " + toml_array(h.command); break;
    }
    out += ", interval = " + std::to_string(h.interval_ms) + ", timeout = " + std::to_string(h.timeout_ms) +
           ", failures = " + std::to_string(h.failures) + " }\n";
}

std::string toml_key(std::string_view k) {
    bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    return bare ? std::string(k) : toml_string(k);
}

void write_flags(std::string& out, const SupervisorSpec& s) {
    out += "strategy = " + toml_string(to_string(s.strategy)) + "\n";
    out += "max_restarts = " + std::to_string(s.max_restarts) + "\n";
    out += "max_seconds = " + std::to_string(s.max_seconds) + "\n";
    if (s.auto_shutdown != AutoShutdown::never) out += "auto_shutdown = " + toml_string(to_string(s.auto_shutdown)) + "\n";
    if (s.max_children) out += "max_children = " + std::to_string(s.max_children) + "\n";
}

// A socket as its shortest entry: its bare name when it is name.sock with
// every default.
std::string socket_entry(const SocketSpec& so) {
    bool plain = so.backlog == SocketSpec::default_backlog && so.mode == 0600 && so.owner.empty() && so.group.empty();
    if (!so.tcp() && so.path == so.name + ".sock" && plain) return toml_string(so.name);
    std::string out = "{ name = " + toml_string(so.name);
    if (so.tcp()) {
        out += ", listen = " + toml_string(so.listen);
        if (!so.reuse_address) out += ", reuse_address = false";
        if (!so.ipv6_only) out += ", ipv6_only = false";
    } else {
        out += ", path = " + toml_string(so.path);
    }
    if (so.backlog != SocketSpec::default_backlog) out += ", backlog = " + std::to_string(so.backlog);
    if (!so.tcp()) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", so.mode);
        // Always with a group: a tree's run_dir_group would give one without it 0660.
        if (so.mode != 0600 || !so.group.empty()) out += std::string(", mode = \"") + mode + "\"";
        if (!so.owner.empty()) out += ", owner = " + toml_string(so.owner);
        if (!so.group.empty()) out += ", group = " + toml_string(so.group);
    }
    return out + " }";
}

void write_children(std::string& out, const SupervisorSpec& s, const std::string& table);

// One child's table: `header` opens it ("[[child]]", or a template's
// "[child.template]"); `table` is its name, for the tables below it.
void write_child(std::string& out, const ChildSpec& c, const std::string& header, const std::string& table) {
    out += "\n" + header + "\n";
    if (!c.name.empty()) out += "name = " + toml_string(c.name) + "\n";
    if (c.type == ChildType::supervisor) out += "type = " + toml_string(type_name(c)) + "\n";
    out += "restart = " + toml_string(to_string(c.restart)) + "\n";
    if (!c.autostart) out += "autostart = false\n";
    if (c.significant) out += "significant = true\n";
    if (!c.shutdown_ms) out += "shutdown = \"infinity\"\n";
    else if (*c.shutdown_ms == 0) out += "shutdown = \"brutal_kill\"\n";
    else out += "shutdown = " + std::to_string(*c.shutdown_ms) + "\n";
    out += "start_timeout = " + std::to_string(c.start_timeout_ms) + "\n";
    if (c.generation != 1) out += "generation = " + std::to_string(c.generation) + "\n";
    if (!(c.backoff == BackoffSpec{})) {
        char factor[32];
        std::snprintf(factor, sizeof factor, "%.17g", c.backoff.factor);
        std::string f = factor;
        if (f.find_first_of(".eEn") == std::string::npos) f += ".0";
        out += "backoff = { initial = " + std::to_string(c.backoff.initial_ms) + ", factor = " + f +
               ", max = " + std::to_string(c.backoff.max_ms) +
               ", reset_after = " + std::to_string(c.backoff.reset_after_ms) + " }\n";
    }
    if (!(c.log == LogSpec{})) {
        out += "log = { ";
        if (!c.log.file.empty()) out += "file = " + toml_string(c.log.file) + ", ";
        out += "max_size = " + std::to_string(c.log.max_size) + ", keep = " + std::to_string(c.log.keep) +
               ", stderr = " + (c.log.to_stderr ? "true" : "false") + " }\n";
    }
    if (c.type == ChildType::supervisor && c.sub.dynamic()) {
        // Its strategy is one_for_one, and not said: the key is refused there.
        out += "max_restarts = " + std::to_string(c.sub.max_restarts) + "\n";
        out += "max_seconds = " + std::to_string(c.sub.max_seconds) + "\n";
        if (c.sub.max_children) out += "max_children = " + std::to_string(c.sub.max_children) + "\n";
        write_child(out, c.sub.child_template.front(), "[" + table + ".template]", table + ".template");
        return;
    }
    if (c.type == ChildType::supervisor) {
        write_flags(out, c.sub);
        write_children(out, c.sub, table + ".child");
        return;
    }
    out += "command = [";
    for (std::size_t i = 0; i < c.command.size(); ++i) out += (i ? ", " : "") + toml_string(c.command[i]);
    out += "]\n";
    if (!c.program.empty() && c.program != c.command.front()) out += "program = " + toml_string(c.program) + "\n";
    out += "readiness = " + toml_string(to_string(c.readiness)) + "\n";
    if (c.watchdog_ms > 0) out += "watchdog = " + std::to_string(c.watchdog_ms) + "\n";
    if (c.health) write_health(out, *c.health);
    if (c.reserve > 0) out += "reserve = " + std::to_string(c.reserve) + "\n";
    if (c.standby) out += "standby = true\n";
    if (c.instances > 0) out += "instances = " + std::to_string(c.instances) + "\n";
    if (c.update != Update::restart) {
        out += "update = " + toml_string(to_string(c.update)) + "\n";
        if (c.update == Update::rolling) out += "max_surge = " + std::to_string(c.max_surge) + "\n";
        out += "min_uptime = " + std::to_string(c.min_uptime_ms) + "\n";
    }
    if (!c.migrate.empty()) {
        out += "migrate = [";
        for (std::size_t i = 0; i < c.migrate.size(); ++i) out += (i ? ", " : "") + toml_string(c.migrate[i]);
        out += "]\n";
    }
    if (!c.sockets.empty()) {
        out += "sockets = [";
        for (std::size_t i = 0; i < c.sockets.size(); ++i) {
            out += i ? ", " : "";
            out += socket_entry(c.sockets[i]);
        }
        out += "]\n";
    }
    if (!c.env.empty()) {
        out += "env = { ";
        bool first = true;
        for (auto& [k, v] : c.env) {
            out += (first ? "" : ", ") + toml_key(k) + " = " + toml_string(v);
            first = false;
        }
        out += " }\n";
    }
    if (!c.cwd.empty()) out += "cwd = " + toml_string(c.cwd) + "\n";
    if (!c.stash_keys.empty()) {
        out += "stash_keys = [";
        for (std::size_t i = 0; i < c.stash_keys.size(); ++i) out += (i ? ", " : "") + toml_string(c.stash_keys[i]);
        out += "]\n";
    }
    if (!c.env_files.empty()) {
        out += "env_file = [";
        for (std::size_t i = 0; i < c.env_files.size(); ++i)
            out += (i ? ", " : "") + toml_string((c.env_files[i].optional ? "-" : "") + c.env_files[i].path);
        out += "]\n";
    }
    if (c.run_as) {
        out += "user = " + toml_string(c.run_as->user) + "\n";
        if (!c.run_as->group.empty()) out += "group = " + toml_string(c.run_as->group) + "\n";
        if (c.run_as->supplementary_given) {
            out += "supplementary_groups = [";
            for (std::size_t i = 0; i < c.run_as->supplementary.size(); ++i)
                out += (i ? ", " : "") + toml_string(c.run_as->supplementary[i]);
            out += "]\n";
        }
    }
    if (c.umask) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", *c.umask);
        out += std::string("umask = \"") + mode + "\"\n";
    }
    if (c.nice) out += "nice = " + std::to_string(*c.nice) + "\n";
    if (c.memory_max) out += "memory_max = " + std::to_string(*c.memory_max) + "\n";
    if (c.memory_high) out += "memory_high = " + std::to_string(*c.memory_high) + "\n";
    if (c.pids_max) out += "pids_max = " + std::to_string(*c.pids_max) + "\n";
    if (c.io_weight) out += "io_weight = " + std::to_string(*c.io_weight) + "\n";
    if (!c.cpu_max.empty()) out += "cpu_max = " + toml_string(c.cpu_max) + "\n";
    if (!c.limits.empty()) {
        auto value = [](std::uint64_t v) { return v == ~std::uint64_t{0} ? std::string("\"unlimited\"") : std::to_string(v); };
        out += "limits = { ";
        for (std::size_t i = 0; i < c.limits.size(); ++i) {
            auto& l = c.limits[i];
            out += (i ? ", " : "") + l.name + " = ";
            out += l.soft == l.hard ? value(l.soft) : "{ soft = " + value(l.soft) + ", hard = " + value(l.hard) + " }";
        }
        out += " }\n";
    }
}

void write_children(std::string& out, const SupervisorSpec& s, const std::string& table) {
    for (auto& c : s.children) write_child(out, c, "[[" + table + "]]", table);
}

Tree parse_document(const toml::table& doc, const std::string& file, const LoadContext& ctx) {
    Loader loader(file, ctx);
    auto tree = loader.load(doc);
    if (!loader.errors.empty()) throw TreeFileError(std::move(loader.errors));
    return tree;
}

std::string parse_failure(const toml::parse_error& e, const std::string& file) {
    auto& at = e.source().begin;
    return file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": not TOML: " +
           std::string(e.description());
}

}  // namespace

std::vector<std::string_view> tree_file_keys() {
    std::set<std::string_view> all;
    for (auto* keys : {&top_keys, &common_keys, &log_keys, &backoff_keys, &worker_keys, &supervisor_keys, &dynamic_keys,
                       &on_event_keys, &health_keys, &socket_keys})
        all.insert(keys->begin(), keys->end());
    for (auto& [name, resource] : resource_names) all.insert(name);
    all.insert({"soft", "hard"});  // a limit's two, as a table
    return {all.begin(), all.end()};
}

TreeFileError::TreeFileError(std::vector<std::string> errs)
    : std::runtime_error(errs.empty() ? "invalid tree file" : errs.front()), errors(std::move(errs)) {}

Tree parse_tree(std::string_view text, const std::string& file, const LoadContext& ctx) {
    toml::table doc;
    try {
        doc = toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        throw TreeFileError({parse_failure(e, file)});
    }
    return parse_document(doc, file, ctx);
}

Tree load_tree_file(const std::string& file, const LoadContext& ctx) {
    // A directory opens, and reads as nothing: an empty tree, which a reload
    // would take as "stop every child".
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) throw TreeFileError({file + ": is a directory, not a tree file"});
    std::ifstream in(file, std::ios::binary);
    if (!in) throw TreeFileError({file + ": cannot read: " + std::strerror(errno)});
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw TreeFileError({file + ": cannot read: " + std::strerror(errno)});
    return parse_tree(ss.str(), file, ctx);
}

std::string write_tree(const Tree& tree, std::string_view header_comment) {
    std::string out(header_comment);
    write_flags(out, tree.root);
    if (!tree.stash.empty()) out += "stash = " + toml_string(tree.stash) + "\n";
    if (!tree.stash_acl) out += "stash_acl = false\n";
    if (!tree.http.empty()) out += "http = " + toml_string(tree.http) + "\n";
    if (tree.crash_loop_restarts != 5) out += "crash_loop_restarts = " + std::to_string(tree.crash_loop_restarts) + "\n";
    if (tree.crash_loop_seconds != 60) out += "crash_loop_seconds = " + std::to_string(tree.crash_loop_seconds) + "\n";
    if (tree.on_event) {
        out += "on_event = { command = " + toml_array(tree.on_event->command);
        if (!tree.on_event->events.empty()) out += ", events = " + toml_array(tree.on_event->events);
        out += ", timeout = " + std::to_string(tree.on_event->timeout_ms) + " }\n";
    }
    if (tree.run_dir_group) out += "run_dir_group = " + toml_string(tree.run_dir_group->name) + "\n";
    if (tree.control_group) out += "control_group = " + toml_string(tree.control_group->name) + "\n";
    // A dynamic supervisor's subtree, as its parent hands it down.
    if (tree.root.dynamic()) write_child(out, tree.root.child_template.front(), "[template]", "template");
    write_children(out, tree.root, "child");
    return out;
}

}  // namespace seq::sup
