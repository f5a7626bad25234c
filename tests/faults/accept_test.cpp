// Accepts never stay paused. Each daemon is put out of fds for an accept
// (its RLIMIT_NOFILE lowered to its lowest free fd, as `prlimit --pid`
// does), with no client of its own to leave and wake it; a client then is
// refused with why, or waits. Once the limit is raised again a new client
// is served within 2 s: before the retry timer and the reserve fd, the
// daemon stayed deaf for good while `seqctl status` still said running.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "client.hpp"
#include "harness.hpp"

using namespace seqtest;

namespace {

// The lowest fd `pid` has free: with its limit there, any new fd fails EMFILE.
rlim_t lowest_free_fd(pid_t pid) {
    std::set<int> open;
    for (auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
        open.insert(std::stoi(e.path().filename().string()));
    rlim_t n = 0;
    while (open.count(static_cast<int>(n))) ++n;
    return n;
}

// `pid`'s fd limit lowered for as long as this lives, then given back.
struct Starved {
    pid_t pid;
    rlimit was{};
    explicit Starved(pid_t p) : pid(p) {
        REQUIRE(prlimit(pid, RLIMIT_NOFILE, nullptr, &was) == 0);
        rlimit tight = was;
        tight.rlim_cur = lowest_free_fd(pid);
        REQUIRE(prlimit(pid, RLIMIT_NOFILE, &tight, nullptr) == 0);
    }
    void end() {
        if (pid > 0) prlimit(pid, RLIMIT_NOFILE, &was, nullptr);
        pid = -1;
    }
    ~Starved() { end(); }
};

// A call that must not hang the test: its reply, or "" if it failed or timed out.
std::string try_call(const std::string& socket, std::initializer_list<std::string_view> args, Ms timeout) {
    try {
        auto v = call(socket, args, timeout);
        return v.is_error() ? "-" + v.str : v.type == seq::resp::Value::Type::integer ? std::to_string(v.integer) : v.str;
    } catch (const std::exception&) {
        return "";
    }
}

}  // namespace

TEST_CASE("faults: accept EMFILE in the worker, the stash and the control socket: waiting clients are refused with why, and each serves again once fds are free") {
    TempDir dir;
    std::string run = dir / "run";
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--no-standby"}, dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    struct Daemon {
        std::string name, socket;
        pid_t pid;
        std::initializer_list<std::string_view> ask;
    };
    const Daemon daemons[] = {
        {"worker", run + "/sequence.sock", pid_of(run, "worker"), {"GET"}},
        {"stash", run + "/stash.sock", pid_of(run, "stash"), {"PING"}},
        {"control", run + "/control.sock", sup.pid(), {"PING"}},
    };
    for (auto& d : daemons) {
        CAPTURE(d.name);
        // A client of its own, idle: it fills any hole below the daemon's
        // highest fd, so that the limit lands past its reserve fd.
        seq::Client idle(d.socket, 5000ms);
        auto hello = idle.call(d.ask);
        if (hello.is_error() && hello.str.starts_with("NOAUTH")) {  // the stash, under the tree's stash_acl
            REQUIRE_FALSE(idle.call({"AUTH", operator_password(run)}).is_error());
            hello = idle.call(d.ask);
        }
        REQUIRE_FALSE(hello.is_error());
        {
            Starved starved(d.pid);
            // Refused with why once it has waited a retry's interval: never served.
            CHECK(try_call(d.socket, d.ask, 3000ms).starts_with("-ERR out of file descriptors"));
            CHECK(try_call(d.socket, d.ask, 3000ms).starts_with("-ERR out of file descriptors"));
        }
        // Fds free again, and no client of its own leaving: served.
        CHECK(eventually([&] {
            auto r = try_call(d.socket, d.ask, 300ms);
            return !r.empty() && r[0] != '-';
        }, 5000ms));
        // It said so when it began, and how many it refused when it ended.
        CHECK(eventually([&] {
            auto log = sup.log();
            return log.find(d.name + ": cannot accept: Too many open files") != std::string::npos &&
                   std::regex_search(log, std::regex(d.name + ": accepting again \\([1-9][0-9]* clients were refused"));
        }));
    }
}
