// sup::spawn with real children: the moment between fork and exec.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fd.hpp"
#include "harness.hpp"
#include "process.hpp"

namespace {

// Stands for libuv's signal handler: it writes to a pipe that a forked child
// shares with its parent, so a run of it in the child reads, to the parent,
// as a signal the parent itself received.
int handler_pipe = -1;
void forwarding_handler(int) {
    char b = 'x';
    [[maybe_unused]] auto n = write(handler_pipe, &b, 1);
}

std::optional<int> wait_exit(pid_t pid, int deadline_ms) {
    seq::Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (pidfd.get() < 0) return std::nullopt;
    pollfd p{pidfd.get(), POLLIN, 0};
    if (poll(&p, 1, deadline_ms) <= 0) return std::nullopt;
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return std::nullopt;
    return st;
}

}  // namespace

TEST_CASE("a signal sent to a child as it is forked is the child's: never run by the supervisor's handler in it") {
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    seq::Fd read_end(p[0]), write_end(p[1]);
    handler_pipe = write_end.get();
    struct sigaction sa{}, old{};
    sa.sa_handler = forwarding_handler;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(SIGUSR1, &sa, &old) == 0);

    // The window is a few microseconds wide, so it takes many tries to hit;
    // a child that ran the handler instead of dying goes on to exec sleep.
    int not_killed = 0;
    for (int i = 0; i < 300 && not_killed == 0; ++i) {
        seq::sup::SpawnArgs args;
        args.argv = {"/bin/sleep", "30"};
        auto pid = seq::sup::spawn(args).pid;
        REQUIRE(kill(pid, SIGUSR1) == 0);
        auto st = wait_exit(pid, 5000);
        if (!st) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        if (!st || !WIFSIGNALED(*st) || WTERMSIG(*st) != SIGUSR1) ++not_killed;
    }
    char b;
    CHECK(read(read_end.get(), &b, 1) == -1);  // the handler never ran in a child
    CHECK(not_killed == 0);                   // every child died of the signal it was sent
    sigaction(SIGUSR1, &old, nullptr);
}

namespace {

// Spawns `args` with its output into a file of `dir`; returns the child's
// wait status, what the exec-status pipe said, and the output.
struct Ran {
    int status = -1;
    std::optional<std::string> failure;
    std::string output;
};
Ran run(seq::sup::SpawnArgs args, const seqtest::TempDir& dir, seq::sup::SpawnSlots* slots = nullptr) {
    auto out = dir / "out";
    seq::Fd file(open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    args.output_fd = file.get();
    auto child = seq::sup::spawn(args, slots);
    Ran r;
    r.status = wait_exit(child.pid, 5000).value_or(-1);
    r.failure = seq::sup::read_exec_failure(child.exec_status.get(), args.program.empty() ? args.argv[0] : args.program,
                                            args.cwd);
    r.output = seqtest::slurp(out);
    return r;
}

}  // namespace

TEST_CASE("spawn: an exec that fails is reported on the exec-status pipe, naming the file and the reason") {
    seqtest::TempDir dir;
    seq::sup::SpawnArgs args;
    args.argv = {dir / "missing"};
    auto r = run(args, dir);
    CHECK(WIFEXITED(r.status));
    CHECK(r.failure == "cannot exec " + (dir / "missing") + ": No such file or directory");
    CHECK(r.output.empty());  // said to the supervisor, not into the child's output

    std::ofstream(dir / "plain") << "#!/bin/sh\n";
    args.argv = {dir / "plain"};
    r = run(args, dir);
    CHECK(r.failure == "cannot exec " + (dir / "plain") + ": Permission denied");

    args.argv = {"/bin/true"};
    args.cwd = dir / "nowhere";
    r = run(args, dir);
    CHECK(r.failure == "cannot enter its cwd " + (dir / "nowhere") + ": No such file or directory");
}

TEST_CASE("spawn: argv[0] is what was written, the program only what is exec'd") {
    seqtest::TempDir dir;
    seq::sup::SpawnArgs args;
    args.program = "/bin/sh";
    args.argv = {"web-server", "-c", "echo $0; cat /proc/$$/cmdline | tr '\\0' ' '"};
    auto r = run(args, dir);
    CHECK(r.status == 0);
    CHECK(r.output == "web-server\nweb-server -c " + args.argv[2] + " ");
}

TEST_CASE("spawn: the child gets the fd limit it is given, whatever the supervisor raised its own to") {
    seqtest::TempDir dir;
    seq::sup::SpawnArgs args;
    args.argv = {"/bin/sh", "-c", "ulimit -n"};
    args.nofile = 200;
    CHECK(run(args, dir).output == "200\n");
}

TEST_CASE("spawn: no variable of the supervisor's own list reaches a child from the supervisor's environment") {
    seqtest::TempDir dir;
    setenv("SEQ_RESERVE", "5", 1);
    setenv("SEQ_STASH", "/elsewhere.sock", 1);
    setenv("SEQ_STANDBY_FD", "9", 1);
    setenv("SEQ_TEST_KEPT", "yes", 1);
    seq::sup::SpawnArgs args;
    args.argv = {"/bin/sh", "-c", "env | grep '^SEQ_' | sort"};
    args.env = {"SEQ_NAME=web"};
    auto r = run(args, dir);
    unsetenv("SEQ_RESERVE");
    unsetenv("SEQ_STASH");
    unsetenv("SEQ_STANDBY_FD");
    unsetenv("SEQ_TEST_KEPT");
    CHECK(r.output == "SEQ_NAME=web\nSEQ_TEST_KEPT=yes\n");
}

TEST_CASE("spawn: an exec that succeeds ends its pipe with nothing said, and the child gets exactly its fds, with slots or without, however many we hold") {
    seqtest::TempDir dir;
    seq::sup::SpawnSlots slots;
    // Many fds of ours, above the slots, as a supervisor of many children holds.
    std::vector<seq::Fd> held;
    for (int i = 0; i < 500; ++i) held.emplace_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
    int a[2], b[2];
    REQUIRE(pipe2(a, O_CLOEXEC) == 0);
    REQUIRE(pipe2(b, O_CLOEXEC) == 0);
    seq::Fd a0(a[0]), a1(a[1]), b0(b[0]), b1(b[1]);
    seq::sup::SpawnArgs args;
    // ls opens the folder it lists at the lowest free fd: 5, after 0-2 and the two passed.
    args.argv = {"/bin/ls", "-1", "/proc/self/fd"};
    args.extra_fds = {a1.get(), b1.get()};
    for (auto* with : {static_cast<seq::sup::SpawnSlots*>(nullptr), &slots}) {
        CAPTURE(with != nullptr);
        auto r = run(args, dir, with);
        CHECK(r.status == 0);
        CHECK_FALSE(r.failure);
        CHECK(r.output == "0\n1\n2\n3\n4\n5\n");
    }
    // The pipes passed are still ours, and still the pipes (the slots went
    // back to their placeholders, not onto our fds).
    CHECK(write(a1.get(), "x", 1) == 1);
    char c = 0;
    CHECK(read(a0.get(), &c, 1) == 1);
    CHECK(c == 'x');
    // An exec that fails is reported through the slots too, and the same
    // slots serve the next start.
    args.argv = {dir / "missing"};
    CHECK(run(args, dir, &slots).failure == "cannot exec " + (dir / "missing") + ": No such file or directory");
    args.argv = {"/bin/sh", "-c", "echo again"};
    args.extra_fds.clear();
    CHECK(run(args, dir, &slots).output == "again\n");
}
