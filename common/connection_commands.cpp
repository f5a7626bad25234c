#include "connection_commands.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

#include "commands.hpp"
#include "resp.hpp"

namespace seq {

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& ch : r) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return r;
}

// As Redis: a client name is printable, without spaces.
bool valid_client_name(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char ch) { return ch > ' ' && ch <= '~'; });
}

void hello_reply(std::string& out, Connection& c, const DaemonFacts& facts) {
    int proto = c.session.proto;
    resp::append_map(out, 7, proto);
    resp::append_bulk(out, "server");
    resp::append_bulk(out, facts.server);
    resp::append_bulk(out, "version");
    resp::append_bulk(out, facts.version);
    resp::append_bulk(out, "proto");
    resp::append_int(out, proto);
    resp::append_bulk(out, "id");
    resp::append_int(out, static_cast<std::int64_t>(c.id()));
    resp::append_bulk(out, "mode");
    resp::append_bulk(out, "standalone");
    resp::append_bulk(out, "role");
    resp::append_bulk(out, "master");
    resp::append_bulk(out, "modules");
    resp::append_array(out, 0);
}

const char* const wrong_pass = "WRONGPASS invalid username-password pair or user is disabled.";

// Whether `user` with `password` may in; if so, the session is theirs.
bool log_in(Connection& c, std::string_view user, std::string_view password, const DaemonFacts& facts) {
    if (!facts.authenticate) {
        // No passwords here: the socket's file mode says who may connect.
        if (user != "default") return false;
        c.session.user = "default";
        return true;
    }
    auto grants = facts.authenticate(user, password);
    if (!grants) return false;
    c.session.user = user;
    c.session.grants = std::move(grants);
    return true;
}

// AUTH password, as the default user, or AUTH user password.
void auth(Connection& c, std::span<const std::string_view> args, const DaemonFacts& facts) {
    auto& out = c.out();
    if (args.size() > 3) return resp::append_error(out, "ERR syntax error");
    if (args.size() == 2 && !facts.authenticate)
        return resp::append_error(out, "ERR AUTH <password> called without any password configured for the default "
                                       "user. Are you sure your configuration is correct?");
    auto user = args.size() == 3 ? args[1] : std::string_view("default");
    if (!log_in(c, user, args.back(), facts)) return resp::append_error(out, wrong_pass);
    resp::append_simple(out, "OK");
}

void hello(Connection& c, std::span<const std::string_view> args, const DaemonFacts& facts) {
    auto& out = c.out();
    int proto = c.session.proto;
    std::string name;
    bool set_name = false;
    std::optional<std::pair<std::string_view, std::string_view>> credentials;
    if (args.size() >= 2) {
        auto v = resp::parse_int(args[1]);
        if (!v) return resp::append_error(out, "ERR Protocol version is not an integer or out of range");
        if (*v != 2 && *v != 3) return resp::append_error(out, "NOPROTO unsupported protocol version");
        proto = static_cast<int>(*v);
        for (std::size_t i = 2; i < args.size(); ++i) {
            if (is_command(args[i], "auth") && i + 2 < args.size()) {
                credentials = {args[i + 1], args[i + 2]};
                i += 2;
            } else if (is_command(args[i], "setname") && i + 1 < args.size()) {
                if (!valid_client_name(args[i + 1]))
                    return resp::append_error(out, "ERR Client names cannot contain spaces, newlines or special characters.");
                name = args[i + 1];
                set_name = true;
                i += 1;
            } else {
                return resp::append_error(out, "ERR Syntax error in HELLO option '" + lower(args[i].substr(0, 64)) + "'");
            }
        }
    }
    // Nothing changes unless all of it is right.
    if (credentials) {
        if (!log_in(c, credentials->first, credentials->second, facts)) return resp::append_error(out, wrong_pass);
    } else if (facts.authenticate && !c.session.grants) {
        return resp::append_error(out, "NOAUTH HELLO must be called with the client already authenticated, otherwise "
                                       "the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the "
                                       "client and select the RESP protocol version at the same time");
    }
    c.session.proto = proto;
    if (set_name) c.session.name = name;
    hello_reply(out, c, facts);
}

std::string client_line(Connection& c, std::uint64_t now_ms) {
    auto& s = c.session;
    return "id=" + std::to_string(c.id()) + " addr=unix name=" + s.name +
           " age=" + std::to_string((now_ms - s.since_ms) / 1000) + " flags=N db=0 user=" + s.user + " resp=" +
           std::to_string(s.proto) + " lib-name=" + s.lib_name + " lib-ver=" + s.lib_ver + "\n";
}

