// Real Redis clients with their defaults against the worker and the stash:
// redis-cli typed at in a terminal, libhiredis from C, ioredis and node-redis
// (the current major of each and the one before, in each protocol it speaks).
// Every reply that carries a number must arrive as the client's integer type,
// plain, pipelined and in a transaction, and the numbers go on, none twice and
// none going back, across kill -9 of the worker: once while the client is
// idle (it reconnects as the library does by itself) and once with NEXT after
// NEXT in flight. On the stash: SET and GET with each library's own methods,
// plain, pipelined and in a transaction.
//
// The programs are in tests/clients/. Each prints one line per reply,
// "<context> <COMMAND> <reply>" (a bare number only for the client's integer
// type: tests/clients/node/common.js says how), compared here with what the
// sequence's rules make of the same commands.
//
// What each client sends on connecting, before its first NEXT (on the stash,
// its first SET), and again on reconnecting after the kill, is read with
// MONITOR (redis-cli -s SOCK MONITOR beside it), shown as a MESSAGE and kept
// in <build dir>/clients-on-connect.log, a section per client, replaced at
// each run. A server without MONITOR says so there, and the rest still runs.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "harness.hpp"

#ifndef SEQ_NODE_MODULES
#error "SEQ_NODE_MODULES must name the folder scripts/test fills with npm ci"
#endif

extern char** environ;

using namespace seqtest;

