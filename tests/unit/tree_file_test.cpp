// Tree files: every key, every default, every error class with its message
// (file:line:column and the key), and the round trip through write_tree.
#include <doctest/doctest.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "builtin_tree.hpp"
#include "notify_socket.hpp"
#include "cgroups.hpp"
#include "tree_file.hpp"
#include "supervisor_variables.hpp"

using namespace seq::sup;

namespace {

// A private folder with programs in it: `prog` (executable), `plain` (not),
// `sub/tool` (executable), and a folder `dir`.
struct Fixture {
    Fixture() {
        char tmpl[] = "/tmp/seqtree-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        root = tmpl;
        std::filesystem::create_directories(root + "/bin");
        std::filesystem::create_directories(root + "/sub");
        std::filesystem::create_directories(root + "/dir");
        make(root + "/bin/prog", 0755);
        make(root + "/bin/plain", 0644);
        make(root + "/sub/tool", 0755);
        ctx = {root + "/bin", "/usr/bin:/bin", ""};
        file = root + "/tree.toml";
    }
    ~Fixture() { std::filesystem::remove_all(root); }
    static void make(const std::string& path, mode_t mode) {
        std::ofstream(path) << "#!/bin/sh\n";
        chmod(path.c_str(), mode);
    }
    Tree parse(const std::string& text) const { return parse_tree(text, file, ctx); }
    // The errors a text gives, all of them, one per line.
    std::string errors(const std::string& text) const {
        try {
            parse_tree(text, file, ctx);
        } catch (const TreeFileError& e) {
            std::string all;
            for (auto& l : e.errors) all += l + "\n";
            return all;
        }
        return "(valid)";
    }
    std::string root, file;
    LoadContext ctx;
};

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("a minimal tree file: every default") {
    Fixture f;
    auto t = f.parse("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n");
    CHECK(t.root.strategy == Strategy::one_for_one);
    CHECK(t.root.max_restarts == 3);
    CHECK(t.root.max_seconds == 5);
    CHECK(t.stash.empty());
    REQUIRE(t.root.children.size() == 1);
    auto& c = t.root.children[0];
    CHECK(c.name == "a");
    CHECK(c.type == ChildType::worker);
    CHECK(c.command == std::vector<std::string>{"prog"});  // as written: argv[0] too
    CHECK(c.program == f.root + "/bin/prog");             // what is exec'd
    CHECK(c.restart == RestartType::permanent);
    CHECK(c.autostart);
    CHECK(c.shutdown_ms == 5000u);
    CHECK(c.readiness == Readiness::none);
    CHECK(c.start_timeout_ms == 5000);
    CHECK(c.sockets.empty());
    CHECK(c.env.empty());
    CHECK(c.cwd == f.root);  // the tree file's folder, wherever the supervisor was started
}

TEST_CASE("every key of a tree file, at every level") {
    Fixture f;
    auto t = f.parse(R"(
strategy = "rest_for_one"
max_restarts = 7
max_seconds = 60
stash = "state"

[[child]]
name = "store"
command = ["prog", "--flag", "two words"]
restart = "transient"
shutdown = 250
readiness = "notify-fd"
start_timeout = 900
sockets = ["state", { name = "web", path = "/tmp/web.sock" }, { name = "alt" }]
env = { LANG = "C", "odd key" = "v" }
cwd = "dir"

[[child]]
name = "jobs"
type = "supervisor"
strategy = "one_for_all"
max_restarts = 2
max_seconds = 9
restart = "temporary"
  [[child.child]]
  name = "mailer"
  command = ["./sub/tool"]
  shutdown = "brutal_kill"
  readiness = "sd_notify"
  [[child.child]]
  name = "deep"
  type = "supervisor"
    [[child.child.child]]
    name = "leaf"
    command = ["/bin/sh", "-c", "exit 0"]
    shutdown = "infinity"
)");
    CHECK(t.root.strategy == Strategy::rest_for_one);
    CHECK(t.root.max_restarts == 7);
    CHECK(t.root.max_seconds == 60);
    CHECK(t.stash == "state");
    REQUIRE(t.root.children.size() == 2);
    auto& store = t.root.children[0];
    CHECK(store.command == std::vector<std::string>{"prog", "--flag", "two words"});
    CHECK(store.program == f.root + "/bin/prog");
    CHECK(store.restart == RestartType::transient);
    CHECK(store.shutdown_ms == 250u);
    CHECK(store.readiness == Readiness::notify_fd);
    CHECK(store.start_timeout_ms == 900);
    REQUIRE(store.sockets.size() == 3);
    CHECK(store.sockets[0] == unix_socket("state", "state.sock"));
    CHECK(store.sockets[1] == unix_socket("web", "/tmp/web.sock"));
    CHECK(store.sockets[2] == unix_socket("alt", "alt.sock"));
    CHECK(store.env == std::map<std::string, std::string>{{"LANG", "C"}, {"odd key", "v"}});
    CHECK(store.cwd == f.root + "/dir");
    auto& jobs = t.root.children[1];
    CHECK(jobs.type == ChildType::supervisor);
    CHECK(jobs.restart == RestartType::temporary);
    CHECK(!jobs.shutdown_ms.has_value());  // a supervisor waits for its children (OTP)
    CHECK(jobs.sub.strategy == Strategy::one_for_all);
    CHECK(jobs.sub.max_restarts == 2);
    CHECK(jobs.sub.max_seconds == 9);
    REQUIRE(jobs.sub.children.size() == 2);
    auto& mailer = jobs.sub.children[0];
    CHECK(mailer.command == std::vector<std::string>{"./sub/tool"});
    CHECK(mailer.program == f.root + "/sub/tool");  // relative to the tree file
    CHECK(mailer.shutdown_ms == 0u);
    CHECK(mailer.readiness == Readiness::sd_notify);
    auto& deep = jobs.sub.children[1];
    CHECK(deep.sub.strategy == Strategy::one_for_one);
    REQUIRE(deep.sub.children.size() == 1);
    CHECK(!deep.sub.children[0].shutdown_ms.has_value());
    CHECK(sockets_of(t.root).size() == 3);
}

TEST_CASE("write_tree loads back to the same tree, nested levels and odd strings included") {
    Fixture f;
    auto t = f.parse(R"(
strategy = "one_for_all"
[[child]]
name = "a"
command = ["prog", "quote \" and \\ and\ttab", "ünïcode"]
env = { "A B" = "x=y" }
sockets = [{ name = "s", path = "x/s.sock" }]
[[child]]
name = "sup"
type = "supervisor"
  [[child.child]]
  name = "b"
  command = ["prog"]
  shutdown = "brutal_kill"
  [[child.child]]
  name = "inner"
  type = "supervisor"
    [[child.child.child]]
    name = "c"
    command = ["prog"]
)");
    auto text = write_tree(t);
    auto back = f.parse(text);
    CHECK(back.root == t.root);
    CHECK(back.stash == t.stash);
}

TEST_CASE("health probes and on_event load with their defaults and bounds, and write_tree loads back to them") {
    Fixture f;
    auto t = f.parse(R"(
on_event = { command = ["prog", "--x"], events = ["gave_up", "crash_loop"] }
[[child]]
name = "a"
command = ["prog"]
readiness = "health"
health = { http = "http://127.0.0.1:8080/healthz" }
[[child]]
name = "sup"
type = "supervisor"
  [[child.child]]
  name = "b"
  command = ["prog"]
  health = { tcp = "[::1]:5432", interval = 100, timeout = 50, failures = 1 }
  [[child.child]]
  name = "c"
  command = ["prog"]
  health = { command = ["prog", "check"] }
)");
    REQUIRE(t.on_event);
    CHECK(t.on_event->events == std::vector<std::string>{"gave_up", "crash_loop"});
    CHECK(t.on_event->timeout_ms == 10'000);
    CHECK(t.on_event->command.front().ends_with("/prog"));
    auto& a = t.root.children[0];
    CHECK(a.readiness == Readiness::health);
    REQUIRE(a.health);
    CHECK(a.health->kind == HealthSpec::Kind::http);
    CHECK(a.health->interval_ms == 5000);
    CHECK(a.health->timeout_ms == 1000);
    CHECK(a.health->failures == 3);
    auto& b = t.root.children[1].sub.children[0];
    REQUIRE(b.health);
    CHECK(b.health->kind == HealthSpec::Kind::tcp);
    CHECK(b.health->failures == 1);
    auto& c = t.root.children[1].sub.children[1];
    REQUIRE(c.health);
    CHECK(c.health->command.size() == 2);
    auto back = f.parse(write_tree(t));
    CHECK(back.root == t.root);
    CHECK(back.on_event == t.on_event);
    // What a nested supervisor is handed carries its children's probes.
    Tree sub;
    sub.root = t.root.children[1].sub;
    CHECK(f.parse(write_tree(sub)).root == sub.root);
}

TEST_CASE("the built-in tree prints as a tree file that loads back to itself") {
    Fixture f;
    BuiltinOptions o;
    o.data_dir = "/var/lib/seq";
    o.fsync = "always";
    o.initial = 42;
    // Named bare, as --print-config prints it; found beside the supervisor.
    Fixture::make(f.root + "/bin/seq-stash", 0755);
    Fixture::make(f.root + "/bin/seq-worker", 0755);
    auto printed = write_tree(builtin_tree(o, ""));
    auto back = f.parse(printed);
    auto expected = builtin_tree(o, f.root + "/bin");
    // From a file, each child runs beside it (the built-in tree runs where
    // the supervisor was started, its --data-dir made absolute).
    for (auto& c : expected.root.children) c.cwd = f.root;
    CHECK(back.root == expected.root);
    CHECK(back.stash == "stash");
    CHECK(contains(printed, "\"--initial\", \"42\""));
    CHECK(contains(printed, "\"--wait-for-ack\""));
    CHECK(contains(printed, "strategy = \"rest_for_one\""));
}

TEST_CASE("an unknown key is an error naming file:line:column and the key, with a guess") {
    Fixture f;
    auto e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nrestat = \"temporary\"\n");
    CHECK(e == f.file + ":4:1: child \"a\", key \"restat\": unknown key; did you mean \"restart\"?\n");
    e = f.errors("strategi = \"one_for_one\"\n");
    CHECK(e == f.file + ":1:1: key \"strategi\": unknown key; did you mean \"strategy\"?\n");
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [{ name = \"s\", pth = \"x\" }]\n");
    CHECK(contains(e, ":4:26: child \"a\", key \"sockets.pth\": unknown key; did you mean \"path\"?"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nzzzzzz = 1\n");
    CHECK(e == f.file + ":4:1: child \"a\", key \"zzzzzz\": unknown key\n");
}

TEST_CASE("keys of the other type of child are errors, said as such") {
    Fixture f;
    auto e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nstrategy = \"one_for_all\"\n");
    CHECK(contains(e, ":4:1: child \"a\", key \"strategy\": only for a child of type = \"supervisor\""));
    e = f.errors("[[child]]\nname = \"s\"\ntype = \"supervisor\"\ncommand = [\"prog\"]\n");
    CHECK(contains(e, ":4:1: child \"s\", key \"command\": not for a child of type \"supervisor\""));
}

TEST_CASE("names: missing, malformed, or twice among siblings") {
    Fixture f;
    auto e = f.errors("[[child]]\ncommand = [\"prog\"]\n");
    CHECK(contains(e, ":1:1: child \"#1\", key \"name\": missing: every child needs a name"));
    e = f.errors("[[child]]\nname = \"a/b\"\ncommand = [\"prog\"]\n");
    CHECK(contains(e, ":2:8: child \"#1\", key \"name\": \"a/b\" is not a name"));
    e = f.errors("[[child]]\nname = \"\"\ncommand = [\"prog\"]\n");
    CHECK(contains(e, "key \"name\": \"\" is not a name"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n");
    CHECK(contains(e, ":4:1: key \"name\": two children named \"a\""));
    // The same name under two different supervisors is fine.
    CHECK(f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n[[child]]\nname = \"s\"\ntype = \"supervisor\"\n"
                   "[[child.child]]\nname = \"a\"\ncommand = [\"prog\"]\n") == "(valid)");
}

TEST_CASE("commands: missing, empty, not strings, not found, not executable") {
    Fixture f;
    auto e = f.errors("[[child]]\nname = \"a\"\n");
    CHECK(contains(e, ":1:1: child \"a\", key \"command\": missing: a worker needs a command to run"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = []\n");
    CHECK(contains(e, ":3:11: child \"a\", key \"command\": empty: it needs at least the program"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = \"prog\"\n");
    CHECK(contains(e, "key \"command\": expected an array of strings"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\", 3]\n");
    CHECK(contains(e, ":3:20: child \"a\", key \"command\": expected only strings"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"no-such-program-here\"]\n");
    CHECK(contains(e, ":3:12: child \"a\", key \"command\": program \"no-such-program-here\" not found beside "
                      "seq-supervisor (" + f.root + "/bin) nor on $PATH"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"plain\"]\n");
    CHECK(contains(e, "key \"command\": program \"plain\": " + f.root + "/bin/plain is not executable"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"./missing.sh\"]\n");
    CHECK(contains(e, "key \"command\": program \"./missing.sh\": not found (as " + f.root + "/missing.sh)"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"./dir\"]\n");
    CHECK(contains(e, "program \"./dir\": not a regular file"));
    // On $PATH, as a shell would find it.
    auto t = f.parse("[[child]]\nname = \"a\"\ncommand = [\"sh\"]\n");
    CHECK((t.root.children[0].program == "/usr/bin/sh" || t.root.children[0].program == "/bin/sh"));
    // `program`: the file exec'd, with argv[0] only a name.
    t = f.parse("[[child]]\nname = \"a\"\ncommand = [\"web\", \"-x\"]\nprogram = \"prog\"\n");
    CHECK(t.root.children[0].command == std::vector<std::string>{"web", "-x"});
    CHECK(t.root.children[0].program == f.root + "/bin/prog");
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"web\"]\nprogram = \"nothing-here\"\n");
    CHECK(contains(e, ":4:11: child \"a\", key \"program\": program \"nothing-here\" not found beside"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"web\"]\nprogram = 3\n");
    CHECK(contains(e, ":4:11: child \"a\", key \"program\": expected a string"));
}

TEST_CASE("autostart: false keeps a child down at start, for a worker or a supervisor, and anything but a boolean is refused") {
    Fixture f;
    auto t = f.parse("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nautostart = false\n"
                     "[[child]]\nname = \"s\"\ntype = \"supervisor\"\nautostart = false\n");
    CHECK_FALSE(t.root.children[0].autostart);
    CHECK_FALSE(t.root.children[1].autostart);
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(contains(f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nautostart = \"no\"\n"),
                   ":4:13: child \"a\", key \"autostart\": expected true or false"));
}

TEST_CASE("significant and auto_shutdown: OTP's rules, every error named") {
    Fixture f;
    auto t = f.parse("auto_shutdown = \"all_significant\"\n"
                     "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nrestart = \"transient\"\nsignificant = true\n"
                     "[[child]]\nname = \"s\"\ntype = \"supervisor\"\nrestart = \"temporary\"\nsignificant = true\n"
                     "auto_shutdown = \"any_significant\"\n");
    CHECK(t.root.auto_shutdown == AutoShutdown::all_significant);
    CHECK(t.root.children[0].significant);
    CHECK(t.root.children[1].significant);
    CHECK(t.root.children[1].sub.auto_shutdown == AutoShutdown::any_significant);
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(f.parse("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n").root.auto_shutdown == AutoShutdown::never);
    CHECK(contains(f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsignificant = true\n"),
                   ":4:15: child \"a\", key \"significant\": only for a transient or temporary child"));
    CHECK(contains(f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nrestart = \"temporary\"\nsignificant = 1\n"),
                   "key \"significant\": expected true or false"));
    CHECK(contains(f.errors("auto_shutdown = \"always\"\n"),
                   ":1:17: key \"auto_shutdown\": \"always\" is not one of never, any_significant, all_significant"));
}

TEST_CASE("bad enum values name the key and what it may be") {
    Fixture f;
    auto e = f.errors("strategy = \"one_for_none\"\n");
    CHECK(e == f.file + ":1:12: key \"strategy\": \"one_for_none\" is not one of one_for_one, one_for_all, "
                        "rest_for_one\n");
    auto child = [](const std::string& line) { return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + line + "\n"; };
    CHECK(contains(f.errors(child("restart = \"always\"")),
                   ":4:11: child \"a\", key \"restart\": \"always\" is not one of permanent, transient, temporary"));
    CHECK(contains(f.errors(child("readiness = \"yes\"")),
                   "key \"readiness\": \"yes\" is not one of none, notify-fd, sd_notify"));
    CHECK(contains(f.errors(child("shutdown = \"soon\"")),
                   "key \"shutdown\": \"soon\" is not \"brutal_kill\", \"infinity\" or a number of milliseconds"));
    CHECK(contains(f.errors(child("type = \"daemon\"")), "key \"type\": \"daemon\" is not one of worker, supervisor"));
}

TEST_CASE("numbers: wrong type or out of range") {
    Fixture f;
    CHECK(contains(f.errors("max_restarts = \"3\"\n"), ":1:16: key \"max_restarts\": expected a whole number"));
    CHECK(contains(f.errors("max_restarts = -1\n"), "key \"max_restarts\": -1 is out of range (0 to 1000000)"));
    CHECK(contains(f.errors("max_seconds = 0\n"), "key \"max_seconds\": 0 is out of range"));
    CHECK(contains(f.errors("max_seconds = 1.5\n"), "key \"max_seconds\": expected a whole number"));
    CHECK(contains(f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nstart_timeout = 0\n"),
                   "key \"start_timeout\": 0 is out of range"));
    CHECK(contains(f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nshutdown = -5\n"),
                   "key \"shutdown\": -5 is out of range"));
}

TEST_CASE("sockets that could not be bound are refused when the run dir is known: a missing folder, a path too long") {
    Fixture f;
    f.ctx.run_dir = f.root + "/run";
    auto child = [](const std::string& sockets) {
        return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = " + sockets + "\n";
    };
    CHECK(f.errors(child("[\"s\", { name = \"t\", path = \"" + f.root + "/dir/t.sock\" }]")) == "(valid)");
    CHECK(contains(f.errors(child("[{ name = \"s\", path = \"/no/such/dir/s.sock\" }]")),
                   ":4:12: child \"a\", key \"sockets\": \"/no/such/dir/s.sock\": its folder /no/such/dir does not exist"));
    CHECK(contains(f.errors(child("[{ name = \"s\", path = \"x/s.sock\" }]")),
                   "\"x/s.sock\": its folder " + f.root + "/run/x does not exist"));
    auto long_name = std::string(100, 'n') + ".sock";
    auto full = f.root + "/run/" + long_name;
    CHECK(contains(f.errors(child("[{ name = \"s\", path = \"" + long_name + "\" }]")),
                   "\"" + long_name.substr(0, 80) + "\": too long for a socket: " + std::to_string(full.size()) +
                       " bytes as bound (" + full + "), at most 107"));
    // Unknown run dir (a nested supervisor, which binds nothing): not checked.
    f.ctx.run_dir.clear();
    CHECK(f.errors(child("[{ name = \"s\", path = \"x/s.sock\" }]")) == "(valid)");
}

TEST_CASE("sockets: used twice, malformed, reserved, stash must name one") {
    Fixture f;
    auto e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [\"s\"]\n"
                      "[[child]]\nname = \"b\"\ncommand = [\"prog\"]\nsockets = [\"s\"]\n");
    CHECK(contains(e, ":8:12: child \"b\", key \"sockets\": socket \"s\" is named twice in the tree"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [\"s\", { name = \"t\", path = \"s.sock\" }]\n");
    CHECK(contains(e, "key \"sockets\": socket path \"s.sock\" is used twice in the tree"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [{ name = \"c\", path = \"control.sock\" }]\n");
    CHECK(contains(e, "key \"sockets\": \"control.sock\" is the supervisor's own file in the run dir"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [{ path = \"x.sock\" }]\n");
    CHECK(contains(e, "key \"sockets\": a socket table needs a name"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [\"a b\"]\n");
    CHECK(contains(e, "key \"sockets\": \"a b\" is not a socket name"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [7]\n");
    CHECK(contains(e, "key \"sockets\": expected a socket's name or { name = ..., path = ... }"));
    e = f.errors("stash = \"nowhere\"\n[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [\"s\"]\n");
    CHECK(e == f.file + ":1:9: key \"stash\": no socket named \"nowhere\" in the tree\n");
    // One file by two spellings is one file; the supervisor's own, however spelled.
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [\"x\", { name = \"y\", path = \"./x.sock\" }]\n");
    CHECK(contains(e, "key \"sockets\": socket path \"x.sock\" is used twice in the tree"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [{ name = \"c\", path = \"sub/../control.sock\" }]\n");
    CHECK(contains(e, "\"control.sock\" is the supervisor's own file in the run dir"));
    e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [{ name = \"c\", path = \"sub/\" }]\n");
    CHECK(contains(e, "\"sub/\" names a directory, not a socket's file"));
    CHECK(f.parse("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [{ name = \"w\", path = \"./run/w.sock\" }]\n")
              .root.children[0].sockets[0].path == "run/w.sock");
    // An empty name is an error, not a socket silently left out.
    CHECK(contains(f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [\"\"]\n"),
                   "key \"sockets\": a socket's name cannot be empty"));
    CHECK(contains(f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [{ name = \"\" }]\n"),
                   "key \"sockets\": a socket's name cannot be empty"));
}

TEST_CASE("TCP sockets: listen, backlog, reuse_address, ipv6_only, their defaults, every error, and the round trip") {
    Fixture f;
    auto t = f.parse("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n"
                     "sockets = [{ name = \"web\", listen = \"127.0.0.1:8080\" },"
                     " { name = \"v6\", listen = \"[0::1]:0\", backlog = 16, reuse_address = false, ipv6_only = false },"
                     " { name = \"u\", path = \"u.sock\", backlog = 8 }]\n");
    auto& s = t.root.children[0].sockets;
    REQUIRE(s.size() == 3);
    CHECK(s[0].tcp());
    CHECK(s[0].listen == "127.0.0.1:8080");
    CHECK(s[0].path.empty());
    CHECK(s[0].backlog == SocketSpec::default_backlog);
    CHECK(s[0].reuse_address);
    CHECK(s[0].ipv6_only);
    CHECK(s[1].listen == "[::1]:0");
    CHECK(s[1].backlog == 16);
    CHECK_FALSE(s[1].reuse_address);
    CHECK_FALSE(s[1].ipv6_only);
    CHECK_FALSE(s[2].tcp());
    CHECK(s[2].backlog == 8);
    CHECK(f.parse(write_tree(t)).root == t.root);
    // Port 0 twice is two ports; any other address twice is refused.
    CHECK(f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n"
                   "sockets = [{ name = \"x\", listen = \"127.0.0.1:0\" }, { name = \"y\", listen = \"127.0.0.1:0\" }]\n") ==
          "(valid)");
    auto e = f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n"
                      "sockets = [{ name = \"x\", listen = \"127.0.0.1:80\" }, { name = \"y\", listen = \"127.0.0.1:80\" }]\n");
    CHECK(contains(e, "key \"sockets\": address 127.0.0.1:80 is used twice in the tree"));
    auto one = [&](const std::string& entry) {
        return f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [" + entry + "]\n");
    };
    CHECK(contains(one("{ name = \"x\", listen = \"localhost:80\" }"),
                   ":4:35: child \"a\", key \"sockets.listen\": \"localhost:80\": 'localhost' is not an IPv4 address"));
    CHECK(contains(one("{ name = \"x\", listen = \"127.0.0.1:70000\" }"),
                   "key \"sockets.listen\": \"127.0.0.1:70000\": port 70000 is out of range: 1 to 65535"));
    CHECK(contains(one("{ name = \"x\", listen = 80 }"), "key \"sockets.listen\": expected a string"));
    CHECK(contains(one("{ name = \"x\", listen = \"1.2.3.4:1\", path = \"x.sock\" }"),
                   "key \"sockets\": a socket has either a path (Unix) or listen (TCP), not both"));
    CHECK(contains(one("{ name = \"x\", listen = \"1.2.3.4:1\", backlog = 0 }"),
                   "key \"sockets.backlog\": 0 is out of range (1 to 65535)"));
    CHECK(contains(one("{ name = \"x\", listen = \"1.2.3.4:1\", backlog = 65536 }"),
                   "key \"sockets.backlog\": 65536 is out of range (1 to 65535)"));
    CHECK(contains(one("{ name = \"x\", listen = \"1.2.3.4:1\", reuse_address = \"yes\" }"),
                   "key \"sockets.reuse_address\": expected true or false"));
    CHECK(contains(one("{ name = \"x\", listen = \"1.2.3.4:1\", ipv6_only = false }"),
                   "key \"sockets.ipv6_only\": only for an IPv6 address (1.2.3.4:1 is IPv4)"));
    CHECK(contains(one("{ name = \"x\", path = \"x.sock\", reuse_address = true }"),
                   "key \"sockets.reuse_address\": only for a TCP socket (one with listen = \"HOST:PORT\")"));
    CHECK(contains(one("{ name = \"x\", listen = \"1.2.3.4:1\", backlgo = 3 }"),
                   "key \"sockets.backlgo\": unknown key; did you mean \"backlog\"?"));
    // One port bound twice where the kernel would refuse the second: a wildcard and another address.
    auto two = [&](const std::string& a, const std::string& b, const std::string& more_a = "") {
        return f.errors("[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = [{ name = \"x\", listen = \"" + a +
                        "\"" + more_a + " }, { name = \"y\", listen = \"" + b + "\" }]\n");
    };
    CHECK(contains(two("127.0.0.1:80", "0.0.0.0:80"),
                   "address 0.0.0.0:80 overlaps 127.0.0.1:80 (socket \"x\"): the kernel binds one port to a wildcard "
                   "address or to others, not both"));
    CHECK(contains(two("[::]:80", "[::1]:80"), "address [::1]:80 overlaps [::]:80"));
    CHECK(contains(two("[::]:80", "127.0.0.1:80", ", ipv6_only = false"), "address 127.0.0.1:80 overlaps [::]:80"));
    CHECK(two("[::]:80", "127.0.0.1:80") == "(valid)");      // IPv6 only: no overlap with IPv4
    CHECK(two("127.0.0.1:80", "127.0.0.2:80") == "(valid)");  // two addresses, one port
    CHECK(two("0.0.0.0:0", "127.0.0.1:0") == "(valid)");      // the kernel's picks
    CHECK(two("0.0.0.0:80", "0.0.0.0:81") == "(valid)");
    // $SEQ_STASH is a path: the stash must be a Unix socket.
    e = f.errors("stash = \"s\"\n[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n"
                 "sockets = [{ name = \"s\", listen = \"127.0.0.1:0\" }]\n");
    CHECK(contains(e, "key \"stash\": \"s\" is a TCP socket; $SEQ_STASH names a Unix socket's path"));
}

TEST_CASE("instances: a worker's pool, its range, not on a supervisor nor a significant child, the round trip, and its members' specs") {
    Fixture f;
    auto t = f.parse("[[child]]\nname = \"web\"\ncommand = [\"prog\"]\ninstances = 4\n");
    CHECK(t.root.children[0].instances == 4);
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(f.parse("[[child]]\nname = \"web\"\ncommand = [\"prog\"]\n").root.children[0].instances == 0);
    auto one = [&](const std::string& keys) { return f.errors("[[child]]\nname = \"web\"\ncommand = [\"prog\"]\n" + keys); };
    CHECK(contains(one("instances = 0\n"), ":4:13: child \"web\", key \"instances\": 0 is out of range (1 to 10000)"));
    CHECK(contains(one("instances = 10001\n"), "key \"instances\": 10001 is out of range (1 to 10000)"));
    CHECK(contains(one("instances = \"4\"\n"), "key \"instances\": expected a whole number"));
    CHECK(contains(one("restart = \"transient\"\nsignificant = true\ninstances = 2\n"),
                   "key \"instances\": a pool cannot be significant (each instance restarts alone)"));
    CHECK(contains(f.errors("[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\ninstances = 2\n"),
                   "child \"jobs\", key \"instances\": only for a worker: a supervisor is not a pool (put the pool below it)"));
    auto m = member_spec(t.root.children[0], 3);
    CHECK(m.name == "web#3");
    CHECK(m.pool == "web");
    CHECK(m.pool_index == 3);
    CHECK(m.instances == 0);
    CHECK(m.command == t.root.children[0].command);
    CHECK(split_member("web#3") == std::pair<std::string_view, unsigned>{"web", 3});
    CHECK(split_member("web#0") == std::pair<std::string_view, unsigned>{"web", 0});
    CHECK(split_member("web#9999") == std::pair<std::string_view, unsigned>{"web", 9999});
    for (auto bad : {"web", "web#", "#3", "web#03", "web#3x", "web#-1", "web#123456"}) {
        CAPTURE(bad);
        CHECK_FALSE(split_member(bad));
    }
    // Below a nested supervisor, an instance of a pool is found by its pool's spec.
    auto nested = f.parse("[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
                          "[[child.child]]\nname = \"w\"\ncommand = [\"prog\"]\ninstances = 2\n"
                          "[[child.child]]\nname = \"x\"\ncommand = [\"prog\"]\n");
    CHECK(find_spec(nested.root, "jobs/w#5") == &nested.root.children[0].sub.children[0]);
    CHECK(find_spec(nested.root, "jobs/x#0") == nullptr);  // not a pool
    CHECK(find_spec(nested.root, "jobs/w#5/y") == nullptr);
}

TEST_CASE("env and cwd: malformed, reserved, missing folder") {
    Fixture f;
    auto child = [](const std::string& line) { return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + line + "\n"; };
    CHECK(contains(f.errors(child("env = { \"A=B\" = \"x\" }")), "key \"env\": \"A=B\" is not an environment variable's name"));
    CHECK(contains(f.errors(child("env = { SEQ_NAME = \"x\" }")), "key \"env\": \"SEQ_NAME\" is set by the supervisor itself"));
    // Every one of the supervisor's own, by the one list the supervisor sets them from.
    for (auto name : supervisor_variables) {
        CAPTURE(name);
        CHECK(contains(f.errors(child("env = { " + std::string(name) + " = \"1\" }")),
                       "key \"env\": \"" + std::string(name) + "\" is set by the supervisor itself"));
    }
    CHECK(contains(f.errors(child("env = { A = 1 }")), "key \"env.A\": expected a string"));
    CHECK(contains(f.errors(child("env = [\"A=1\"]")), "key \"env\": expected a table"));
    CHECK(contains(f.errors(child("cwd = \"no/such/dir\"")), ":4:7: child \"a\", key \"cwd\": \"no/such/dir\" is not a directory"));
}

TEST_CASE("every error of a file is reported, not just the first") {
    Fixture f;
    auto e = f.errors("strategy = \"x\"\nmax_seconds = 0\n[[child]]\nname = \"a\"\nrestat = 1\n");
    CHECK(contains(e, "key \"strategy\""));
    CHECK(contains(e, "key \"max_seconds\""));
    CHECK(contains(e, "key \"restat\""));
    CHECK(contains(e, "key \"command\": missing"));
}

TEST_CASE("a file that is not TOML, or cannot be read, says where and why") {
    Fixture f;
    auto e = f.errors("strategy = \"one_for_one\"\n[[child]\n");
    CHECK(contains(e, f.file + ":2:"));
    CHECK(contains(e, ": not TOML: "));
    CHECK(contains(f.errors("child = 3\n"), ":1:9: key \"child\": expected [[child]] tables"));
    try {
        load_tree_file(f.root + "/absent.toml", f.ctx);
        FAIL("an absent file loaded");
    } catch (const TreeFileError& err) {
        REQUIRE(err.errors.size() == 1);
        CHECK(err.errors[0] == f.root + "/absent.toml: cannot read: No such file or directory");
    }
    // A folder would read as an empty tree: a reload to it would stop every child.
    try {
        load_tree_file(f.root + "/dir", f.ctx);
        FAIL("a folder loaded");
    } catch (const TreeFileError& err) {
        REQUIRE(err.errors.size() == 1);
        CHECK(err.errors[0] == f.root + "/dir: is a directory, not a tree file");
    }
}

TEST_CASE("sd_notify: READY=1 is one line of the message, exactly") {
    CHECK(says_ready("READY=1"));
    CHECK(says_ready("READY=1\n"));
    CHECK(says_ready("STATUS=warming up\nREADY=1\nMAINPID=4"));
    CHECK_FALSE(says_ready(""));
    CHECK_FALSE(says_ready("READY=0"));
    CHECK_FALSE(says_ready("READY=10"));
    CHECK_FALSE(says_ready("XREADY=1"));
    CHECK_FALSE(says_ready("STATUS=READY=1"));
    CHECK_FALSE(says_ready("WATCHDOG=1\n"));
}

TEST_CASE("backoff: its keys, their defaults, their errors, and the round trip") {
    Fixture f;
    auto child = [](const std::string& line) { return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + line + "\n"; };
    CHECK(f.parse(child("")).root.children[0].backoff == BackoffSpec{0, 2.0, 30000, 10000});
    auto full = f.parse(child("backoff = { initial = 50, factor = 1.5, max = 800, reset_after = 2000 }"));
    CHECK(full.root.children[0].backoff == BackoffSpec{50, 1.5, 800, 2000});
    auto some = f.parse(child("backoff = { max = 5000 }"));
    CHECK(some.root.children[0].backoff == BackoffSpec{100, 2.0, 5000, 10000});
    CHECK(f.parse(child("backoff = { factor = 3 }")).root.children[0].backoff.factor == 3.0);
    CHECK(f.parse(write_tree(full)).root == full.root);
    CHECK(f.parse(write_tree(some)).root == some.root);
    CHECK(contains(f.errors(child("backoff = { intial = 5 }")),
                   ":4:13: child \"a\", key \"backoff.intial\": unknown key; did you mean \"initial\"?"));
    CHECK(contains(f.errors(child("backoff = 100")), "key \"backoff\": expected a table"));
    CHECK(contains(f.errors(child("backoff = { factor = 0.5 }")), "key \"backoff.factor\": must be from 1 to 100"));
    CHECK(contains(f.errors(child("backoff = { factor = \"2\" }")), "key \"backoff.factor\": expected a number"));
    CHECK(contains(f.errors(child("backoff = { initial = -1 }")), "key \"backoff.initial\": -1 is out of range"));
    CHECK(contains(f.errors(child("backoff = { initial = 500, max = 100 }")),
                   "key \"backoff\": max (100) is less than initial (500)"));
    CHECK(contains(f.errors(child("backoff = { initial = 50000 }")),
                   "key \"backoff\": max (30000, the default) is less than initial (50000)"));
}

TEST_CASE("watchdog: its key, its range, workers only, the round trip, and the lines that feed it") {
    Fixture f;
    auto child = [](const std::string& line) { return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + line + "\n"; };
    CHECK(f.parse(child("")).root.children[0].watchdog_ms == 0);
    auto t = f.parse(child("watchdog = 2000"));
    CHECK(t.root.children[0].watchdog_ms == 2000);
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(contains(f.errors(child("watchdog = 5")), "key \"watchdog\": 5 is out of range (10 to 86400000)"));
    CHECK(contains(f.errors(child("watchdog = \"2s\"")), "key \"watchdog\": expected a whole number"));
    CHECK(contains(f.errors("[[child]]\nname = \"s\"\ntype = \"supervisor\"\nwatchdog = 100\n"),
                   "key \"watchdog\": not for a child of type \"supervisor\""));
    CHECK(says("WATCHDOG=1", "WATCHDOG=1"));
    CHECK(says("STATUS=busy\nWATCHDOG=1\n", "WATCHDOG=1"));
    CHECK(says("WATCHDOG=trigger", "WATCHDOG=trigger"));
    CHECK_FALSE(says("WATCHDOG=10", "WATCHDOG=1"));
    CHECK_FALSE(says("READY=1", "WATCHDOG=1"));
}

TEST_CASE("reserve: its key, its range, workers only, the round trip, and the built-in tree's flag") {
    Fixture f;
    auto child = [](const std::string& line) { return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + line + "\n"; };
    CHECK(f.parse(child("")).root.children[0].reserve == 0);
    auto t = f.parse(child("reserve = 1000"));
    CHECK(t.root.children[0].reserve == 1000);
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(contains(f.errors(child("reserve = 0")), "key \"reserve\": 0 is out of range (1 to 1000000000)"));
    CHECK(contains(f.errors(child("reserve = \"many\"")), "key \"reserve\": expected a whole number"));
    CHECK(contains(f.errors("[[child]]\nname = \"s\"\ntype = \"supervisor\"\nreserve = 10\n"),
                   "key \"reserve\": not for a child of type \"supervisor\""));
    seq::sup::BuiltinOptions o;
    o.reserve = 500;
    auto builtin = seq::sup::builtin_tree(o, "");
    CHECK(builtin.root.children.at(1).name == "worker");
    CHECK(builtin.root.children.at(1).reserve == 500);
    CHECK(builtin.root.children.at(0).reserve == 0);
}

TEST_CASE("standby: its key, what it needs, workers only, the round trip, and the built-in tree's flag") {
    Fixture f;
    auto child = [](const std::string& lines) {
        return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + lines + "\n";
    };
    const std::string ok = "readiness = \"notify-fd\"\nsockets = [\"a\"]\n";
    CHECK_FALSE(f.parse(child(ok)).root.children[0].standby);
    auto t = f.parse(child(ok + "standby = true"));
    CHECK(t.root.children[0].standby);
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(contains(f.errors(child("sockets = [\"a\"]\nstandby = true")),
                   "key \"standby\": needs readiness = \"notify-fd\""));
    CHECK(contains(f.errors(child("readiness = \"notify-fd\"\nstandby = true")), "key \"standby\": needs sockets"));
    CHECK(contains(f.errors(child(ok + "standby = 1")), "key \"standby\": expected true or false"));
    CHECK(contains(f.errors("[[child]]\nname = \"s\"\ntype = \"supervisor\"\nstandby = true\n"),
                   "key \"standby\": not for a child of type \"supervisor\""));
    seq::sup::BuiltinOptions o;
    o.standby = true;
    auto builtin = seq::sup::builtin_tree(o, "");
    CHECK(builtin.root.children.at(1).standby);
    CHECK_FALSE(builtin.root.children.at(0).standby);
}

TEST_CASE("type = dynamic: its template and max_children, every error, the round trip, and the subtree it is handed") {
    Fixture f;
    const std::string dyn = "[[child]]\nname = \"jobs\"\ntype = \"dynamic\"\nmax_children = 50\nmax_restarts = 9\n"
                            "[child.template]\ncommand = [\"prog\", \"--job\"]\nrestart = \"transient\"\n"
                            "env = { KIND = \"a\" }\nsockets = [\"jobs\"]\n";
    auto t = f.parse(dyn);
    auto& jobs = t.root.children.at(0);
    CHECK(jobs.type == ChildType::supervisor);
    CHECK(type_name(jobs) == "dynamic");
    CHECK(jobs.sub.dynamic());
    CHECK(jobs.sub.max_children == 50);
    CHECK(jobs.sub.max_restarts == 9);
    CHECK(jobs.sub.strategy == Strategy::one_for_one);
    CHECK(jobs.sub.children.empty());
    REQUIRE(jobs.sub.child_template.size() == 1);
    auto& tmpl = jobs.sub.child_template[0];
    CHECK(tmpl.name.empty());
    CHECK(tmpl.command == std::vector<std::string>{"prog", "--job"});
    CHECK(tmpl.restart == RestartType::transient);
    CHECK(tmpl.env.at("KIND") == "a");
    CHECK(!jobs.shutdown_ms);  // a supervisor waits for its children
    // Its template's sockets are bound by the top, for every child added.
    REQUIRE(sockets_of(t.root).size() == 1);
    CHECK(sockets_of(t.root)[0].name == "jobs");
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(f.parse("[[child]]\nname = \"jobs\"\ntype = \"dynamic\"\n[child.template]\ncommand = [\"prog\"]\n")
              .root.children[0].sub.max_children == 0);  // unbounded by default, as OTP's

    // Below a nested supervisor, and as the subtree a nested supervisor is
    // handed (a [template] at its top, which only a subtree may have).
    auto nested = f.parse("[[child]]\nname = \"mid\"\ntype = \"supervisor\"\n[[child.child]]\nname = \"jobs\"\n"
                          "type = \"dynamic\"\n[child.child.template]\ncommand = [\"prog\"]\n");
    CHECK(f.parse(write_tree(nested)).root == nested.root);
    CHECK(below_dynamic(nested.root, "mid/jobs/anyone"));
    CHECK_FALSE(below_dynamic(nested.root, "mid/jobs"));
    CHECK_FALSE(below_dynamic(nested.root, "mid/other/x"));
    CHECK_FALSE(below_dynamic(nested.root, "mid/jobs/bad name"));
    Tree sub;
    sub.root = jobs.sub;
    auto sub_ctx = f.ctx;
    sub_ctx.subtree = true;
    CHECK(parse_tree(write_tree(sub), f.file, sub_ctx).root == jobs.sub);
    CHECK(contains(f.errors(write_tree(sub)),
                   "key \"template\": only for a child of type = \"dynamic\" (the top of a tree lists its children)"));
    CHECK(contains(f.errors("max_children = 3\n"), "key \"max_children\": only for a child of type = \"dynamic\""));

    auto errs = [&](const std::string& keys, const std::string& tmpl_keys = "command = [\"prog\"]\n") {
        return f.errors("[[child]]\nname = \"jobs\"\ntype = \"dynamic\"\n" + keys + "[child.template]\n" + tmpl_keys);
    };
    CHECK(contains(f.errors("[[child]]\nname = \"jobs\"\ntype = \"dynamic\"\n"),
                   "child \"jobs\", key \"template\": missing: a dynamic supervisor needs a [child.template]"));
    CHECK(contains(f.errors("[[child]]\nname = \"jobs\"\ntype = \"dynamic\"\ntemplate = 3\n"),
                   "key \"template\": expected a table"));
    CHECK(contains(errs("max_children = 0\n"), "key \"max_children\": 0 is out of range (1 to 1000000)"));
    CHECK(contains(errs("strategy = \"one_for_all\"\n"),
                   "key \"strategy\": not for a dynamic supervisor: its children are independent (one_for_one)"));
    CHECK(contains(errs("auto_shutdown = \"any_significant\"\n"), "key \"auto_shutdown\": not for a dynamic supervisor"));
    CHECK(contains(errs("command = [\"prog\"]\n"),
                   "key \"command\": not for a child of type \"dynamic\" (put it in its [child.template])"));
    CHECK(contains(f.errors("[[child]]\nname = \"jobs\"\ntype = \"dynamic\"\n[child.template]\ncommand = [\"prog\"]\n"
                            "[[child.child]]\nname = \"x\"\ncommand = [\"prog\"]\n"),
                   "key \"child\": a dynamic supervisor's children are added at run time (seqctl add)"));
    CHECK(contains(errs("", ""), "child \"jobs/template\", key \"command\": missing: a worker needs a command"));
    CHECK(contains(errs("", "command = [\"nowhere-to-be-found\"]\n"), "child \"jobs/template\", key \"command\": program"));
    CHECK(contains(errs("", "command = [\"prog\"]\nname = \"x\"\n"),
                   "child \"jobs/template\", key \"name\": not in a template: each child added from it is named by seqctl add"));
    CHECK(contains(errs("", "command = [\"prog\"]\ninstances = 2\n"), "key \"instances\": not in a template"));
    CHECK(contains(errs("", "command = [\"prog\"]\nautostart = false\n"), "key \"autostart\": not in a template"));
    CHECK(contains(errs("", "command = [\"prog\"]\nrestart = \"temporary\"\nsignificant = true\n"),
                   "key \"significant\": not in a template"));
    CHECK(contains(errs("", "command = [\"prog\"]\ntype = \"worker\"\n"), "key \"type\": not in a template"));
    CHECK(contains(errs("", "command = [\"prog\"]\nstrategy = \"x\"\n"), "child \"jobs/template\", key \"strategy\": unknown key"));
    CHECK(contains(f.errors("[[child]]\nname = \"w\"\ncommand = [\"prog\"]\nmax_children = 3\n"),
                   "child \"w\", key \"max_children\": only for a child of type = \"dynamic\""));
    CHECK(contains(f.errors("[[child]]\nname = \"s\"\ntype = \"supervisor\"\n[child.template]\ncommand = [\"prog\"]\n"),
                   "child \"s\", key \"template\": only for a child of type = \"dynamic\""));
    CHECK(contains(f.errors("[[child]]\nname = \"s\"\ntype = \"dynamo\"\n"),
                   "\"dynamo\" is not one of worker, supervisor, dynamic"));
}

TEST_CASE("update, max_surge, min_uptime: their defaults, workers only, every error, and the round trip") {
    Fixture f;
    auto child = [](const std::string& lines) {
        return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + lines + "\n";
    };
    auto plain = f.parse(child("")).root.children[0];
    CHECK(plain.update == Update::restart);
    CHECK(plain.max_surge == 1);
    CHECK(plain.min_uptime_ms == 5000);
    CHECK(plain.generation == 1);
    auto t = f.parse(child("instances = 4\nupdate = \"rolling\"\nmax_surge = 2\nmin_uptime = 0"));
    auto& web = t.root.children[0];
    CHECK(web.update == Update::rolling);
    CHECK(web.max_surge == 2);
    CHECK(web.min_uptime_ms == 0);
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(member_spec(web, 3).update == Update::rolling);
    CHECK(contains(f.errors(child("update = \"blue-green\"")),
                   "key \"update\": \"blue-green\" is not one of restart, rolling, handover"));
    // handover: what a standby needs, and one process.
    const std::string standby_ready = "readiness = \"notify-fd\"\nsockets = [\"a\"]\n";
    auto h = f.parse(child(standby_ready + "update = \"handover\"\nmin_uptime = 100\nmigrate = [\"prog\", \"--up\"]"));
    CHECK(h.root.children[0].update == Update::handover);
    CHECK(h.root.children[0].migrate == std::vector<std::string>{f.root + "/bin/prog", "--up"});
    CHECK(f.parse(write_tree(h)).root == h.root);
    CHECK(contains(f.errors(child("sockets = [\"a\"]\nupdate = \"handover\"")),
                   "key \"update\": \"handover\" needs readiness = \"notify-fd\""));
    CHECK(contains(f.errors(child("readiness = \"notify-fd\"\nupdate = \"handover\"")),
                   "key \"update\": \"handover\" needs sockets"));
    CHECK(contains(f.errors(child(standby_ready + "instances = 2\nupdate = \"handover\"")),
                   "key \"update\": \"handover\" is for one process"));
    CHECK(contains(f.errors(child(standby_ready + "update = \"handover\"\nmax_surge = 2")),
                   "key \"max_surge\": only with update = \"rolling\""));
    // migrate: a command, found as command is, and only with a rollout.
    CHECK(contains(f.errors(child("migrate = [\"prog\"]")), "key \"migrate\": only with update = \"rolling\" or"));
    CHECK(contains(f.errors(child("update = \"rolling\"\nmigrate = []")), "key \"migrate\": empty"));
    CHECK(contains(f.errors(child("update = \"rolling\"\nmigrate = [\"nowhere-to-be-found\"]")), "key \"migrate\""));
    CHECK(contains(f.errors(child("update = \"rolling\"\nmigrate = \"prog\"")),
                   "key \"migrate\": expected an array of strings"));
    CHECK(contains(f.errors(child("update = 1")), "key \"update\": expected a string"));
    CHECK(contains(f.errors(child("max_surge = 2")), "key \"max_surge\": only with update = \"rolling\""));
    CHECK(contains(f.errors(child("min_uptime = 10")), "key \"min_uptime\": only with update = \"rolling\""));
    CHECK(contains(f.errors(child("update = \"rolling\"\nmax_surge = 0")),
                   "key \"max_surge\": 0 is out of range (1 to 10000)"));
    CHECK(contains(f.errors(child("update = \"rolling\"\nmin_uptime = -1")), "key \"min_uptime\": -1 is out of range"));
    CHECK(contains(f.errors("[[child]]\nname = \"s\"\ntype = \"supervisor\"\nupdate = \"rolling\"\n"),
                   "key \"update\": not for a child of type \"supervisor\""));
    // The generation is the supervisor's to number: only a subtree it hands down says it.
    CHECK(contains(f.errors(child("generation = 2")), "key \"generation\""));
    auto sub_ctx = f.ctx;
    sub_ctx.subtree = true;
    web.generation = 7;
    auto again = parse_tree(write_tree(t), f.file, sub_ctx);
    CHECK(again.root.children[0].generation == 7);
    CHECK(contains(write_tree(t), "generation = 7"));
}

TEST_CASE("generations: numbered against what runs, the same for a spec unchanged, one more for a changed one, below nested supervisors and in templates too") {
    Fixture f;
    const std::string text = "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n"
                             "[[child]]\nname = \"mid\"\ntype = \"supervisor\"\n"
                             "[[child.child]]\nname = \"b\"\ncommand = [\"prog\", \"1\"]\n"
                             "[[child.child]]\nname = \"jobs\"\ntype = \"dynamic\"\n"
                             "[child.child.template]\ncommand = [\"prog\"]\n";
    auto running = f.parse(text).root;
    running.children[0].generation = 4;
    auto next = f.parse(text).root;
    number_generations(running, next);
    CHECK(next.children[0].generation == 4);  // the same spec: the same number
    CHECK(next.children[1].generation == 1);
    CHECK(next == running);
    // b changes: b and the supervisor above it (its subtree is part of its spec) move on.
    auto changed = text;
    changed.replace(changed.find("\"1\""), 3, "\"2\"");
    auto later = f.parse(changed).root;
    later.children[1].sub.children[1].sub.child_template[0].command.push_back("--new");
    number_generations(running, later);
    CHECK(later.children[0].generation == 4);
    CHECK(later.children[1].generation == 2);
    CHECK(later.children[1].sub.children[0].generation == 2);
    CHECK(later.children[1].sub.children[1].generation == 2);
    CHECK(later.children[1].sub.children[1].sub.child_template[0].generation == 2);
    CHECK(same_process_spec(running.children[0], later.children[0]));
    CHECK_FALSE(same_process_spec(running.children[1], later.children[1]));
    // A pool's number of instances is not a change of what each runs.
    auto pool = running.children[0];
    pool.instances = 4;
    auto fewer = pool;
    fewer.instances = 3;
    CHECK(same_process_spec(pool, fewer));
    // A new child starts at 1; a child of the same name but another type is new.
    auto other = f.parse("[[child]]\nname = \"a\"\ntype = \"supervisor\"\n[[child.child]]\nname = \"x\"\n"
                         "command = [\"prog\"]\n[[child]]\nname = \"c\"\ncommand = [\"prog\"]\n").root;
    number_generations(running, other);
    CHECK(other.children[0].generation == 1);
    CHECK(other.children[1].generation == 1);
}

TEST_CASE("graft: an upgrade of one path takes that child from the file and leaves the rest as it runs") {
    Fixture f;
    auto running = f.parse("[[child]]\nname = \"a\"\ncommand = [\"prog\", \"old\"]\n"
                           "[[child]]\nname = \"mid\"\ntype = \"supervisor\"\n"
                           "[[child.child]]\nname = \"b\"\ncommand = [\"prog\", \"old\"]\n"
                           "[[child.child]]\nname = \"c\"\ncommand = [\"prog\", \"old\"]\n").root;
    auto file = f.parse("[[child]]\nname = \"a\"\ncommand = [\"prog\", \"new\"]\n"
                        "[[child]]\nname = \"mid\"\ntype = \"supervisor\"\n"
                        "[[child.child]]\nname = \"b\"\ncommand = [\"prog\", \"new\"]\n"
                        "[[child.child]]\nname = \"d\"\ncommand = [\"prog\", \"new\"]\n").root;
    auto only_b = running;
    CHECK_FALSE(graft(only_b, file, "mid/b"));
    CHECK(only_b.children[0].command[1] == "old");
    CHECK(only_b.children[1].sub.children[0].command[1] == "new");
    CHECK(only_b.children[1].sub.children[1].command[1] == "old");
    // A child gone from the file goes; one new in it comes.
    auto c_gone = running;
    CHECK_FALSE(graft(c_gone, file, "mid/c"));
    CHECK(c_gone.children[1].sub.children.size() == 1);
    auto d_new = running;
    CHECK_FALSE(graft(d_new, file, "mid/d"));
    CHECK(d_new.children[1].sub.children.back().name == "d");
    auto none = running;
    CHECK(contains(graft(none, file, "nobody").value_or(""), "no child 'nobody'"));
    CHECK(contains(graft(none, file, "a/x").value_or(""), "no supervisor 'a'"));
    CHECK(none == running);
}

TEST_CASE("log, log_dir, log_stderr: files per child at any depth, their defaults, every error, and the round trip") {
    Fixture f;
    auto child = [](const std::string& line) { return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + line + "\n"; };
    auto none = f.parse(child("")).root.children[0].log;
    CHECK(none == LogSpec{});
    CHECK(none.file.empty());
    CHECK(none.to_stderr);
    // A relative file is the tree file's folder's.
    auto t = f.parse(child("log = { file = \"logs/a.log\", max_size = 4096, keep = 0, stderr = false }"));
    CHECK(t.root.children[0].log == LogSpec{f.root + "/logs/a.log", 4096, 0, false});
    CHECK(f.parse(write_tree(t)).root == t.root);
    // log_dir: <dir>/<path, / as .>.log for every worker below, at any depth;
    // a child's own file wins; log_stderr holds below the supervisor that says it.
    auto d = f.parse("log_dir = \"logs\"\n"
                     "[[child]]\nname = \"web\"\ntype = \"supervisor\"\nlog_stderr = false\n"
                     "[[child.child]]\nname = \"http\"\ncommand = [\"prog\"]\n"
                     "[[child.child]]\nname = \"own\"\ncommand = [\"prog\"]\nlog = { file = \"/var/tmp/own.log\" }\n"
                     "[[child]]\nname = \"pool\"\ncommand = [\"prog\"]\ninstances = 2\n"
                     "[[child]]\nname = \"jobs\"\ntype = \"dynamic\"\n[child.template]\ncommand = [\"prog\"]\n");
    auto& web = d.root.children[0];
    CHECK(web.log.file.empty());  // a supervisor's own output is not a child's
    CHECK(web.sub.children[0].log == LogSpec{f.root + "/logs/web.http.log", 10 << 20, 5, false});
    CHECK(web.sub.children[1].log.file == "/var/tmp/own.log");
    CHECK_FALSE(web.sub.children[1].log.to_stderr);
    CHECK(d.root.children[1].log.file == f.root + "/logs/pool.log");
    CHECK(d.root.children[1].log.to_stderr);
    CHECK(d.root.children[2].sub.child_template[0].log.file == f.root + "/logs/jobs.log");
    CHECK(f.parse(write_tree(d)).root == d.root);
    // Errors, each naming the key.
    CHECK(contains(f.errors(child("log = \"a.log\"")), "key \"log\": expected a table"));
    CHECK(contains(f.errors(child("log = { fil = \"a.log\" }")), "key \"log.fil\": unknown key; did you mean \"file\"?"));
    CHECK(contains(f.errors(child("log = { file = \"\" }")), "key \"log.file\": \"\" is not a file's path"));
    CHECK(contains(f.errors(child("log = { file = \"dir\" }")), "key \"log.file\": \"" + f.root + "/dir\" is a directory, not a file"));
    CHECK(contains(f.errors(child("log = { file = \"bin/plain/x.log\" }")),
                   "key \"log.file\": cannot create \"" + f.root + "/bin/plain/x.log\": \"" + f.root +
                       "/bin/plain\" is not a directory"));
    CHECK(contains(f.errors(child("log = { max_size = 10 }")), "key \"log.max_size\": 10 is out of range"));
    CHECK(contains(f.errors(child("log = { keep = 1001 }")), "key \"log.keep\": 1001 is out of range"));
    CHECK(contains(f.errors(child("log = { stderr = 1 }")), "key \"log.stderr\": expected true or false"));
    CHECK(contains(f.errors("log_dir = \"bin/prog\"\n" + child("")), "key \"log_dir\": \"" + f.root + "/bin/prog\" is not a directory"));
    CHECK(contains(f.errors("log_dir = \"\"\n" + child("")), "key \"log_dir\": empty"));
    CHECK(contains(f.errors("log_stderr = \"no\"\n" + child("")), "key \"log_stderr\": expected true or false"));
    CHECK(contains(f.errors("[[child]]\nname = \"s\"\ntype = \"supervisor\"\nlog = { file = \"s.log\" }\n"),
                   "key \"log\": not for a child of type \"supervisor\""));
    CHECK(contains(f.errors(child("log_dir = \"logs\"")), "key \"log_dir\": only for a child of type = \"supervisor\""));
    // One writer a file: two children, or a child and another's log_dir file.
    CHECK(contains(f.errors(child("log = { file = \"x.log\" }") + "[[child]]\nname = \"b\"\ncommand = [\"prog\"]\nlog = { file = \"x.log\" }\n"),
                   "child \"b\", key \"log\": its file \"" + f.root + "/x.log\" is \"a\"'s too: each child needs a file of its own"));
    CHECK(contains(f.errors("log_dir = \".\"\n" + child("") + "[[child]]\nname = \"b\"\ncommand = [\"prog\"]\nlog = { file = \"a.log\" }\n"),
                   "its file \"" + f.root + "/a.log\" is \"a\"'s too"));
}

TEST_CASE("user, group, supplementary_groups, umask, nice, limits: their values, every error, and the round trip") {
    Fixture f;
    auto child = [](const std::string& line) { return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + line + "\n"; };
    auto plain = f.parse(child("")).root.children[0];
    CHECK_FALSE(plain.run_as);
    CHECK_FALSE(plain.umask);
    CHECK_FALSE(plain.nice);
    CHECK(plain.limits.empty());
    auto t = f.parse(child("umask = \"0027\"\nnice = 5\n"
                           "limits = { nofile = 1000, core = \"unlimited\", stack = { soft = 4096, hard = 8192 } }"));
    auto& c = t.root.children[0];
    CHECK(c.umask == 027u);
    CHECK(c.nice == 5);
    REQUIRE(c.limits.size() == 3);
    CHECK(c.limits[0] == ResourceLimit{"core", RLIMIT_CORE, ~std::uint64_t{0}, ~std::uint64_t{0}});
    CHECK(c.limits[1] == ResourceLimit{"nofile", RLIMIT_NOFILE, 1000, 1000});
    CHECK(c.limits[2] == ResourceLimit{"stack", RLIMIT_STACK, 4096, 8192});
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(contains(f.errors(child("umask = \"0999\"")), "key \"umask\": \"0999\" is not an octal mode"));
    CHECK(contains(f.errors(child("umask = 27")), "key \"umask\": expected a string"));
    CHECK(contains(f.errors(child("nice = 20")), "key \"nice\": 20 is out of range (-20 to 19)"));
    CHECK(contains(f.errors(child("limits = 5")), "key \"limits\": expected a table"));
    CHECK(contains(f.errors(child("limits = { nofiles = 5 }")), "key \"limits.nofiles\": unknown key; did you mean \"nofile\"?"));
    CHECK(contains(f.errors(child("limits = { nofile = -1 }")), "key \"limits.nofile\": expected a number of 0 or more, or \"unlimited\""));
    CHECK(contains(f.errors(child("limits = { nofile = { soft = 10 } }")), "key \"limits.nofile\": give both soft and hard"));
    CHECK(contains(f.errors(child("limits = { nofile = { soft = 10, hard = 5 } }")), "key \"limits.nofile\": soft is above hard"));
    CHECK(contains(f.errors(child("limits = { nofile = \"unlimited\" }")),
                   "key \"limits.nofile\": above the kernel's bound on open files (fs.nr_open, "));
    CHECK(contains(f.errors(child("user = \"no-such-user-here\"")), "key \"user\": no such user: \"no-such-user-here\""));
    CHECK(contains(f.errors(child("group = \"root\"")), "key \"group\": only with `user`"));
    // Who the child runs as: as root, anyone; otherwise only ourselves.
    if (geteuid() == 0) {
        auto u = f.parse(child("user = \"nobody\""));
        REQUIRE(u.root.children[0].run_as);
        auto& who = *u.root.children[0].run_as;
        CHECK(who.uid == getpwnam("nobody")->pw_uid);
        CHECK(who.gid == getpwnam("nobody")->pw_gid);
        CHECK_FALSE(who.groups.empty());
        auto g = f.parse(child("user = \"nobody\"\ngroup = \"root\"\nsupplementary_groups = [\"root\"]"));
        CHECK(g.root.children[0].run_as->gid == 0);
        CHECK(g.root.children[0].run_as->groups == std::vector<std::uint32_t>{0});
        CHECK(f.parse(write_tree(g)).root == g.root);
        CHECK(contains(f.errors(child("user = \"nobody\"\ngroup = \"no-such-group-here\"")),
                       "key \"group\": no such group: \"no-such-group-here\""));
        CHECK(contains(f.errors(child("user = \"nobody\"\nsupplementary_groups = [\"root\", 5]")),
                       "key \"supplementary_groups\": expected a list of group names"));
        CHECK(f.errors(child("nice = -5")) == "(valid)");
    } else {
        CHECK(contains(f.errors(child("user = \"root\"")),
                       "key \"user\": only a supervisor running as root may run a child as another user or group"));
        CHECK(contains(f.errors(child("nice = -5")), "key \"nice\": -5 is below this supervisor's own"));
        passwd* me = getpwuid(geteuid());
        if (me) CHECK_FALSE(f.parse(child(std::string("user = \"") + me->pw_name + "\"")).root.children.empty());
    }
}

TEST_CASE("run_dir_group, control_group, and a Unix socket's mode, owner and group: defaults, every error, and the round trip") {
    Fixture f;
    auto child = [](const std::string& sockets) {
        return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nsockets = " + sockets + "\n";
    };
    group* mine = getgrgid(getegid());
    REQUIRE(mine);
    const std::string g = mine->gr_name;
    auto plain = f.parse(child("[\"web\"]"));
    CHECK_FALSE(plain.run_dir_group);
    CHECK_FALSE(plain.control_group);
    CHECK(plain.root.children[0].sockets[0].mode == 0600u);
    CHECK_FALSE(plain.root.children[0].sockets[0].gid);
    CHECK(run_dir_access(plain).mode == 0700u);
    CHECK(control_socket_spec(plain, "c").mode == 0600u);
    // run_dir_group: every Unix socket 0660 and the group's, unless it says.
    auto t = f.parse("run_dir_group = \"" + g + "\"\ncontrol_group = \"" + g + "\"\n" +
                     child("[\"web\", { name = \"own\", path = \"own.sock\", mode = \"0600\" }, "
                           "{ name = \"tcp\", listen = \"127.0.0.1:0\" }]"));
    REQUIRE(t.run_dir_group);
    CHECK(t.run_dir_group->gid == getegid());
    auto& so = t.root.children[0].sockets;
    CHECK(so[0].mode == 0660u);
    CHECK(so[0].gid == getegid());
    CHECK(so[1].mode == 0600u);
    CHECK(so[1].gid == getegid());
    CHECK_FALSE(so[2].gid);
    CHECK(run_dir_access(t).mode == 0710u);
    CHECK(run_dir_access(t).gid == getegid());
    CHECK(control_socket_spec(t, "c").mode == 0660u);
    auto again = f.parse(write_tree(t));
    CHECK(again.root == t.root);
    for (std::size_t i = 0; i < so.size(); ++i) CHECK(again.root.children[0].sockets[i].same_access(so[i]));
    // Who may connect changes in place: the same socket, no restart.
    auto wider = so[1];
    wider.mode = 0666;
    CHECK(wider == so[1]);
    CHECK_FALSE(wider.same_access(so[1]));
    CHECK(again.run_dir_group == t.run_dir_group);
    CHECK(again.control_group == t.control_group);
    // Two groups: the dir open to enter, each socket guarding itself.
    Tree two = t;
    two.control_group = NamedGroup{"other", getegid() + 1};
    CHECK(run_dir_access(two).mode == 0711u);
    CHECK(f.errors("run_dir_group = \"no-such-group-here\"\n") .find("key \"run_dir_group\": no such group: \"no-such-group-here\"") != std::string::npos);
    CHECK(contains(f.errors("control_group = 5\n"), "key \"control_group\": expected a string"));
    CHECK(contains(f.errors(child("[{ name = \"w\", mode = \"0999\" }]")), "key \"sockets.mode\": \"0999\" is not an octal mode"));
    CHECK(contains(f.errors(child("[{ name = \"w\", mode = \"0066\" }]")), "key \"sockets.mode\": \"0066\" leaves the owner unable to connect"));
    CHECK(contains(f.errors(child("[{ name = \"w\", owner = \"no-such-user-here\" }]")), "key \"sockets.owner\": no such user"));
    CHECK(contains(f.errors(child("[{ name = \"w\", group = \"no-such-group-here\" }]")), "key \"sockets.group\": no such group"));
    CHECK(contains(f.errors(child("[{ name = \"w\", listen = \"127.0.0.1:0\", mode = \"0660\" }]")),
                   "key \"sockets.mode\": only for a Unix socket"));
    if (geteuid() != 0) {
        CHECK(contains(f.errors(child("[{ name = \"w\", owner = \"root\" }]")),
                       "key \"sockets.owner\": only a supervisor running as root may give a socket to another user"));
        CHECK(contains(f.errors("run_dir_group = \"root\"\n"), "only a supervisor running as root may give its files to a group it is not in"));
    } else {
        auto o = f.parse(child("[{ name = \"w\", owner = \"nobody\", group = \"root\", mode = \"0640\" }]"));
        CHECK(o.root.children[0].sockets[0].uid == getpwnam("nobody")->pw_uid);
        CHECK(f.parse(write_tree(o)).root.children[0].sockets[0].same_access(o.root.children[0].sockets[0]));
    }
}

TEST_CASE("memory_max, memory_high, cpu_max, pids_max, io_weight: their forms, ranges, every error, and the round trip") {
    Fixture f;
    auto child = [](const std::string& line) { return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + line + "\n"; };
    CHECK_FALSE(f.parse(child("")).root.children[0].memory_max);
    CHECK(f.parse(child("memory_max = \"200M\"")).root.children[0].memory_max == 200u << 20);
    CHECK(f.parse(child("memory_max = \"2G\"")).root.children[0].memory_max == std::uint64_t{2} << 30);
    CHECK(f.parse(child("memory_max = \"4096K\"")).root.children[0].memory_max == 4096u << 10);
    CHECK(f.parse(child("memory_max = 1048576")).root.children[0].memory_max == 1u << 20);
    auto t = f.parse(child("memory_max = \"1T\""));
    CHECK(f.parse(write_tree(t)).root == t.root);
    for (auto bad : {"\"200X\"", "\"M\"", "\"-5M\"", "\"200 M\"", "-1", "true"})
        CHECK(contains(f.errors(child(std::string("memory_max = ") + bad)),
                       "key \"memory_max\": expected a number of bytes, or one with K, M, G or T"));
    CHECK(contains(f.errors(child("memory_max = \"1K\"")), "key \"memory_max\": 1024 bytes is out of range (1048576 to"));
    CHECK(contains(f.errors(child("memory_max = \"99999999999T\"")), "key \"memory_max\""));
    CHECK(contains(f.errors("[[child]]\nname = \"s\"\ntype = \"supervisor\"\nmemory_max = \"1G\"\n"), "key \"memory_max\""));
    auto cpu = [&](const std::string& v) { return f.parse(child("cpu_max = \"" + v + "\"")).root.children[0].cpu_max; };
    CHECK(cpu("50%") == "50000 100000");
    CHECK(cpu("150%") == "150000 100000");
    CHECK(cpu("25000 50000") == "25000 50000");
    for (auto bad : {"0%", "%", "50", "abc", "100 100000", "50000 500", "50000 2000000", "-5%", "50000  100000"})
        CHECK(contains(f.errors(child(std::string("cpu_max = \"") + bad + "\"")), "key \"cpu_max\": \""));
    auto t2 = f.parse(child("memory_high = \"100M\"\ncpu_max = \"50%\"\npids_max = 64\nio_weight = 200"));
    auto& c2 = t2.root.children[0];
    CHECK(c2.memory_high == 100u << 20);
    CHECK(c2.pids_max == 64u);
    CHECK(c2.io_weight == 200u);
    CHECK(f.parse(write_tree(t2)).root == t2.root);
    CHECK(contains(f.errors(child("pids_max = 0")), "key \"pids_max\": 0 is out of range (1 to 4194304)"));
    CHECK(contains(f.errors(child("io_weight = 10001")), "key \"io_weight\": 10001 is out of range (1 to 10000)"));
    CHECK(contains(f.errors(child("memory_high = \"1X\"")), "key \"memory_high\": expected a number of bytes"));
}

TEST_CASE("env_file: relative to the tree file, optional with a leading -, read for its errors at load, and the round trip") {
    Fixture f;
    auto child = [](const std::string& line) { return "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n" + line + "\n"; };
    std::ofstream(f.root + "/app.env") << "A=1\n";
    auto t = f.parse(child("env_file = [\"app.env\", \"-gone.env\"]"));
    REQUIRE(t.root.children[0].env_files.size() == 2);
    CHECK(t.root.children[0].env_files[0] == ChildSpec::EnvFile{f.root + "/app.env", false});
    CHECK(t.root.children[0].env_files[1] == ChildSpec::EnvFile{f.root + "/gone.env", true});
    CHECK(f.parse(write_tree(t)).root == t.root);
    CHECK(contains(f.errors(child("env_file = \"app.env\"")), "key \"env_file\": expected a list of files"));
    CHECK(contains(f.errors(child("env_file = [\"-\"]")), "key \"env_file\": expected a file's path"));
    CHECK(contains(f.errors(child("env_file = [\"gone.env\"]")),
                   "key \"env_file\": " + f.root + "/gone.env: cannot read: No such file or directory"));
    std::ofstream(f.root + "/bad.env") << "A=1\n\nB='open\n";
    CHECK(contains(f.errors(child("env_file = [\"bad.env\"]")),
                   "key \"env_file\": " + f.root + "/bad.env:3: a value opened with ' is never closed"));
}

TEST_CASE("a run dir's cgroup name: readable, and two run dirs that read alike still differ") {
    auto a = tree_cgroup_name("/srv/a/b/run"), b = tree_cgroup_name("/srv/a-b/run");
    CHECK(a.starts_with("seq-srv-a-b-run-"));
    CHECK(b.starts_with("seq-srv-a-b-run-"));
    CHECK(a != b);
    CHECK(a == tree_cgroup_name("/srv/a/b/run"));  // the same at every start
    CHECK(tree_cgroup_name(std::string(4000, 'x')).size() < 255);
}

TEST_CASE("stash_acl and stash_keys: on by default, the forms and their errors, the operator's name kept, and the round trip") {
    Fixture f;
    const std::string stash = "stash = \"s\"\n[[child]]\nname = \"st\"\ncommand = [\"prog\"]\nsockets = [\"s\"]\n";
    auto t = f.parse(stash + "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nstash_keys = [\"shared:*\", \"sequence\"]\n");
    CHECK(t.stash_acl);
    CHECK(t.root.children[1].stash_keys == std::vector<std::string>{"shared:*", "sequence"});
    auto again = f.parse(write_tree(t));
    CHECK(again.root == t.root);
    CHECK(again.stash_acl);
    auto off = f.parse("stash_acl = false\n" + stash);
    CHECK_FALSE(off.stash_acl);
    CHECK_FALSE(f.parse(write_tree(off)).stash_acl);
    CHECK(contains(f.errors("stash_acl = \"yes\"\n" + stash), "key \"stash_acl\": expected true or false"));
    for (auto bad : {"\"shared:*\"", "[\"\"]", "[\"two words\"]", "[1]"})
        CHECK(contains(f.errors(stash + "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\nstash_keys = " + bad + "\n"),
                       "child \"a\", key \"stash_keys\": expected a"));
    CHECK(contains(f.errors(stash + "[[child]]\nname = \"g\"\ntype = \"supervisor\"\nstash_keys = [\"x\"]\n"
                                    "[[child.child]]\nname = \"a\"\ncommand = [\"prog\"]\n"),
                   "key \"stash_keys\": not for a child of type \"supervisor\""));
    // `AUTH password` is the operator's, as user default.
    CHECK(contains(f.errors(stash + "[[child]]\nname = \"default\"\ncommand = [\"prog\"]\n"),
                   "key \"stash_acl\": a child at the top is named \"default\""));
    CHECK(f.errors("stash_acl = false\n" + stash + "[[child]]\nname = \"default\"\ncommand = [\"prog\"]\n") == "(valid)");
}

TEST_CASE("http: the tree's listener address, its forms and errors, and the round trip") {
    Fixture f;
    const std::string one = "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n";
    CHECK(f.parse(one).http.empty());
    CHECK(f.parse("http = \"9321\"\n" + one).http == "127.0.0.1:9321");
    CHECK(f.parse("http = \"./http.sock\"\n" + one).http == "./http.sock");  // a path has a /
    auto t = f.parse("http = \"127.0.0.1:0\"\n" + one);
    CHECK(f.parse(write_tree(t)).http == "127.0.0.1:0");
    CHECK(contains(f.errors("http = \"example.org:80\"\n" + one), "key \"http\": "));
    CHECK(contains(f.errors("http = 9321\n" + one), "key \"http\": "));
}

TEST_CASE("crash_loop_restarts and crash_loop_seconds: defaults, bounds, errors, and the round trip") {
    Fixture f;
    const std::string one = "[[child]]\nname = \"a\"\ncommand = [\"prog\"]\n";
    auto d = f.parse(one);
    CHECK(d.crash_loop_restarts == 5);
    CHECK(d.crash_loop_seconds == 60);
    auto t = f.parse("crash_loop_restarts = 0\ncrash_loop_seconds = 3600\n" + one);
    CHECK(t.crash_loop_restarts == 0);
    CHECK(t.crash_loop_seconds == 3600);
    auto back = f.parse(write_tree(t));
    CHECK(back.crash_loop_restarts == 0);
    CHECK(back.crash_loop_seconds == 3600);
    CHECK(write_tree(d).find("crash_loop") == std::string::npos);
    CHECK(contains(f.errors("crash_loop_restarts = -1\n" + one), "key \"crash_loop_restarts\": -1 is out of range (0 to 1000000)"));
    CHECK(contains(f.errors("crash_loop_seconds = 0\n" + one), "key \"crash_loop_seconds\": 0 is out of range (1 to 86400)"));
    CHECK(contains(f.errors("crash_loop_seconds = \"60\"\n" + one), "key \"crash_loop_seconds\": expected a whole number"));
}
