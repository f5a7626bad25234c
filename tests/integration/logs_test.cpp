// What the supervisor keeps of its children's output: seqctl logs (the last
// lines of a child, of a pool, of one instance) and seqctl why (its last
// deaths, each with why and the lines it wrote before).
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace seqtest;

TEST_CASE("seqctl why after three kinds of death: each with when, why, after how long, and the lines before it, newest first") {
    TempDir dir;
    // Run 1 is ready, then exits 3; run 2 is ready and waits (killed by the
    // test); run 3 never says it is ready (killed at its start timeout);
    // run 4 stays.
    std::string count = dir / "count";
    std::string script = "n=$(cat " + count + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + count +
                         "; echo \"run $n begins\"; echo \"run $n on stderr\" >&2; "
                         "case $n in 3) exec sleep 1000;; esac; echo >&$SEQ_NOTIFY_FD; "
                         "case $n in 1) echo \"run 1 fails\"; exit 3;; esac; exec sleep 1000";
    TreeSup t(dir, "max_restarts = 10\nmax_seconds = 60\n[[child]]\nname = \"job\"\ncommand = [\"/bin/sh\", \"-c\", '" +
                       script + "']\nreadiness = \"notify-fd\"\nstart_timeout = 1500\n",
              false);
    INFO(t.proc->log());
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    auto run_is = [&](const std::string& n) {
        std::ifstream in(count);
        std::string got;
        in >> got;
        return got == n;
    };
    REQUIRE(eventually([&] { return run_is("2") && t.child("job").state == "running"; }, 10000ms));
    REQUIRE(kill(t.child("job").pid, SIGKILL) == 0);
    REQUIRE(eventually([&] { return run_is("4") && t.child("job").state == "running"; }, 15000ms));

    auto why = sh(ctl + "why job");
    INFO(why.out);
    REQUIRE(why.code == 0);
    auto first = why.out.find("killed by SIGKILL, having never become ready after 1.5s");
    auto second = why.out.find("): killed by SIGKILL after ");
    auto third = why.out.find("): exit status 3 after ");
    REQUIRE(first != std::string::npos);
    REQUIRE(second != std::string::npos);
    REQUIRE(third != std::string::npos);
    CHECK(first < second);
    CHECK(second < third);
    // Each with its own lines, stdout and stderr, and none of another run's.
    auto block = [&](std::size_t from, std::size_t to) { return why.out.substr(from, to - from); };
    CHECK(block(first, second).find("job[") != std::string::npos);
    CHECK(block(first, second).find("run 3 begins") != std::string::npos);
    CHECK(block(first, second).find("run 3 on stderr") != std::string::npos);
    CHECK(block(second, third).find("run 2 begins") != std::string::npos);
    CHECK(block(third, why.out.size()).find("run 1 fails") != std::string::npos);
    CHECK(block(third, why.out.size()).find("run 2") == std::string::npos);
    CHECK(block(first, second).find("run 2") == std::string::npos);
    CHECK(block(first, second).find("run 1") == std::string::npos);
    CHECK(block(second, third).find("run 1") == std::string::npos);
    // Each block begins with an RFC 3339 time in UTC.
    CHECK(std::regex_search(why.out, std::regex("^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z job \\(pid [0-9]+\\): killed")));

    // status PATH: the table, then the last death with its lines; in JSON, all of them.
    auto status = sh(ctl + "status job");
    INFO(status.out);
    CHECK(status.code == 0);
    auto last = status.out.find("last death of job:\n");
    REQUIRE(last != std::string::npos);
    CHECK(status.out.find("killed by SIGKILL, having never become ready", last) != std::string::npos);
    CHECK(status.out.find("run 3 begins", last) != std::string::npos);
    CHECK(status.out.find("exit status 3", last) == std::string::npos);
    auto json = sh(ctl + "status --json job").out;
    CHECK(json.find("\"path\": \"job\", \"deaths\": [\"") != std::string::npos);
    CHECK(json.find("exit status 3 after") != std::string::npos);
    CHECK(json.find("\"children\": [") != std::string::npos);

    // Its stdout and its stderr come by two pipes: each line says which,
    // and their order between the two is the order they were read in.
    auto logs = sh(ctl + "logs job -n 2");
    CHECK(logs.code == 0);
    auto got = lines_of(logs.out);
    REQUIRE(got.size() == 2);
    std::sort(got.begin(), got.end(), [](auto& a, auto& b) { return a.substr(25) < b.substr(25); });
    CHECK(std::regex_search(got[0], std::regex("Z err job\\[[0-9]+\\] run 4 on stderr$")));
    CHECK(std::regex_search(got[1], std::regex("Z out job\\[[0-9]+\\] run 4 begins$")));
    auto bad = sh(ctl + "logs nobody 2>&1");
    CHECK(bad.code != 0);
    CHECK(bad.out.find("no such child: nobody") != std::string::npos);
    auto zero = sh(ctl + "logs job -n 0 2>&1");
    CHECK(zero.code != 0);
    CHECK(zero.out.find("not a number of lines") != std::string::npos);
}

