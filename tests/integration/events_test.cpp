// seqctl events: the tree's lifecycle, nested supervisors' too, as the top
// supervisor keeps it and as it happens, in text and in JSON.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

const char* const nested =
    "max_restarts = 10\n"
    "[[child]]\nname = \"a\"\ncommand = [\"/bin/sleep\", \"1000\"]\n"
    "[[child]]\nname = \"mid\"\ntype = \"supervisor\"\nmax_restarts = 10\n"
    "  [[child.child]]\n  name = \"low\"\n  type = \"supervisor\"\n  max_restarts = 0\n"
    "    [[child.child.child]]\n    name = \"leaf\"\n    command = [\"/bin/sleep\", \"1000\"]\n";

Shell seqctl(const TreeSup& t, const std::string& args) {
    return sh(bin("seqctl") + " --run-dir " + t.run + " --timeout 20000 " + args + " 2>&1");
}

// Where `what` is in `text` at or after `from`; npos if it is not.
std::size_t after(const std::string& text, const std::string& what, std::size_t from) {
    return from == std::string::npos ? std::string::npos : text.find(what, from);
}

}  // namespace

TEST_CASE("seqctl events -f --json sees a kill -9 two levels down, in order, and the nested supervisor that gave up") {
    TempDir dir;
    TreeSup t(dir, nested);
    INFO(t.proc->log());
    // Following what is below mid, from its last event on.
    Process follow({bin("seqctl"), "--run-dir", t.run, "events", "mid", "-n", "1000", "-f", "--json"}, dir / "follow.out");
    const std::string leaf_ready = "\"event\": \"ready\", \"path\": \"mid/low/leaf\"";
    REQUIRE(eventually([&] { return follow.log().find(leaf_ready) != std::string::npos; }));
    auto leaf = pid_of(t.run, "mid/low/leaf");
    REQUIRE(kill(leaf, SIGKILL) == 0);
    // low has max_restarts 0: the leaf's death is one restart too many, so
    // low gives up, and mid restarts it, and with it the leaf.
    std::string out;
    std::size_t at = std::string::npos;
    REQUIRE(eventually([&] {
        out = follow.log();
        auto exited = out.find("\"event\": \"exited\", \"path\": \"mid/low/leaf\", \"pid\": " + std::to_string(leaf) +
                               ", \"reason\": \"signal\", \"text\": \"killed by SIGKILL\"");
        auto gave_up = after(out, "\"event\": \"gave_up\", \"path\": \"mid/low\"", exited);
        auto low_exited = after(out, "\"event\": \"exited\", \"path\": \"mid/low\"", gave_up);
        auto restart = after(out, "\"event\": \"restart_scheduled\", \"path\": \"mid/low\"", low_exited);
        auto started = after(out, "\"event\": \"started\", \"path\": \"mid/low/leaf\"", restart);
        at = after(out, leaf_ready, started);
        return at != std::string::npos;
    }, 10000ms));
    INFO(out);
    // One JSON object a line, each with its time; a's are not below mid.
    for (auto& line : lines_of(out)) {
        CAPTURE(line);
        CHECK(line.starts_with("{\"time\": \"20"));
        CHECK(line.ends_with("}"));
    }
    CHECK(out.find("\"path\": \"a\"") == std::string::npos);
    CHECK(follow.running());
    // Each once: the leaf's first start and its start with low's restart.
    auto times = [&](const std::string& what) {
        std::size_t n = 0;
        for (auto at = out.find(what); at != std::string::npos; at = out.find(what, at + 1)) ++n;
        return n;
    };
    CHECK(times(leaf_ready) == 2);
    CHECK(times("\"event\": \"started\", \"path\": \"mid/low/leaf\"") == 2);
    CHECK(times("\"event\": \"exited\", \"path\": \"mid/low/leaf\"") == 1);
    CHECK(times("\"event\": \"gave_up\"") == 1);

    // The same, kept, as text.
    auto text = seqctl(t, "events mid/low/leaf -n 1000");
    CHECK(text.code == 0);
    CHECK(text.out.find(" exited mid/low/leaf (pid " + std::to_string(leaf) + "): killed by SIGKILL after ") !=
          std::string::npos);
    CHECK(text.out.find("[signal]") != std::string::npos);
    CHECK(text.out.find(" gave_up ") == std::string::npos);  // mid/low's own, not below the leaf
}