void client(Server& server, Connection& c, std::span<const std::string_view> args) {
    auto& out = c.out();
    auto sub = args[1];
    auto argc = args.size();
    auto now = uv_now(server.loop());
    if (is_command(sub, "setname")) {
        if (argc != 3) return resp::append_error(out, wrong_args("client|setname"));
        if (!valid_client_name(args[2]))
            return resp::append_error(out, "ERR Client names cannot contain spaces, newlines or special characters.");
        c.session.name = args[2];
        resp::append_simple(out, "OK");
    } else if (is_command(sub, "getname")) {
        if (argc != 2) return resp::append_error(out, wrong_args("client|getname"));
        if (c.session.name.empty()) resp::append_null(out, c.session.proto);
        else resp::append_bulk(out, c.session.name);
    } else if (is_command(sub, "id")) {
        if (argc != 2) return resp::append_error(out, wrong_args("client|id"));
        resp::append_int(out, static_cast<std::int64_t>(c.id()));
    } else if (is_command(sub, "setinfo")) {
        if (argc != 4) return resp::append_error(out, wrong_args("client|setinfo"));
        if (!valid_client_name(args[3]))
            return resp::append_error(out, "ERR " + lower(args[2].substr(0, 64)) +
                                               " cannot contain spaces, newlines or special characters.");
        if (is_command(args[2], "lib-name")) c.session.lib_name = args[3];
        else if (is_command(args[2], "lib-ver")) c.session.lib_ver = args[3];
        else return resp::append_error(out, "ERR Unrecognized option '" + std::string(args[2].substr(0, 64)) + "'");
        resp::append_simple(out, "OK");
    } else if (is_command(sub, "info")) {
        if (argc != 2) return resp::append_error(out, wrong_args("client|info"));
        resp::append_verbatim(out, client_line(c, now), c.session.proto);
    } else if (is_command(sub, "list")) {
        if (argc != 2) return resp::append_error(out, "ERR syntax error: CLIENT LIST takes no filter here");
        std::string all;
        server.each([&](Connection& each) { all += client_line(each, now); });
        resp::append_verbatim(out, all, c.session.proto);
    } else if (is_command(sub, "reply")) {
        // OFF and SKIP are not answered; ON is. A writer that needs no "+OK"
        // per write (the worker handing off its number) spares both sides.
        using Replies = Connection::Session::Replies;
        if (argc != 3) return resp::append_error(out, wrong_args("client|reply"));
        if (is_command(args[2], "on")) c.session.replies = Replies::on, resp::append_simple(out, "OK");
        else if (is_command(args[2], "off")) c.session.replies = Replies::off;
        else if (is_command(args[2], "skip")) c.session.replies = Replies::skip;
        else resp::append_error(out, "ERR syntax error: CLIENT REPLY takes ON, OFF or SKIP");
    } else {
        std::string shown;
        for (char ch : sub.substr(0, 64)) shown += std::isprint(static_cast<unsigned char>(ch)) ? ch : '?';
        resp::append_error(out, "ERR unknown subcommand '" + shown + "'. Try CLIENT HELP.");
    }
}

void command_info(std::string& out, const CommandSpec& s, int proto) {
    resp::append_array(out, 10);
    resp::append_bulk(out, s.name);
    resp::append_int(out, s.arity);
    if (proto == 3) {  // a set; appended piece by piece (g++ 12 at -O3 sees a false -Wrestrict in "~" + ...)
        out += '~';
        out += std::to_string(s.flags.size());
        out += "\r\n";
    }
    else resp::append_array(out, s.flags.size());
    for (auto f : s.flags) resp::append_simple(out, f);
    resp::append_int(out, s.first_key);
    resp::append_int(out, s.last_key);
    resp::append_int(out, s.step);
    for (int i = 0; i < 4; ++i) resp::append_array(out, 0);  // ACL categories, tips, key specs, subcommands
}

void command(Connection& c, std::span<const std::string_view> args, const DaemonFacts& facts) {
    auto& out = c.out();
    int proto = c.session.proto;
    std::vector<const CommandSpec*> all;
    for (auto& s : facts.commands) all.push_back(&s);
    for (auto& s : connection_command_specs())
        if (std::none_of(all.begin(), all.end(), [&](auto* a) { return a->name == s.name; })) all.push_back(&s);
    auto find = [&](std::string_view name) -> const CommandSpec* {
        auto l = lower(name);
        for (auto* s : all)
            if (s->name == l) return s;
        return nullptr;
    };
    if (args.size() == 1) {
        resp::append_array(out, all.size());
        for (auto* s : all) command_info(out, *s, proto);
    } else if (is_command(args[1], "count")) {
        resp::append_int(out, static_cast<std::int64_t>(all.size()));
    } else if (is_command(args[1], "list")) {
        resp::append_array(out, all.size());
        for (auto* s : all) resp::append_bulk(out, s->name);
    } else if (is_command(args[1], "info")) {
        auto names = args.subspan(2);
        if (names.empty()) {
            resp::append_array(out, all.size());
            for (auto* s : all) command_info(out, *s, proto);
            return;
        }
        resp::append_array(out, names.size());
        for (auto n : names) {
            if (auto* s = find(n)) command_info(out, *s, proto);
            else resp::append_null(out, proto);
        }
    } else if (is_command(args[1], "docs")) {
        // No documentation to give: an empty map, which clients (redis-cli's
        // hints) take as "nothing to show".
        resp::append_map(out, 0, proto);
    } else {
        resp::append_error(out, "ERR unknown subcommand '" + lower(args[1].substr(0, 64)) + "'. Try COMMAND HELP.");
    }
}