TEST_CASE("seqctl logs of a pool merges its instances by time, of web#1 gives that one's, and a flood keeps only the last 1000 lines, in order") {
    TempDir dir;
    TreeSup t(dir,
              "[[child]]\nname = \"web\"\ninstances = 3\n"
              "command = [\"/bin/sh\", \"-c\", \"echo hello from $SEQ_INDEX; exec sleep 1000\"]\n"
              "[[child]]\nname = \"flood\"\n"
              "command = [\"/bin/sh\", \"-c\", \"i=0; while [ $i -lt 5000 ]; do i=$((i+1)); echo flood $i; done; "
              "exec sleep 1000\"]\n");
    INFO(t.proc->log());
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    REQUIRE(eventually([&] { return lines_of(sh(ctl + "logs web").out).size() == 3; }));
    auto all = sh(ctl + "logs web").out;
    for (auto k : {"0", "1", "2"}) CHECK(all.find(std::string("web#") + k + "[") != std::string::npos);
    auto one = lines_of(sh(ctl + "logs web#1").out);
    REQUIRE(one.size() == 1);
    CHECK(one[0].find("web#1[") != std::string::npos);
    CHECK(one[0].find("hello from 1") != std::string::npos);

    REQUIRE(eventually([&] { return sh(ctl + "logs flood -n 1").out.find("flood 5000") != std::string::npos; }));
    auto flood = lines_of(sh(ctl + "logs flood -n 1000").out);
    REQUIRE(flood.size() == 1000);
    for (int i = 0; i < 1000; ++i) {
        auto want = "flood " + std::to_string(4001 + i);
        auto& line = flood[static_cast<std::size_t>(i)];
        if (line.size() < want.size() || line.compare(line.size() - want.size(), want.size(), want) != 0) {
            FAIL_CHECK("line " << i << " is '" << line << "', not ending in '" << want << "'");
            break;
        }
    }
}

namespace {

// The lines of `text` that contain `what`.
std::vector<std::string> with(const std::string& text, const std::string& what) {
    std::vector<std::string> out;
    for (auto& l : lines_of(text))
        if (l.find(what) != std::string::npos) out.push_back(l);
    return out;
}

// The numbers N of "tick N" lines, in the order printed.
std::vector<int> ticks(const std::string& text) {
    std::vector<int> out;
    static const std::regex re("tick ([0-9]+)$");
    for (auto& l : lines_of(text)) {
        std::smatch m;
        if (std::regex_search(l, m, re)) out.push_back(std::stoi(m[1]));
    }
    return out;
}

}  // namespace

