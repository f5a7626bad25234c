// What each process group uses, read from /proc by real processes: the stat
// files of our descendants are kept open and read again, those of others
// are not, and a group that ends is gone from the next reading.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "process_usage.hpp"

using namespace seq::sup;

namespace {

// A group of two of our processes: a leader that waits, and a child of
// it that spins (its CPU time moves), or sleeps. Killed, with its group, at
// the end.
struct Spinning {
    pid_t leader = fork();
    explicit Spinning(bool spin = true) {
        if (leader == 0) {
            setpgid(0, 0);
            if (fork() == 0) execlp("sh", "sh", "-c", spin ? "while :; do :; done" : "exec sleep 1000", nullptr);
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
    const pid_t leader = group.leader;
    group.end();
    kill(other, SIGKILL);
    orphaned.pid = -1;
    CHECK(within(std::chrono::seconds(5), [&] {
        auto u = usage.read();
        return !u.count(leader) && !u.count(other) && usage.kept() == before;
    }));
}

TEST_CASE("process usage: with few fds free, every group is still read, and no more are kept than allowed") {
    // 40 groups of ours, and room for only 16 more fds than are open: a
    // reading that held each file until its end would miss most of them.
    std::vector<std::unique_ptr<Spinning>> groups;
    for (int k = 0; k < 40; ++k) {
        groups.push_back(std::make_unique<Spinning>(false));
        REQUIRE(groups.back()->leader > 0);
    }
    rlimit was{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &was) == 0);
    struct Restore {
        rlimit was;
        ~Restore() { setrlimit(RLIMIT_NOFILE, &was); }
    } restore{was};
    auto open_now = std::distance(std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator{});
    rlimit tight = was;
    tight.rlim_cur = static_cast<rlim_t>(open_now + 16);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &tight) == 0);
    ProcessUsage usage(8);
    auto all_read = [&] {
        auto u = usage.read();
        for (auto& g : groups)
            if (!u.count(g->leader)) return false;
        return true;
    };
    CHECK(within(std::chrono::seconds(5), all_read));
    CHECK(all_read());
    CHECK(usage.kept() == 8);
}

TEST_CASE("process usage: with no stat file to keep it reads the same, opening each") {
    ProcessUsage usage(0);
    Spinning group;
    REQUIRE(within(std::chrono::seconds(5), [&] { return usage.read().count(group.leader) == 1; }));
    const auto cpu = usage.read().at(group.leader).cpu_ms;
    CHECK(within(std::chrono::seconds(10), [&] { return usage.read().at(group.leader).cpu_ms >= cpu + 50; }));
    CHECK(usage.kept() == 0);
}
