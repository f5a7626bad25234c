// Real processes in a private temp dir: start the binaries, kill them, read
// their replies. Waits are on conditions with deadlines, never fixed sleeps.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client.hpp"
#include "fd.hpp"

namespace seqtest {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

// The path of one of our programs in the build tree.
std::string bin(const std::string& name);

// A fresh 0700 directory under /tmp, removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// A child of the test, its output appended to a log file. Killed and reaped
// when the object goes, so a failing test leaves nothing behind.
class Process {
public:
    Process(std::vector<std::string> argv, std::string log);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int sig);
    // The raw wait status, if the process ended within the deadline.
    std::optional<int> wait_exit(Ms deadline = 5000ms);
    // The exit code, or -1 if it did not exit by itself within the deadline.
    int exit_code(Ms deadline = 5000ms);
    bool running();
    std::string log() const;

private:
    pid_t pid_ = -1;
    int pidfd_ = -1;
    std::optional<int> status_;
    std::string log_;
};

// Polls `cond` until it holds or the deadline passes.
bool eventually(const std::function<bool()>& cond, Ms deadline = 5000ms);

// Whether `pid` names a live process (a zombie counts as dead).
bool alive(pid_t pid);

std::string slurp(const std::string& path);
// `text`'s lines, without their newlines.
std::vector<std::string> lines_of(const std::string& text);

// The stash operator's password in `run_dir` (stash.password, which a
// tree with stash_acl has); "" if there is none.
std::string operator_password(const std::string& run_dir);
// One call on a fresh connection, as the stash's operator where a
// stash.password is beside the socket; throws on any failure.
seq::resp::Value call(const std::string& socket, std::initializer_list<std::string_view> args, Ms timeout = 5000ms);
// One call expecting an integer reply.
std::int64_t call_int(const std::string& socket, std::initializer_list<std::string_view> args);
// Whether something answers PING on `socket`.
bool answers(const std::string& socket);
// One field of INFO from the server at `socket`; "" if it has none.
std::string info_field(const std::string& socket, const std::string& name);

// A stash and a worker started by hand (no supervisor), in `dir`.
struct Standalone {
    explicit Standalone(const TempDir& dir, std::vector<std::string> worker_args = {});
    void start_stash();
    void start_worker();
    std::string stash_sock, worker_sock;
    std::optional<Process> stash, worker;
    const TempDir& dir;
    std::vector<std::string> worker_args;
};

// The built-in tree with its stash on disk (`dir`/data), under a supervisor
// on `dir`/run, with `extra` flags; running once constructed (else throws).
struct DurableTree {
    explicit DurableTree(const TempDir& dir, std::vector<std::string> extra = {});
    std::string sock() const { return run + "/sequence.sock"; }
    std::string run, data, log;
    std::optional<Process> sup;
};

// Waits for what starts Python programs (scripts/web-app.py): long, as a condition.
constexpr Ms python_starts = 60000ms;

// A supervisor on `dir`/run, and what its STATUS says.
struct ChildStatus {
    pid_t pid = 0;
    std::string state;
    std::int64_t restarts = 0;
    std::string last_exit;
    std::string stopped_by;  // "request", "autostart"; "" if not stopped so
    std::string last_start;  // what caused the latest start after the first
    std::int64_t restarts_in_window = 0;  // a nested supervisor's
    std::int64_t log_dropped = 0;         // lines its log file could not take
    std::int64_t memory_bytes = -1, cpu_ms = -1, memory_max = -1;  // -1: not said
    std::string cgroup;  // its own cgroup's dir, where cgroups are on
    std::map<std::string, std::string> sockets;  // name: address as bound (HOST:PORT, or a path)
};
std::map<std::string, ChildStatus> tree_status(const std::string& run_dir);
// Waits until every child runs and each pid differs from `old` where given.
bool tree_running(const std::string& run_dir, Ms deadline = 5000ms);
// The pid of the standby STATUS gives the child `name`, once it is idle and
// may be activated.
std::optional<pid_t> standby_of(const std::string& run, const std::string& name);
// The pid STATUS gives the child `name`, once it has one (it has none while
// down): a pid to signal, never 0.
pid_t pid_of(const std::string& run_dir, const std::string& name);
// Waits until every child runs and `name`'s pid is no longer `old`.
bool restarted(const std::string& run_dir, const std::string& name, pid_t old, Ms deadline = 5000ms);