TEST_CASE("seqctl logs -f: one child, a pool instance and the whole tree, two followers at once, each line once and in order") {
    TempDir dir;
    TreeSup t(dir,
              "[[child]]\nname = \"tick\"\ncommand = [\"/bin/sh\", \"-c\", "
              "\"i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done\"]\n"
              "[[child]]\nname = \"web\"\ninstances = 2\n"
              "command = [\"/bin/sh\", \"-c\", \"echo hello from $SEQ_INDEX; exec sleep 1000\"]\n");
    INFO(t.proc->log());
    auto ctl = bin("seqctl");
    Process one({ctl, "--run-dir", t.run, "logs", "tick", "-n", "1", "-f"}, dir / "one.out");
    Process two({ctl, "--run-dir", t.run, "logs", "tick", "-f"}, dir / "two.out");
    Process instance({ctl, "--run-dir", t.run, "logs", "web#1", "-n", "1", "-f"}, dir / "instance.out");
    Process tree({ctl, "--run-dir", t.run, "logs", "-f"}, dir / "tree.out");
    REQUIRE(eventually([&] { return ticks(one.log()).size() >= 20 && ticks(two.log()).size() >= 20; }));
    for (auto* p : {&one, &two}) {
        auto got = ticks(p->log());
        for (std::size_t i = 1; i < got.size(); ++i)
            if (got[i] != got[i - 1] + 1) FAIL_CHECK("tick " << got[i] << " after tick " << got[i - 1]);
    }
    // Each printed line is "TIME tick[PID] tick N".
    CHECK(std::regex_search(one.log(), std::regex("Z out tick\\[[0-9]+\\] tick [0-9]+\n")));
    // A restart of web#1 shows in its follower, and web#0's lines do not.
    auto old = t.child("web#1").pid;
    REQUIRE(kill(old, SIGKILL) == 0);
    REQUIRE(restarted(t.run, "web#1", old));
    REQUIRE(eventually([&] { return with(instance.log(), "hello from 1").size() == 2; }));
    CHECK(with(instance.log(), "hello from 0").empty());
    CHECK(with(instance.log(), "tick").empty());
    // The whole tree's follower has all of it, each line with its path.
    REQUIRE(eventually([&] { return with(tree.log(), "web#1[").size() >= 2; }));
    CHECK(!with(tree.log(), " tick[").empty());
    CHECK(!with(tree.log(), " web#0[").empty());
    // Followers that go away are let go: the supervisor's fds come back.
    auto fds = [&] {
        return std::distance(std::filesystem::directory_iterator("/proc/" + std::to_string(t.proc->pid()) + "/fd"),
                             std::filesystem::directory_iterator{});
    };
    auto before = fds();
    for (int i = 0; i < 10; ++i) {
        // Each is let go once it follows: its first lines have come.
        Process gone({ctl, "--run-dir", t.run, "logs", "web#0", "-f"}, dir / ("gone" + std::to_string(i) + ".out"));
        REQUIRE(eventually([&] { return gone.log().find("hello from 0") != std::string::npos; }));
    }
    CHECK(eventually([&] { return sh(ctl + " --run-dir " + t.run + " status").code == 0 && fds() <= before; }));
    // A follower of no such child: refused with why.
    auto bad = sh(ctl + " --run-dir " + t.run + " logs nobody -f 2>&1");
    CHECK(bad.code != 0);
    CHECK(bad.out.find("no such child: nobody") != std::string::npos);
}

TEST_CASE("a follower that does not read (SIGSTOP) is cut off with why, and holds up neither the control socket nor another child's restart") {
    TempDir dir;
    TreeSup t(dir,
              "max_restarts = 1000\nmax_seconds = 1\n[[child]]\nname = \"flood\"\ncommand = [\"/bin/sh\", \"-c\", "
              "\"while true; do echo flooding flooding flooding flooding flooding flooding flooding; done\"]\n"
              "[[child]]\nname = \"other\"\ncommand = [\"/bin/sleep\", \"1000\"]\n");
    INFO(t.proc->log());
    auto ctl = bin("seqctl");
    // The restart of another child, kill -9 to running again: a median of 5.
    auto restart_ms = [&] {
        std::vector<long> ms;
        for (int i = 0; i < 5; ++i) {
            auto old = t.child("other").pid;
            auto t0 = std::chrono::steady_clock::now();
            REQUIRE(kill(old, SIGKILL) == 0);
            REQUIRE(restarted(t.run, "other", old));
            ms.push_back(static_cast<long>(std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0).count()));
        }
        std::sort(ms.begin(), ms.end());
        return ms[2];
    };
    auto without = restart_ms();
    Process stuck({ctl, "--run-dir", t.run, "logs", "flood", "-f"}, dir / "stuck.out");
    REQUIRE(eventually([&] { return !with(stuck.log(), "flooding").empty(); }));
    stuck.signal(SIGSTOP);
    // The supervisor cuts it off once 1 MiB waits for it: the flood fills
    // that within moments.
    auto with_it = restart_ms();
    CAPTURE(without);
    CAPTURE(with_it);
    CHECK(with_it <= 3 * without + 100);
    auto status = sh(ctl + " --run-dir " + t.run + " status");
    CHECK(status.code == 0);
    stuck.signal(SIGCONT);
    REQUIRE(eventually([&] { return stuck.log().find("cut off") != std::string::npos; }, 10000ms));
    CHECK(stuck.log().find("did not read its lines") != std::string::npos);
    CHECK(stuck.exit_code() != 0);
}