void config(Connection& c, std::span<const std::string_view> args, const DaemonFacts& facts) {
    auto& out = c.out();
    if (!is_command(args[1], "get"))
        return resp::append_error(out, "ERR CONFIG " + lower(args[1].substr(0, 64)) +
                                           " is not supported here; CONFIG GET is");
    if (args.size() < 3) return resp::append_error(out, wrong_args("config|get"));
    std::vector<std::pair<std::string, std::string>> found;
    for (std::string_view param : {"save", "appendonly", "databases"}) {
        bool match = false;
        for (auto pattern : args.subspan(2))
            match = match || fnmatch(lower(pattern).c_str(), std::string(param).c_str(), 0) == 0;
        if (!match || !facts.config) continue;
        if (auto v = facts.config(param)) found.emplace_back(param, *v);
    }
    resp::append_map(out, found.size(), c.session.proto);
    for (auto& [k, v] : found) {
        resp::append_bulk(out, k);
        resp::append_bulk(out, v);
    }
}

}  // namespace

const std::vector<CommandSpec>& connection_command_specs() {
    static const std::vector<CommandSpec> specs = {
        {"hello", -1, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}},
        {"echo", 2, {"fast"}},
        {"select", 2, {"loading", "stale", "fast"}},
        {"auth", -2, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}},
        {"reset", 1, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}},
        {"client", -2, {"noscript", "loading", "stale"}},
        {"command", -1, {"loading", "stale"}},
        {"config", -2, {"admin", "noscript", "loading", "stale"}},
        {"monitor", 1, {"admin", "noscript", "loading", "stale"}},
    };
    return specs;
}

std::optional<std::string> refusal(const DaemonFacts& facts, std::span<const std::string_view> args) {
    const CommandSpec* spec = nullptr;
    for (auto& s : facts.commands)
        if (!spec && is_command(args[0], s.name)) spec = &s;
    for (auto& s : connection_command_specs())
        if (!spec && is_command(args[0], s.name)) spec = &s;
    if (!spec) return unknown_command(args[0]);
    auto n = static_cast<int>(args.size());
    if (spec->arity >= 0 ? n != spec->arity : n < -spec->arity) return wrong_args(args[0]);
    return std::nullopt;
}

bool connection_command(Server& server, Connection& c, std::span<const std::string_view> args, const DaemonFacts& facts) {
    auto cmd = args[0];
    auto& out = c.out();
    if (is_command(cmd, "hello")) {
        hello(c, args, facts);
    } else if (is_command(cmd, "auth")) {
        if (args.size() < 2) resp::append_error(out, wrong_args(cmd));
        else auth(c, args, facts);
    } else if (is_command(cmd, "echo")) {
        if (args.size() != 2) resp::append_error(out, wrong_args(cmd));
        else resp::append_bulk(out, args[1]);
    } else if (is_command(cmd, "select")) {
        if (args.size() != 2) return resp::append_error(out, wrong_args(cmd)), true;
        auto db = resp::parse_int(args[1]);
        if (!db) resp::append_error(out, "ERR value is not an integer or out of range");
        else if (*db != 0) resp::append_error(out, "ERR DB index is out of range");
        else resp::append_simple(out, "OK");
    } else if (is_command(cmd, "reset")) {
        if (args.size() != 1) return resp::append_error(out, wrong_args(cmd)), true;
        c.session.proto = 2;
        c.session.name.clear();
        c.session.replies = Connection::Session::Replies::on;
        // As a new connection: the default user again, who may have to
        // authenticate (the stash with access control).
        c.session.user = "default";
        c.session.grants.reset();
        server.monitor(c, false);
        resp::append_simple(out, "RESET");
    } else if (is_command(cmd, "client")) {
        if (args.size() < 2) resp::append_error(out, wrong_args(cmd));
        else client(server, c, args);
    } else if (is_command(cmd, "command")) {
        command(c, args, facts);
    } else if (is_command(cmd, "config")) {
        if (args.size() < 2) resp::append_error(out, wrong_args(cmd));
        else config(c, args, facts);
    } else if (is_command(cmd, "monitor")) {
        if (args.size() != 1) return resp::append_error(out, wrong_args(cmd)), true;
        server.monitor(c, true);
        resp::append_simple(out, "OK");
    } else {
        return false;
    }
    return true;
}

}  // namespace seq
