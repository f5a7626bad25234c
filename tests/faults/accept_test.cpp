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
#include <set>
#include <string>

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

TEST_CASE("faults: accept EMFILE in the worker, the stash and the control socket: each serves again within 2 s once fds are free") {
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
        {
            Starved starved(d.pid);
            // Refused with why (the reserve fd), or left waiting: never served.
            auto r = try_call(d.socket, d.ask, 500ms);
            CHECK((r.empty() || r.starts_with("-ERR out of file descriptors")));
            // A second: the first did not break the daemon's way of refusing.
            r = try_call(d.socket, d.ask, 500ms);
            CHECK((r.empty() || r.starts_with("-ERR out of file descriptors")));
        }
        // Fds free again, and no client of its own to leave: served within 2 s.
        CHECK(eventually([&] {
            auto r = try_call(d.socket, d.ask, 300ms);
            return !r.empty() && r[0] != '-';
        }, 2000ms));
    }
    // Each said so once, and said when it accepted again.
    auto log = sup.log();
    CHECK(log.find("worker[") != std::string::npos);
    for (auto name : {"worker: cannot accept: Too many open files", "stash: cannot accept: Too many open files",
                      "control: cannot accept: Too many open files"}) {
        CAPTURE(name);
        CHECK(log.find(name) != std::string::npos);
    }
    CHECK(log.find("accepting again") != std::string::npos);
}