TEST_CASE("below nested supervisors: seqctl logs -n, -f, why, a pool inside, and the whole tree's follower, across a restart of the nested supervisor") {
    TempDir dir;
    TreeSup t(dir,
              "[[child]]\nname = \"web\"\ntype = \"supervisor\"\nmax_restarts = 100\n"
              "[[child.child]]\nname = \"inner\"\ntype = \"supervisor\"\n"
              "[[child.child.child]]\nname = \"tick\"\ncommand = [\"/bin/sh\", \"-c\", "
              "\"i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done\"]\n"
              "[[child.child]]\nname = \"pool\"\ninstances = 2\n"
              "command = [\"/bin/sh\", \"-c\", \"echo hello from $SEQ_INDEX; echo oops >&2; exec sleep 1000\"]\n");
    INFO(t.proc->log());
    auto ctl = bin("seqctl");
    Process deep({ctl, "--run-dir", t.run, "logs", "web/inner/tick", "-n", "1", "-f"}, dir / "deep.out");
    Process tree({ctl, "--run-dir", t.run, "logs", "-f"}, dir / "tree.out");
    REQUIRE(eventually([&] { return ticks(deep.log()).size() >= 10; }));
    auto got = ticks(deep.log());
    for (std::size_t i = 1; i < got.size(); ++i)
        if (got[i] != got[i - 1] + 1) FAIL_CHECK("tick " << got[i] << " after tick " << got[i - 1]);
    CHECK(std::regex_search(deep.log(), std::regex("Z out web/inner/tick\\[[0-9]+\\] tick [0-9]+\n")));
    // -n: one child below, a pool below (both instances), one instance.
    auto last = sh(ctl + " --run-dir " + t.run + " logs web/inner/tick -n 3");
    CHECK(last.code == 0);
    CHECK(ticks(last.out).size() == 3);
    auto pool = sh(ctl + " --run-dir " + t.run + " logs web/pool");
    CHECK(with(pool.out, "out web/pool#0[").size() == 1);
    CHECK(with(pool.out, "out web/pool#1[").size() == 1);
    CHECK(with(pool.out, "err web/pool#1[").size() == 1);
    auto one = sh(ctl + " --run-dir " + t.run + " logs web/pool#1");
    CHECK(with(one.out, "web/pool#0").empty());
    CHECK(with(one.out, "hello from 1").size() == 1);
    // why below: a kill of the instance, with its lines.
    auto victim = t.child("web/pool#1").pid;
    REQUIRE(kill(victim, SIGKILL) == 0);
    REQUIRE(eventually([&] { return with(sh(ctl + " --run-dir " + t.run + " logs web/pool#1").out, "hello from 1").size() == 2; }));
    auto why = sh(ctl + " --run-dir " + t.run + " why web/pool");
    INFO(why.out);
    CHECK(why.out.find("web/pool#1 (pid " + std::to_string(victim) + "): killed by SIGKILL after ") != std::string::npos);
    CHECK(why.out.find("err web/pool#1[" + std::to_string(victim) + "] oops") != std::string::npos);
    // The nested supervisor killed: what was kept stays, and its new
    // process's children's lines come on.
    auto inner = t.child("web/inner").pid;
    REQUIRE(kill(inner, SIGKILL) == 0);
    REQUIRE(eventually([&] {
        auto s = tree_status(t.run);
        return s.count("web/inner") && s.at("web/inner").pid != inner && s.at("web/inner").state == "running";
    }, 10000ms));
    // A new process of tick counts from 1 again: its follower goes on.
    auto restarted_tick = [&] {
        auto got = ticks(deep.log());
        for (std::size_t i = 1; i < got.size(); ++i)
            if (got[i] < got[i - 1] && i + 5 < got.size()) return true;
        return false;
    };
    CHECK(eventually(restarted_tick, 10000ms));
    // The whole tree's follower heard all of it, each with its path.
    CHECK(!with(tree.log(), " web/inner/tick[").empty());
    CHECK(!with(tree.log(), " web/pool#1[").empty());
    auto bad = sh(ctl + " --run-dir " + t.run + " logs web/nobody 2>&1");
    CHECK(bad.code != 0);
    CHECK(bad.out.find("no such child: web/nobody") != std::string::npos);
}
