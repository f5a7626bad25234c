// The exec-status pipe as the supervisor watches it: asked before the exec,
// it must stay open (a child that forks, not vforks, writes to it later).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "exec_watch.hpp"
#include "fd.hpp"
#include "uv.hpp"

using namespace seq::sup;

TEST_CASE("exec watch: asked before the exec, nothing is read and the pipe stays open, then its end is read") {
    seq::uv::Loop loop;
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    seq::Fd w(fds[1]);
    {
        ExecWatch watch(loop.get(), seq::Fd(fds[0]), "/bin/prog", "/");
        CHECK_FALSE(watch.failure());
        // The reader is still there: a write does not fail with EPIPE.
        signal(SIGPIPE, SIG_IGN);
        CHECK(::write(w.get(), "x", 1) == 1);
        // The exec went through: the end of the pipe, and no failure.
        w = seq::Fd();
        CHECK_FALSE(watch.failure());
    }
}