// A supervisor running the tree file `text`, written into `dir`, as
// `--config`; `env`: NAME=value pairs set in the supervisor's own
// environment. Stopped in order when it goes.
struct TreeSup {
    // `deadline`: how long the tree may take to come up (Python's starts
    // take seconds when a dozen share a small, loaded machine).
    // `args`: more of seq-supervisor's flags, after --config.
    TreeSup(const TempDir& dir, const std::string& text, bool wait_running = true, std::vector<std::string> env = {},
            Ms deadline = 5000ms, std::vector<std::string> args = {});
    ~TreeSup();
    TreeSup(const TreeSup&) = delete;
    TreeSup& operator=(const TreeSup&) = delete;
    ChildStatus child(const std::string& path) const { return tree_status(run).at(path); }
    // The top supervisor's restarts within its intensity window.
    std::int64_t restarts_in_window() const;
    std::string run, file, log;
    std::optional<Process> proc;
};

// HOST:PORT (or the path) the supervisor says it serves HTTP on; "" if it
// has not said so within 5 s.
std::string http_of(const TreeSup& t);

// Whether `text` shows up in the supervisor's log within the deadline.
bool log_has(const TreeSup& t, const std::string& text, Ms deadline = 5000ms);

// A [[child]] table running `script` under /bin/sh, with `more` keys.
std::string sh_child(const std::string& name, const std::string& script, const std::string& more = "");

// One HTTP/1.0 GET on a fresh TCP connection to `address` (HOST:PORT, or
// [V6]:PORT): refused (nothing listening, or reset before it was taken),
// failed (taken, then cut before a whole reply), or answered with `body`.
struct HttpResult {
    enum Outcome { ok, refused, failed } outcome = failed;
    int status = 0;
    std::string body;
    std::string why;  // for refused and failed
};
HttpResult http_get(const std::string& address, const std::string& path = "/", Ms timeout = 5000ms);

// One HTTP/1.1 keep-alive connection to `address`, opened when needed. A
// request on a reused connection that is closed before any byte of a reply
// is sent again once on a new one (`retried`), as HTTP clients do with a GET.
class KeptAlive {
public:
    struct Result {
        HttpResult http;
        bool reused = false;   // sent on a connection that had carried a request
        bool retried = false;  // sent again, on a new one
    };
    explicit KeptAlive(std::string address) : address_(std::move(address)) {}
    Result get(const std::string& path);

private:
    std::string address_;
    seq::Fd fd_;
};

// Clients in threads, each sending GETs to `address` one after another,
// `pause` apart (steady load, not all the CPU: other tests run beside it),
// until stop(), counting what came back. The first `kept_alive` clients
// each keep one connection (KeptAlive); the others open one per request.
// Each refused or failed request is kept with its time for the test's message.
class HttpLoad {
public:
    HttpLoad(std::string address, int clients, std::string path = "/", Ms pause = 5ms, int kept_alive = 0);
    ~HttpLoad();
    HttpLoad(const HttpLoad&) = delete;
    HttpLoad& operator=(const HttpLoad&) = delete;
    void stop();
    std::int64_t ok() const { return ok_; }
    std::int64_t refused() const { return refused_; }
    std::int64_t failed() const { return failed_; }
    std::int64_t reused() const { return reused_; }    // requests on a kept-alive connection's second use or later
    std::int64_t retried() const { return retried_; }  // by kept-alive clients, each then answered or counted
    // The body of every request sent since the last call and answered by
    // now (one sent before it and answered after is left out: an instance
    // on its way out may still answer what it had taken).
    std::vector<std::string> take_bodies();
    std::string report() const;  // "N ok, N refused, N failed: why..."

private:
    struct State;
    std::shared_ptr<State> state_;
    std::vector<std::thread> threads_;
    std::atomic<std::int64_t> ok_{0}, refused_{0}, failed_{0}, reused_{0}, retried_{0};
};

// A TCP port on 127.0.0.1 free a moment ago.
int free_port();

// Whether this machine can bind [::1]: IPv6 on loopback.
bool has_ipv6_loopback();

// Runs a shell command line; returns its exit code and stdout.
struct Shell {
    int code;
    std::string out;
};
Shell sh(const std::string& command);

}  // namespace seqtest
