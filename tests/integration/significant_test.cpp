// Significant children and auto_shutdown (OTP 24), on real processes: a job
// whose end ends the tree, and seq-supervisor's exit status then, as a
// container's PID 1 needs it.
#include <doctest/doctest.h>

#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

// Waits for `go` to exist, then exits with `status`.
std::string job(const TempDir& dir, const std::string& name, int status, const std::string& more) {
    auto go = dir / ("go-" + name);
    return sh_child(name, "while [ ! -e " + go + " ]; do sleep 0.01; done; echo " + name + " done; exit " +
                              std::to_string(status),
                    more);
}

void go(const TempDir& dir, const std::string& name) { sh("touch " + (dir / ("go-" + name))); }

}  // namespace

TEST_CASE("any_significant: a temporary significant child's end stops the tree in order, and seq-supervisor exits with its status") {
    TempDir dir;
    TreeSup t(dir, "auto_shutdown = \"any_significant\"\n" + sh_child("keeper", "exec sleep 1000") +
                       job(dir, "job", 7, "restart = \"temporary\"\nsignificant = true"));
    INFO("supervisor log:\n", t.proc->log());
    auto keeper = t.child("keeper").pid;
    go(dir, "job");
    CHECK(t.proc->exit_code(10000ms) == 7);
    CHECK(log_has(t, "job, a significant child, ended (auto_shutdown = any_significant); stopping children in reverse order"));
    CHECK(log_has(t, "keeper (pid " + std::to_string(keeper) + ") stopped"));
    CHECK(log_has(t, "all children stopped"));
    CHECK_FALSE(alive(keeper));
}

TEST_CASE("a transient significant child: a crash is restarted, its normal exit ends the tree with status 0") {
    TempDir dir;
    auto count = dir / "count";
    TreeSup t(dir, "auto_shutdown = \"any_significant\"\nmax_restarts = 5\n" + sh_child("keeper", "exec sleep 1000") +
                       sh_child("job",
                                "n=$(cat " + count + " 2>/dev/null || echo 0); echo $((n + 1)) > " + count +
                                    "; [ $n -ge 1 ] && exit 0; exit 3",
                                "restart = \"transient\"\nsignificant = true"),
              false);
    INFO("supervisor log:\n", t.proc->log());
    CHECK(t.proc->exit_code(10000ms) == 0);
    CHECK(slurp(count) == "2\n");  // crashed once (restarted), then ended normally
    CHECK(log_has(t, "job, a significant child, ended"));
}

TEST_CASE("all_significant: the tree goes on until the last significant child has ended") {
    TempDir dir;
    TreeSup t(dir, "auto_shutdown = \"all_significant\"\n" + sh_child("keeper", "exec sleep 1000") +
                       job(dir, "one", 0, "restart = \"temporary\"\nsignificant = true") +
                       job(dir, "two", 4, "restart = \"temporary\"\nsignificant = true"));
    INFO("supervisor log:\n", t.proc->log());
    go(dir, "one");
    CHECK(log_has(t, "one done"));
    CHECK(eventually([&] { return t.child("one").state == "stopped"; }));
    CHECK(t.proc->running());
    CHECK(t.child("keeper").state == "running");
    go(dir, "two");
    CHECK(t.proc->exit_code(10000ms) == 4);
    CHECK(log_has(t, "two, a significant child, ended (auto_shutdown = all_significant)"));
    CHECK(t.proc->log().find("one, a significant child, ended") == std::string::npos);
}

TEST_CASE("a nested supervisor's auto_shutdown ends it normally, and a significant supervisor ends the tree above it") {
    TempDir dir;
    TreeSup t(dir, "auto_shutdown = \"any_significant\"\n" + sh_child("keeper", "exec sleep 1000") +
                       "[[child]]\nname = \"batch\"\ntype = \"supervisor\"\nrestart = \"transient\"\nsignificant = true\n"
                       "auto_shutdown = \"any_significant\"\n"
                       "  [[child.child]]\n  name = \"side\"\n  command = [\"sleep\", \"1000\"]\n"
                       "  [[child.child]]\n  name = \"work\"\n  restart = \"temporary\"\n  significant = true\n"
                       "  command = [\"/bin/sh\", \"-c\", \"while [ ! -e " + (dir / "go-work") + " ]; do sleep 0.01; done; exit 9\"]\n");
    INFO("supervisor log:\n", t.proc->log());
    go(dir, "work");
    // batch ends normally (exit 0, as OTP's shutdown), so the top exits 0.
    CHECK(t.proc->exit_code(10000ms) == 0);
    CHECK(log_has(t, "batch/work, a significant child, ended (auto_shutdown = any_significant)"));
    CHECK(log_has(t, "batch, a significant child, ended (auto_shutdown = any_significant)"));
}
