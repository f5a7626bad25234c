// What each process group uses, read from /proc by real processes: the stat
// files of our descendants are kept open and read again, those of others
// are not, and a group that ends is gone from the next reading.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "process_usage.hpp"

using namespace seq::sup;

namespace {

// A group of two of our processes: a leader that waits, and a child of
// it that spins (its CPU time moves). Killed, with its group, at the end.
struct Spinning {
    pid_t leader = fork();
    Spinning() {
        if (leader == 0) {
            setpgid(0, 0);
            if (fork() == 0) execlp("sh", "sh", "-c", "while :; do :; done", nullptr);
            pause();
            _exit(0);
        }
        setpgid(leader, leader);  // either of us may set it first
    }
    ~Spinning() { end(); }
    void end() {
        if (leader <= 0) return;
        kill(-leader, SIGKILL);
        waitpid(leader, nullptr, 0);
        leader = -1;
    }
};

// A process that is not our descendant: its parent exited, so it went to
// init (or the nearest subreaper). It leads its own group; killed at the end.
struct Orphan {
    pid_t pid;
    ~Orphan() {
        if (pid > 0) kill(pid, SIGKILL);
    }
};
pid_t orphan() {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t middle = fork();
    if (middle == 0) {
        pid_t p = fork();
        if (p == 0) {
            setpgid(0, 0);
            pause();
            _exit(0);
        }
        setpgid(p, p);
        (void)!write(fds[1], &p, sizeof p);
        _exit(0);
    }
    pid_t p = -1;
    close(fds[1]);
    (void)!read(fds[0], &p, sizeof p);
    close(fds[0]);
    waitpid(middle, nullptr, 0);
    return p;
}

template <class F>
bool within(std::chrono::milliseconds deadline, F done) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a condition, with a deadline
    }
    return true;
}

}  // namespace

TEST_CASE("process usage: our descendants' stat files are kept and read afresh, others' are not") {
    ProcessUsage usage(100);
    usage.read();
    const auto before = usage.kept();
    Orphan orphaned{orphan()};
    const pid_t other = orphaned.pid;
    REQUIRE(other > 0);
    Spinning group;
    REQUIRE(group.leader > 0);
    // Both of the group's processes kept, once both are there; the orphan read, not kept.
    REQUIRE(within(std::chrono::seconds(5), [&] {
        auto u = usage.read();
        return u.count(group.leader) && u.count(other) && usage.kept() == before + 2;
    }));
    CHECK(usage.read().at(group.leader).rss_bytes > 0);
    // The kept files say what is, not what was: the spinner's CPU time moves.
    const auto cpu = usage.read().at(group.leader).cpu_ms;
    CHECK(within(std::chrono::seconds(10), [&] { return usage.read().at(group.leader).cpu_ms >= cpu + 50; }));
    CHECK(usage.kept() == before + 2);
    // Ended: gone from the reading, and its files let go.
    group.end();
    kill(other, SIGKILL);
    CHECK(within(std::chrono::seconds(5), [&] {
        auto u = usage.read();
        return !u.count(group.leader) && !u.count(other) && usage.kept() == before;
    }));
}

TEST_CASE("process usage: with no stat file to keep it reads the same, opening each") {
    ProcessUsage usage(0);
    Spinning group;
    REQUIRE(within(std::chrono::seconds(5), [&] { return usage.read().count(group.leader) == 1; }));
    const auto cpu = usage.read().at(group.leader).cpu_ms;
    CHECK(within(std::chrono::seconds(10), [&] { return usage.read().at(group.leader).cpu_ms >= cpu + 50; }));
    CHECK(usage.kept() == 0);
}