namespace {

const std::string clients_dir = std::string(SEQ_SOURCE_DIR) + "/tests/clients";

// A client program of the test's: its stdin a socket (a line the test sends
// to one that has died fails, instead of killing the test with SIGPIPE), its
// stdout read line by line, its stderr in a log. Killed and reaped when the
// object goes.
class Program {
public:
    Program(const std::vector<std::string>& argv, const std::vector<std::string>& env, std::string log)
        : log_(std::move(log)) {
        int in[2], out[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || pipe2(out, O_CLOEXEC) != 0)
            throw std::runtime_error("socketpair or pipe failed");
        int err = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (err < 0) throw std::runtime_error("cannot open " + log_);
        // Everything the child needs, made before fork: it only execs.
        std::vector<std::string> args_s(argv), env_s;
        for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
        env_s.insert(env_s.end(), env.begin(), env.end());
        std::vector<char*> args, envp;
        for (auto& a : args_s) args.push_back(a.data());
        args.push_back(nullptr);
        for (auto& e : env_s) envp.push_back(e.data());
        envp.push_back(nullptr);
        pid_ = fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            dup2(in[1], 0);
            dup2(out[1], 1);
            dup2(err, 2);
            execvpe(args[0], args.data(), envp.data());
            _exit(127);
        }
        close(in[1]);
        close(out[1]);
        close(err);
        in_ = in[0];
        out_ = out[0];
    }
    ~Program() {
        if (in_ >= 0) close(in_);
        if (out_ >= 0) close(out_);
        if (!status_) {
            ::kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    // The next line it printed, without its newline; nothing at the end of
    // its output or past the deadline.
    std::optional<std::string> line(Ms deadline = 10000ms) {
        auto until = std::chrono::steady_clock::now() + deadline;
        for (;;) {
            auto nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string l = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return l;
            }
            if (eof_) return std::nullopt;
            auto left = std::chrono::duration_cast<Ms>(until - std::chrono::steady_clock::now()).count();
            if (left <= 0) return std::nullopt;
            pollfd p{out_, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
            char chunk[4096];
            auto n = read(out_, chunk, sizeof chunk);
            if (n <= 0)
                eof_ = true;
            else
                buf_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    // Its lines up to `last` (included), joined with newlines: all it printed
    // if it ended, or the deadline passed, first.
    std::string through(const std::string& last, Ms deadline = 10000ms) {
        std::string all;
        auto until = std::chrono::steady_clock::now() + deadline;
        while (auto l = line(std::chrono::duration_cast<Ms>(until - std::chrono::steady_clock::now()))) {
            all += *l + "\n";
            if (*l == last) break;
        }
        return all;
    }

    void send(const std::string& l) {
        std::string s = l + "\n";
        (void)::send(in_, s.data(), s.size(), MSG_NOSIGNAL);
    }
    void close_input() { shutdown(in_, SHUT_WR); }

    // Its exit code, -1 if it did not exit by itself within the deadline.
    int exit_code(Ms deadline = 10000ms) {
        eventually([&] {
            int st = 0;
            if (!status_ && waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
            return status_.has_value();
        },
                   deadline);
        return status_ && WIFEXITED(*status_) ? WEXITSTATUS(*status_) : -1;
    }
    std::string log() const { return slurp(log_); }

private:
    pid_t pid_ = -1;
    int in_ = -1, out_ = -1;
    std::string buf_, log_;
    bool eof_ = false;
    std::optional<int> status_;
};

std::string redis_cli() {
    auto r = sh("command -v redis-cli");
    if (r.code != 0) FAIL("redis-cli is missing: scripts/test installs redis-tools");
    return r.out.substr(0, r.out.find('\n'));
}

// redis-cli -s SOCKET MONITOR beside a client: every command the server
// runs, as Redis's MONITOR shows it (`1700000000.123456 [0 unix:/path]
// "HELLO" "3"`; redis-cli prints the status line without its '+').
class Monitor {
public:
    // `socket` is where MONITOR connects; the mark goes to `later`, the
    // server's path by the time settle() is called (by default the same).
    Monitor(const std::string& socket, const std::string& log, const std::string& later = "")
        : socket_(later.empty() ? socket : later), log_(log) {
        cli_.emplace(std::vector<std::string>{redis_cli(), "-s", socket, "MONITOR"}, log);
        eventually([&] { return slurp(log_).find('\n') != std::string::npos; });
        auto first = slurp(log_);
        first = first.substr(0, first.find('\n'));
        on_ = first == "OK";
        if (!on_) refused_ = first.empty() ? "no answer" : first;
    }
    bool on() const { return on_; }
    const std::string& refused() const { return refused_; }

    // The commands shown so far, each as MONITOR quotes its arguments
    // ("\"HELLO\" \"3\""): everything run before an ECHO the test sends now.
    std::vector<std::string> settle() {
        std::string mark = "real-clients-mark-" + std::to_string(++marks_);
        call(socket_, {"ECHO", mark});
        bool seen = eventually([&] { return slurp(log_).find(mark) != std::string::npos; });
        CHECK_MESSAGE(seen, "MONITOR never showed the ECHO sent after the client's commands: " << slurp(log_));
        std::vector<std::string> cmds;
        std::istringstream in(slurp(log_));
        std::string l;
        while (std::getline(in, l)) {
            if (l.find(mark) != std::string::npos) break;
            auto at = l.find("] \"");
            if (at != std::string::npos && l.find(" [") != std::string::npos) cmds.push_back(l.substr(at + 2));
        }
        return cmds;
    }

private:
    std::string socket_, log_;
    std::optional<Process> cli_;
    bool on_ = false;
    std::string refused_;
    int marks_ = 0;
};

std::string upper(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
}

// The commands before the first `name` ("NEXT"), and whether it came at all.
struct OnConnect {
    std::vector<std::string> before;
    bool found = false;
};
OnConnect until_first(const std::vector<std::string>& cmds, const std::string& name) {
    OnConnect r;
    for (const auto& c : cmds) {
        if (upper(c).starts_with("\"" + name + "\"")) {
            r.found = true;
            break;
        }
        r.before.push_back(c);
    }
    return r;
}

std::string joined(const std::vector<std::string>& cmds) {
    if (cmds.empty()) return "(nothing)";
    std::string s;
    for (const auto& c : cmds) s += (s.empty() ? "" : ", ") + c;
    return s;
}

// <build dir>/clients-on-connect.log: one section per client, this run's
// replacing the last; locked, as tests run in parallel.
void record(const std::string& label, const std::string& body) {
    std::string path = std::string(SEQ_BUILD_DIR) + "/clients-on-connect.log";
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    flock(fd, LOCK_EX);
    std::map<std::string, std::string> sections;
    std::istringstream in(slurp(path));
    std::string l, current;
    while (std::getline(in, l)) {
        if (l.starts_with("== ")) current = l.substr(3);
        else if (!current.empty()) sections[current] += l + "\n";
    }
    sections[label] = body;
    std::string all =
        "# What each real client sent, as MONITOR showed it, before its first NEXT (SET on the stash),\n"
        "# on connecting and on reconnecting after kill -9 of the worker: tests/integration/real_clients_test.cpp.\n";
    for (const auto& s : sections) all += "== " + s.first + "\n" + s.second;
    if (ftruncate(fd, 0) == 0 && pwrite(fd, all.data(), all.size(), 0) < 0) {
        // Only a record: a test does not fail on it.
    }
    close(fd);
}

// What the sequence's rules make of commands, starting from 0: each line as
// a client prints it, an integer shown as `integer` + the number.
struct Sequence {
    std::string integer;  // what a client prints before a number: "" or "(integer) "
    std::int64_t value = 0;
    std::string replies(const std::string& context, std::initializer_list<const char*> commands) {
        std::string s;
        for (const char* c : commands) {
            std::string cmd = c;
            std::int64_t reply = 0;
            if (cmd == "NEXT") reply = value++;
            if (cmd == "INCREMENT") reply = value += 5;
            if (cmd == "GET") reply = value;
            s += context + " " + cmd + " " + integer + std::to_string(reply) + "\n";
        }
        return s;
    }
};

// kill -9 of the worker, and another in its place whose commands MONITOR
// shows from its first: it is started on a path of its own, MONITOR attaches,
// and only then is its socket renamed onto the worker's path, so that a
// client that reconnects by itself (ioredis, node-redis retry every few ms)
// cannot slip in before MONITOR. Meanwhile the client finds nothing listening
// there (ECONNREFUSED), as while any worker restarts outside a supervisor.
void kill_and_restart_watched(Standalone& t, std::optional<Monitor>& monitor, const std::string& log) {
    pid_t old = t.worker->pid();
    t.worker.reset();  // SIGKILL, reaped
    CHECK_FALSE(alive(old));
    std::string staging = t.dir / "sequence-next.sock";
    std::vector<std::string> argv{bin("seq-worker"), "--socket", staging, "--stash", t.stash_sock};
    argv.insert(argv.end(), t.worker_args.begin(), t.worker_args.end());
    t.worker.emplace(argv, t.dir / "worker.log");
    REQUIRE(eventually([&] { return answers(staging); }));
    monitor.emplace(staging, log, t.worker_sock);
    REQUIRE(std::rename(staging.c_str(), t.worker_sock.c_str()) == 0);
}

// One client program against the worker.
struct WorkerRun {
    std::string label;                                        // for the log: name, version, options
    std::function<std::vector<std::string>(const std::string&)> argv;  // the socket -> the command line
    std::vector<std::string> env;
    int resp = 2;                       // the protocol it must be speaking
    std::string integer;                // how it shows an integer, before the digits
    bool pipeline = true;               // it pipelines (redis-cli typed at does not)
    bool loop = true;                   // it runs NEXT in a loop through a kill
    std::vector<std::string> must_send;  // sent on connecting, where MONITOR shows it ("\"INFO\"")
};

// Phase 1 with its defaults; kill -9 of the idle worker, another started;
// phase 2 on the same client object; then NEXT in a loop through another kill.
void on_worker(const WorkerRun& r, std::string& report) {
    CAPTURE(r.label);
    TempDir dir;
    Standalone t(dir);
    Monitor monitor(t.worker_sock, dir / "monitor-1.log");
    Program c(r.argv(t.worker_sock), r.env, dir / "client.log");
    INFO("the client's stderr: " << c.log());

    Sequence seq{r.integer};
    std::string want = seq.replies("plain", {"NEXT", "NEXT", "INCREMENT", "GET"});
    if (r.pipeline) want += seq.replies("pipeline", {"NEXT", "NEXT", "NEXT", "INCREMENT", "GET"});
    want += seq.replies("multi", {"NEXT", "INCREMENT", "GET"});
    want += "resp " + std::to_string(r.resp) + "\nready\n";
    REQUIRE(c.through("ready") == want);

    std::string body;
    if (monitor.on()) {
        auto first = until_first(monitor.settle(), "NEXT");
        CHECK_MESSAGE(first.found, "MONITOR did not show the client's first NEXT");
        body += "on connect, to the worker: " + joined(first.before) + "\n";
        for (const std::string& must : r.must_send) {
            CHECK_MESSAGE(std::any_of(first.before.begin(), first.before.end(),
                                      [&](const std::string& sent) { return upper(sent).starts_with(upper(must)); }),
                          "it did not send " << must << " on connecting; it sent " << joined(first.before));
        }
    } else {
        body += "on connect, to the worker: unknown: MONITOR refused: " + monitor.refused() + "\n";
    }

    // kill -9 while it is idle; it reconnects by itself, or at its next command.
    std::optional<Monitor> again;
    kill_and_restart_watched(t, again, dir / "monitor-2.log");
    c.send("go");
    want = seq.replies("plain", {"NEXT", "INCREMENT", "GET"});
    if (r.pipeline) want += seq.replies("pipeline", {"NEXT", "INCREMENT", "GET"});
    want += "done\n";
    CHECK(c.through("done") == want);
    if (again && again->on()) {
        auto first = until_first(again->settle(), "NEXT");
        CHECK_MESSAGE(first.found, "MONITOR did not show the client's first NEXT after the kill");
        body += "on reconnecting after kill -9: " + joined(first.before) + "\n";
    }
    record(r.label + " (worker)", body);
    report += r.label + " (worker):\n" + body;

    if (r.loop) {
        // NEXT after NEXT, each awaited, while the worker is killed: numbers
        // go up, none twice; one in flight may be lost (skipped), never reused.
        c.send("loop");
        std::vector<std::int64_t> got;
        std::int64_t errors = 0, after_restart = -1;
        bool killed = false;
        std::string bad;
        while (auto l = c.line()) {
            if (l->starts_with("loop-error ")) {
                ++errors;
                continue;
            }
            std::string v = l->starts_with("loop ") ? l->substr(5) : "";
            if (v.empty() || !std::all_of(v.begin(), v.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
                bad = *l;
                break;
            }
            got.push_back(std::stoll(v));
            if (!killed && got.size() >= 30) {
                killed = true;
                pid_t old = t.worker->pid();
                t.start_worker();
                CHECK_FALSE(alive(old));
                after_restart = call_int(t.worker_sock, {"GET"});  // only the new worker hands out numbers from here
            }
            if (killed && got.back() >= after_restart + 30) break;
        }
        c.send("stop");
        CHECK_MESSAGE(killed, "the client printed fewer than 30 numbers in its loop");
        CHECK_MESSAGE(bad.empty(), "not a number as the client's integer: " << bad);
        REQUIRE(got.size() >= 2);
        CHECK(got.front() == seq.value);
        CHECK_MESSAGE(got.back() >= after_restart + 30, "the client got no numbers from the restarted worker");
        for (std::size_t i = 1; i < got.size(); ++i) {
            CHECK_MESSAGE(got[i] > got[i - 1], "number " << got[i] << " after " << got[i - 1]);
            if (got[i] <= got[i - 1]) break;
        }
        std::int64_t skipped = got.back() - got.front() + 1 - static_cast<std::int64_t>(got.size());
        report += r.label + ": " + std::to_string(got.size()) + " numbers in a loop through kill -9, " +
                  std::to_string(errors) + " failed calls, " + std::to_string(skipped) + " numbers skipped\n";
        CHECK(c.through("stopped").ends_with("stopped\n"));
        CHECK(call_int(t.worker_sock, {"NEXT"}) > got.back());
    } else {
        c.send("end");
    }
    c.close_input();
    CHECK(c.exit_code() == 0);
}

void on_worker(const WorkerRun& r) {
    std::string report;  // shown outside the INFO scope, which would repeat the client's whole log
    on_worker(r, report);
    MESSAGE(report);
}

// One client program against the stash: SET and GET with its own methods.
void on_stash(const std::string& label, const std::vector<std::string>& argv_before_socket,
              const std::vector<std::string>& argv_after_socket, const std::vector<std::string>& env,
              std::string& report) {
    CAPTURE(label);
    TempDir dir;
    // The stash alone: no worker's link in what MONITOR shows.
    std::string sock = dir / "stash.sock";
    Process stash({bin("seq-stash"), "--socket", sock}, dir / "stash.log");
    REQUIRE(eventually([&] { return answers(sock); }));
    Monitor monitor(sock, dir / "monitor.log");
    std::vector<std::string> argv = argv_before_socket;
    argv.push_back(sock);
    argv.insert(argv.end(), argv_after_socket.begin(), argv_after_socket.end());
    Program c(argv, env, dir / "client.log");
    INFO("the client's stderr: " << c.log());
    CHECK(c.through("done") ==
          "plain SET \"OK\"\nplain GET \"hello\"\nplain GET-missing null\npipeline SET \"OK\"\npipeline GET \"hello again\"\n"
          "multi SET \"OK\"\nmulti GET \"hello-multi\"\ndone\n");
    c.close_input();
    CHECK(c.exit_code() == 0);
    auto v = call(sock, {"GET", "greeting"});
    CHECK(v.str == "hello-multi");
    std::string body;
    if (monitor.on()) {
        auto first = until_first(monitor.settle(), "SET");
        CHECK_MESSAGE(first.found, "MONITOR did not show the client's SET");
        body = "on connect, to the stash: " + joined(first.before) + "\n";
    } else {
        body = "on connect, to the stash: unknown: MONITOR refused: " + monitor.refused() + "\n";
    }
    record(label + " (stash)", body);
    report = label + " (stash):\n" + body;
}

void on_stash(const std::string& label, const std::vector<std::string>& argv_before_socket,
              const std::vector<std::string>& argv_after_socket, const std::vector<std::string>& env) {
    std::string report;
    on_stash(label, argv_before_socket, argv_after_socket, env, report);
    MESSAGE(report);
}

// The node clients: where npm ci put them, and each one's version; nullopt
// when scripts/test recorded that it could not install them (no Node.js, or
// no npm registry): then the test says SKIPPED and why, and CTest reports it
// as skipped, never as passed. Missing without that record is a failure.
std::optional<std::string> node_module(const std::string& name) {
    auto unavailable = std::filesystem::path(SEQ_NODE_MODULES).parent_path() / "unavailable";
    if (std::filesystem::exists(unavailable)) {
        MESSAGE("SKIPPED: scripts/test could not install the node clients: " << slurp(unavailable.string()));
        return std::nullopt;
    }
    if (sh("command -v node >/dev/null").code != 0)
        FAIL("node is missing: the node clients' tests need Node.js 20 or later (and npm, for scripts/test to install them)");
    std::string dir = std::string(SEQ_NODE_MODULES) + "/" + name;
    if (!std::filesystem::exists(dir + "/package.json"))
        FAIL(name << " is missing from " << SEQ_NODE_MODULES
                  << ": scripts/test installs the node clients there (npm ci from tests/clients/node/package-lock.json "
                     "into <build dir>/node-clients); where it could not, it warned, and npm's output is in "
                     "node-clients/npm-ci.log");
    std::smatch m;
    std::string pkg = slurp(dir + "/package.json");
    if (!std::regex_search(pkg, m, std::regex("\"version\"\\s*:\\s*\"([^\"]+)\""))) FAIL("no version in " << dir);
    return m[1];
}

// One node client library, in one protocol, on the worker and on the stash.
void node_client(const std::string& script, const std::string& module, const std::string& name, const std::string& major,
                 const std::string& protocol, int resp, std::vector<std::string> must_send) {
    auto found = node_module(module);
    if (!found) return;
    std::string version = *found;
    REQUIRE_MESSAGE(version.starts_with(major + "."), module << " is " << version << ", not the major " << major
                                                             << " this test names: rename the test");
    std::string label = name + " " + version + (protocol == "default" ? ", its defaults" : ", protocol " + protocol);
    std::string js = clients_dir + "/node/" + script;
    std::vector<std::string> env{std::string("SEQ_NODE_MODULES=") + SEQ_NODE_MODULES};
    WorkerRun r;
    r.label = label;
    r.argv = [&](const std::string& sock) { return std::vector<std::string>{"node", js, module, "worker", sock, protocol}; };
    r.env = env;
    r.resp = resp;
    r.must_send = std::move(must_send);
    on_worker(r);
    on_stash(label, {"node", js, module, "stash"}, {protocol}, env);
}

}  // namespace

TEST_CASE("real clients: redis-cli typed at in a terminal answers (integer) N, and the numbers go on across kill -9 of the worker") {
    redis_cli();
    if (access("/usr/bin/python3", X_OK) != 0) FAIL("/usr/bin/python3 is missing: scripts/test installs python3");
    auto version = sh("redis-cli --version").out;
    WorkerRun r;
    r.label = version.substr(0, version.find('\n')) + ", interactive";
    r.argv = [](const std::string& sock) {
        return std::vector<std::string>{"/usr/bin/python3", clients_dir + "/pty_redis_cli.py", sock};
    };
    r.integer = "(integer) ";
    r.pipeline = false;
    r.loop = false;
    on_worker(r);
}

TEST_CASE("real clients: hiredis from C gets REDIS_REPLY_INTEGER plain and pipelined, across kill -9 of the worker, and SET and GET on the stash") {
#ifndef SEQ_HIREDIS_CLIENT
    FAIL("hiredis-client was not built: pkg-config found no hiredis when CMake configured this tree; scripts/test "
         "installs libhiredis-dev and configures again");
#else
    std::string label = std::string("hiredis ") + SEQ_HIREDIS_VERSION;
    WorkerRun r;
    r.label = label;
    r.argv = [](const std::string& sock) { return std::vector<std::string>{SEQ_HIREDIS_CLIENT, "worker", sock}; };
    on_worker(r);
    on_stash(label, {SEQ_HIREDIS_CLIENT, "stash"}, {}, {});
#endif
}

TEST_CASE("real clients: ioredis 6 with its defaults (RESP3) and with protocol 2, on the worker through kill -9 and on the stash") {
    node_client("ioredis_client.js", "ioredis", "ioredis", "6", "default", 3, {"\"hello\" \"3\"", "\"info\""});
    node_client("ioredis_client.js", "ioredis", "ioredis", "6", "2", 2, {"\"info\""});
}

TEST_CASE("real clients: ioredis 5 with its defaults (RESP2), on the worker through kill -9 and on the stash") {
    node_client("ioredis_client.js", "ioredis-v5", "ioredis", "5", "default", 2, {"\"info\""});
}

TEST_CASE("real clients: node-redis 6 (npm redis) with its defaults (RESP3) and with RESP 2, on the worker through kill -9 and on the stash") {
    node_client("node_redis_client.js", "redis", "node-redis", "6", "default", 3, {"\"HELLO\" \"3\""});
    node_client("node_redis_client.js", "redis", "node-redis", "6", "2", 2, {});
}

TEST_CASE("real clients: node-redis 5 (npm redis) with its defaults (RESP2) and with RESP 3, on the worker through kill -9 and on the stash") {
    node_client("node_redis_client.js", "redis-v5", "node-redis", "5", "default", 2, {});
    node_client("node_redis_client.js", "redis-v5", "node-redis", "5", "3", 3, {"\"HELLO\" \"3\""});
}
