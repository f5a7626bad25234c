// sup::spawn with real children: the moment between fork and exec.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "fd.hpp"
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
        auto pid = seq::sup::spawn(args);
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
