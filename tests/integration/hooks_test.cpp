// A tree's on_event hook: its command run for the events it names, the
// event as JSON on its stdin, one at a time, each killed at its timeout,
// and never in the way of supervision.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

// A hook script in `dir`: what it is given goes to hook.out, a line each
// run, with $SEQ_EVENT and $SEQ_EVENT_PATH after it; then `then`.
std::string hook_script(const TempDir& dir, const std::string& then = "") {
    const auto path = dir / "hook.sh";
    std::ofstream(path) << "#!/bin/sh\necho $$ > " << (dir / "hook.pid") << "\ncat >> " << (dir / "hook.out")
                        << "\necho \"env $SEQ_EVENT $SEQ_EVENT_PATH\" >> " << (dir / "hook.out") << "\n"
                        << then << "\n";
    chmod(path.c_str(), 0755);
    return path;
}

bool has(const TempDir& dir, const std::string& what) { return slurp(dir / "hook.out").find(what) != std::string::npos; }

}  // namespace

TEST_CASE("on_event: a hook runs on gave_up below, with the event as JSON on its stdin, and not for the events it does not name") {
    TempDir dir;
    hook_script(dir);
    TreeSup t(dir,
              "max_restarts = 10\n"
              "on_event = { command = [\"./hook.sh\"], events = [\"gave_up\", \"escalated\"] }\n"
              "[[child]]\nname = \"mid\"\ntype = \"supervisor\"\nmax_restarts = 0\n"
              "  [[child.child]]\n  name = \"leaf\"\n  command = [\"/bin/sleep\", \"1000\"]\n");
    INFO(t.proc->log());
    REQUIRE(kill(pid_of(t.run, "mid/leaf"), SIGKILL) == 0);
    // mid may not restart it (max_restarts 0): it escalates, and gives up.
    CHECK(eventually([&] { return has(dir, "env gave_up mid"); }, 10000ms));
    auto out = slurp(dir / "hook.out");
    INFO(out);
    CHECK(out.find("{\"time\": \"") == 0);
    CHECK(out.find("\"event\": \"escalated\", \"path\": \"mid\"") != std::string::npos);
    CHECK(out.find("\"event\": \"gave_up\", \"path\": \"mid\", \"pid\": ") != std::string::npos);
    CHECK(out.find("more than 0 restarts") == std::string::npos);  // the text is what happened: the leaf's death
    CHECK(out.find("\"text\": \"mid/leaf (pid ") != std::string::npos);
    // Not named: none of the exits, starts or restarts.
    CHECK(out.find("\"exited\"") == std::string::npos);
    CHECK(out.find("\"started\"") == std::string::npos);
    // mid restarted by the top, which goes on.
    CHECK(tree_running(t.run));
}

TEST_CASE("on_event: the top's own gave_up runs its hook before the supervisor exits") {
    TempDir dir;
    hook_script(dir);
    TreeSup t(dir,
              "max_restarts = 0\n"
              "on_event = { command = [\"./hook.sh\"], events = [\"gave_up\"] }\n"
              "[[child]]\nname = \"a\"\ncommand = [\"/bin/sleep\", \"1000\"]\n");
    INFO(t.proc->log());
    REQUIRE(kill(pid_of(t.run, "a"), SIGKILL) == 0);
    CHECK(t.proc->exit_code(10000ms) == 1);
    auto out = slurp(dir / "hook.out");
    INFO(out);
    CHECK(out.find("\"event\": \"gave_up\", \"path\": \"/\"") != std::string::npos);
    CHECK(out.find("env gave_up /") != std::string::npos);
}

TEST_CASE("on_event: a hook that sleeps for ever is killed at its timeout, while a restart elsewhere happens at once") {
    TempDir dir;
    hook_script(dir, "exec sleep 1000");
    TreeSup t(dir,
              "max_restarts = 10\n"
              "on_event = { command = [\"./hook.sh\"], events = [\"exited\"], timeout = 3000 }\n"
              "[[child]]\nname = \"a\"\ncommand = [\"/bin/sleep\", \"1000\"]\n"
              "[[child]]\nname = \"b\"\ncommand = [\"/bin/sleep\", \"1000\"]\n");
    INFO(t.proc->log());
    const auto a = pid_of(t.run, "a");
    REQUIRE(kill(a, SIGKILL) == 0);
    REQUIRE(eventually([&] { return has(dir, "env exited a"); }));
    const pid_t hook = std::stoi(slurp(dir / "hook.pid"));
    REQUIRE(alive(hook));
    // The hook hangs; b's death is seen and b restarted all the same, well
    // within the hook's timeout.
    const auto b = pid_of(t.run, "b");
    const auto killed_at = std::chrono::steady_clock::now();
    REQUIRE(kill(b, SIGKILL) == 0);
    REQUIRE(restarted(t.run, "b", b, 2000ms));
    CHECK(std::chrono::steady_clock::now() - killed_at < 2000ms);
    CHECK(alive(hook));
    // At its timeout it is killed, and reaped: then b's exit has its turn.
    CHECK(log_has(t, "on_event: " + (dir / "hook.sh") + " for exited a (pid " + std::to_string(hook) +
                         "): timed out after 3s (killed)"));
    CHECK(eventually([&] { return !alive(hook); }));
    CHECK(eventually([&] { return has(dir, "env exited b"); }));
    CHECK(tree_running(t.run));
}

TEST_CASE("on_event in a tree file: a command that is not there, an event that is not one, a timeout out of range") {
    TempDir dir;
    std::ofstream(dir / "t.toml") << "on_event = { command = [\"./nope.sh\"], events = [\"gave_up\", \"exploded\"], "
                                     "timeout = 5, when = 1 }\n[[child]]\nname = \"a\"\ncommand = [\"/bin/true\"]\n";
    auto r = sh(bin("seq-supervisor") + " --check " + (dir / "t.toml") + " 2>&1");
    INFO(r.out);
    CHECK(r.code != 0);
    CHECK(r.out.find("key \"on_event.command\": program \"./nope.sh\": not found") != std::string::npos);
    CHECK(r.out.find("key \"on_event.events\": \"exploded\" is not an event; events are started, ready,") !=
          std::string::npos);
    CHECK(r.out.find("key \"on_event.timeout\": 5 is out of range (10 to 3600000)") != std::string::npos);
    CHECK(r.out.find("key \"on_event.when\": unknown key") != std::string::npos);
}