TEST_CASE("seqctl events: stops and starts by request, a count and a path that are wrong, and what is kept at most") {
    TempDir dir;
    TreeSup t(dir, nested);
    INFO(t.proc->log());
    REQUIRE(seqctl(t, "stop a").code == 0);
    REQUIRE(seqctl(t, "start a").code == 0);
    auto e = seqctl(t, "events a");
    CHECK(e.code == 0);
    INFO(e.out);
    auto stop = e.out.find(" stop_requested a");
    auto exited = after(e.out, " exited a (pid ", stop);
    auto start = after(e.out, " start_requested a", exited);
    auto started = after(e.out, " started a (pid ", start);
    CHECK(after(e.out, "[stopped]", exited) != std::string::npos);
    CHECK(started != std::string::npos);
    CHECK(lines_of(seqctl(t, "events -n 2").out).size() == 2);
    auto none = seqctl(t, "events nope");
    CHECK(none.code == 1);
    CHECK(none.out.find("no such child: nope") != std::string::npos);
    auto zero = seqctl(t, "events -n 0");
    CHECK(zero.code == 1);
    CHECK(zero.out.find("not a number of events (1 to 1000): 0") != std::string::npos);
    CHECK(seqctl(t, "events -n 1001").code == 1);
}

TEST_CASE("seqctl events: a rolling upgrade's new instance starts and is ready, then its old one exits, stopped") {
    TempDir dir;
    const std::string tree = "[[child]]\nname = \"w\"\ncommand = [\"/bin/sleep\", \"1000\"]\nupdate = \"rolling\"\nmin_uptime = 0\n";
    TreeSup t(dir, tree);
    INFO(t.proc->log());
    auto old = pid_of(t.run, "w");
    std::ofstream(t.file) << tree.substr(0, tree.find("\"1000\"")) + "\"999\"" + tree.substr(tree.find("\"1000\"") + 6);
    auto upgrade = seqctl(t, "upgrade");
    INFO(upgrade.out);
    REQUIRE(upgrade.code == 0);
    auto fresh = pid_of(t.run, "w");
    REQUIRE(fresh != old);
    std::string out;
    CHECK(eventually([&] {
        out = seqctl(t, "events w").out;
        auto started = out.find(" started w (pid " + std::to_string(fresh) + "): upgrade: generation 2");
        auto ready = after(out, " ready w (pid " + std::to_string(fresh) + ")", started);
        return after(out, " exited w (pid " + std::to_string(old) + "): old instance: ", ready) != std::string::npos;
    }));
    INFO(out);
    CHECK(out.find("[stopped]") != std::string::npos);
}

TEST_CASE("seqctl events: a child restarted after its deaths more than crash_loop_restarts times within crash_loop_seconds is a crash_loop, said once") {
    TempDir dir;
    TreeSup t(dir,
              "max_restarts = 100\nmax_seconds = 60\ncrash_loop_restarts = 2\ncrash_loop_seconds = 60\n"
              "[[child]]\nname = \"steady\"\ncommand = [\"/bin/sleep\", \"1000\"]\n"
              "[[child]]\nname = \"flap\"\ncommand = [\"/bin/sleep\", \"1000\"]\n");
    INFO(t.proc->log());
    // Two restarts after a death: not yet a loop; a stop and start by
    // request is no death, and does not count.
    for (int i = 0; i < 2; ++i) {
        auto pid = pid_of(t.run, "flap");
        REQUIRE(kill(pid, SIGKILL) == 0);
        REQUIRE(restarted(t.run, "flap", pid));
    }
    REQUIRE(seqctl(t, "restart flap").code == 0);
    CHECK(seqctl(t, "events").out.find(" crash_loop ") == std::string::npos);
    // The third within the minute: a loop.
    for (int i = 0; i < 3; ++i) {
        auto pid = pid_of(t.run, "flap");
        REQUIRE(kill(pid, SIGKILL) == 0);
        REQUIRE(restarted(t.run, "flap", pid));
    }
    auto out = seqctl(t, "events -n 1000").out;
    INFO(out);
    auto first = out.find(" crash_loop flap (pid ");
    CHECK(first != std::string::npos);
    CHECK(out.find("): restarted 3 times within 60s", first) != std::string::npos);
    CHECK(out.find(" crash_loop ", first + 1) == std::string::npos);
    CHECK(out.find(" started flap (pid " + std::to_string(pid_of(t.run, "flap")) + "): restart [strategy]") !=
          std::string::npos);
}
