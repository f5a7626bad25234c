// Dynamic supervisors (type = "dynamic", OTP's DynamicSupervisor): children
// added at run time from a template (seqctl add, ADD), each with its own
// arguments and environment, restarted by their restart type, removed
// (REMOVE), remade when a reload changes the template and left alone when
// it does not; refused, with nothing changed, past max_children or under a
// name in use; gone when the dynamic supervisor itself restarts.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "harness.hpp"

using namespace seqtest;

namespace {

// One request on a fresh connection to the control socket, its words given
// at run time; the reply's text, "-ERR ..." for an error.
std::string ask(const std::string& run, const std::vector<std::string>& words, Ms timeout = 10000ms) {
    seq::Client client(run + "/control.sock", timeout);
    std::vector<std::string_view> args(words.begin(), words.end());
    auto reply = client.call(args);
    return reply.is_error() ? "-" + reply.str : reply.str;
}

// A dynamic supervisor "jobs" whose template sleeps (its arguments add to
// the time: sleep sums them) with KIND in its environment.
std::string jobs_tree(const std::string& kind, const std::string& more = "") {
    return "[[child]]\nname = \"jobs\"\ntype = \"dynamic\"\nmax_restarts = 1000\nmax_seconds = 1\n" + more +
           "[child.template]\ncommand = [\"sleep\", \"1000\"]\nshutdown = 2000\nenv = { KIND = \"" + kind + "\" }\n";
}

// The pids of the dynamic supervisor's children, by name.
std::map<std::string, pid_t> children_of(const std::string& run, const std::string& sup = "jobs") {
    std::map<std::string, pid_t> out;
    for (auto& [path, c] : tree_status(run))
        if (path.starts_with(sup + "/") && path.find('/', sup.size() + 1) == std::string::npos)
            out[path.substr(sup.size() + 1)] = c.pid;
    return out;
}

// The words of /proc/PID/cmdline or /proc/PID/environ, once it has them: a
// child is running when its spawn returns (a vfork's parent wakes as the
// child's new memory replaces the old), and the kernel may not have set
// its arguments and environment there yet.
std::vector<std::string> proc_words(pid_t pid, const char* what) {
    std::string text;
    eventually([&] { return !(text = slurp("/proc/" + std::to_string(pid) + "/" + what)).empty(); });
    std::vector<std::string> out;
    for (std::size_t at = 0; at < text.size();) {
        auto end = text.find('\0', at);
        if (end == std::string::npos) end = text.size();
        out.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

bool has_word(const std::vector<std::string>& words, const std::string& w) {
    return std::find(words.begin(), words.end(), w) != words.end();
}

// Every child running, each under its own pid.
bool all_running(const std::string& run, std::size_t n, const std::string& sup = "jobs") {
    return eventually([&] {
        auto status = tree_status(run);
        std::size_t running = 0;
        for (auto& [path, c] : status)
            if (path.starts_with(sup + "/") && c.state == "running" && c.pid > 0) ++running;
        return running == n;
    }, 20000ms);
}

}  // namespace

TEST_CASE("dynamic children: 100 added from the template, killed, removed, and remade by a reload of a new template") {
    TempDir dir;
    TreeSup t(dir, jobs_tree("one"));
    for (int i = 0; i < 100; ++i) {
        auto n = std::to_string(i);
        REQUIRE(ask(t.run, {"ADD", "jobs", "t" + n, "ENV", "TENANT=" + n, "ARGS", n}) == "OK");
    }
    REQUIRE(all_running(t.run, 100));
    auto before = children_of(t.run);
    REQUIRE(before.size() == 100);
    // Each is the template's command with its own argument, and the
    // template's environment with its own.
    for (int i : {0, 42, 99}) {
        auto pid = before.at("t" + std::to_string(i));
        auto argv = proc_words(pid, "cmdline");
        CHECK(argv == std::vector<std::string>{"sleep", "1000", std::to_string(i)});
        auto env = proc_words(pid, "environ");
        CHECK(has_word(env, "TENANT=" + std::to_string(i)));
        CHECK(has_word(env, "KIND=one"));
        CHECK(has_word(env, "SEQ_NAME=jobs/t" + std::to_string(i)));
    }

    // A name in use is refused, and nothing changes.
    auto dup = ask(t.run, {"ADD", "jobs", "t5"});
    CHECK(dup.find("already") != std::string::npos);
    CHECK(children_of(t.run) == before);

    // kill -9 of ten: each restarted alone (permanent), under the same
    // argument; the others untouched.
    for (int i = 0; i < 10; ++i) REQUIRE(kill(before.at("t" + std::to_string(i)), SIGKILL) == 0);
    REQUIRE(eventually([&] {
        auto now = children_of(t.run);
        for (int i = 0; i < 10; ++i) {
            auto name = "t" + std::to_string(i);
            if (now[name] == before.at(name) || now[name] <= 0) return false;
        }
        return true;
    }, 20000ms));
    REQUIRE(all_running(t.run, 100));
    auto after_kills = children_of(t.run);
    for (int i = 10; i < 100; ++i) CHECK(after_kills.at("t" + std::to_string(i)) == before.at("t" + std::to_string(i)));
    CHECK(proc_words(after_kills.at("t3"), "cmdline") == std::vector<std::string>{"sleep", "1000", "3"});
    CHECK(t.child("jobs/t3").restarts == 1);

    // Ten removed: each answered once it is gone, and never started again.
    for (int i = 90; i < 100; ++i) REQUIRE(ask(t.run, {"REMOVE", "jobs/t" + std::to_string(i)}) == "OK");
    auto after_removes = children_of(t.run);
    CHECK(after_removes.size() == 90);
    for (int i = 90; i < 100; ++i) {
        CHECK(after_removes.count("t" + std::to_string(i)) == 0);
        CHECK(eventually([&] { return !alive(before.at("t" + std::to_string(i))); }));
    }
    CHECK(ask(t.run, {"REMOVE", "jobs/t95"}).find("no child named 't95'") != std::string::npos);

    // A reload with the template unchanged leaves every one of them running.
    CHECK(ask(t.run, {"RELOAD"}).starts_with("OK"));
    CHECK(children_of(t.run) == after_removes);

    // A new template: each of them restarted from it, with its own
    // argument and environment still.
    std::ofstream(t.file) << jobs_tree("two");
    auto said = ask(t.run, {"RELOAD"});
    CHECK(said.starts_with("OK"));
    REQUIRE(eventually([&] {
        auto now = children_of(t.run);
        if (now.size() != 90) return false;
        for (auto& [name, pid] : now)
            if (pid <= 0 || pid == after_removes.at(name)) return false;
        return true;
    }, 30000ms));
    REQUIRE(all_running(t.run, 90));
    auto remade = children_of(t.run);
    for (int i : {0, 10, 89}) {
        auto pid = remade.at("t" + std::to_string(i));
        CHECK(proc_words(pid, "cmdline") == std::vector<std::string>{"sleep", "1000", std::to_string(i)});
        auto env = proc_words(pid, "environ");
        CHECK(has_word(env, "KIND=two"));
        CHECK(has_word(env, "TENANT=" + std::to_string(i)));
    }
    for (auto& kid : after_removes) CHECK(eventually([&] { return !alive(kid.second); }));
    CHECK(t.child("jobs/t20").last_start == "reload");
}

TEST_CASE("dynamic children: max_children and names in use refused with nothing changed, failed starts not kept") {
    TempDir dir;
    auto text = jobs_tree("one", "max_children = 2\n") +
                "[[child]]\nname = \"bad\"\ntype = \"dynamic\"\n[child.template]\n"
                "command = [\"/bin/sh\", \"-c\", \"exit 3\"]\nreadiness = \"notify-fd\"\n" +
                "[[child]]\nname = \"once\"\ntype = \"dynamic\"\n[child.template]\n"
                "command = [\"/bin/sh\", \"-c\", \"exit 0\"]\nrestart = \"transient\"\n";
    TreeSup t(dir, text);
    REQUIRE(ask(t.run, {"ADD", "jobs", "a"}) == "OK");
    REQUIRE(ask(t.run, {"ADD", "jobs", "b"}) == "OK");
    auto two = children_of(t.run);
    REQUIRE(two.size() == 2);
    auto full = ask(t.run, {"ADD", "jobs", "c"});
    CHECK(full.find("max_children") != std::string::npos);
    auto dup = ask(t.run, {"ADD", "jobs", "a", "ARGS", "5"});
    CHECK(dup.find("already") != std::string::npos);
    CHECK(children_of(t.run) == two);
    CHECK(proc_words(two.at("a"), "cmdline") == std::vector<std::string>{"sleep", "1000"});
    // Room again once one is removed.
    REQUIRE(ask(t.run, {"REMOVE", "jobs/a"}) == "OK");
    CHECK(ask(t.run, {"ADD", "jobs", "c"}) == "OK");

    // A child whose first start fails is refused, and not kept (OTP's start_child).
    auto failed = ask(t.run, {"ADD", "bad", "x"});
    CHECK(failed.find("did not start") != std::string::npos);
    CHECK(children_of(t.run, "bad").empty());
    // A job that ends by itself (transient, exit 0) is forgotten: its name is free again.
    CHECK(ask(t.run, {"ADD", "once", "job"}) == "OK");
    CHECK(eventually([&] { return children_of(t.run, "once").empty(); }));
    CHECK(ask(t.run, {"ADD", "once", "job"}) == "OK");

    // Bad input: each refused with its reason, exit 1 from seqctl.
    auto seqctl = bin("seqctl") + " --run-dir " + t.run + " ";
    auto r = sh(seqctl + "add bad 'no good' 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("is not a child's name") != std::string::npos);
    r = sh(seqctl + "add jobs/b x 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("is not a dynamic supervisor") != std::string::npos);
    r = sh(seqctl + "add jobs y --env SEQ_INDEX=1 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("set by the supervisor itself") != std::string::npos);
    r = sh(seqctl + "remove jobs 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("PATH/NAME") != std::string::npos);
    CHECK(children_of(t.run).size() == 2);

    // As many words as the control socket takes reach the dynamic
    // supervisor whole (the request gains an id on its way down), and the
    // link to it stays up for what follows.
    std::vector<std::string> many{"ADD", "jobs", "long", "ARGS"};
    while (many.size() < 1024) many.push_back("0");
    CHECK(ask(t.run, many).find("max_children") != std::string::npos);  // jobs is full: refused there, and answered
    CHECK(ask(t.run, {"REMOVE", "jobs/nobody"}).find("has no child named 'nobody'") != std::string::npos);
    CHECK(children_of(t.run).size() == 2);

    // seqctl add with --env and arguments after --.
    r = sh(seqctl + "remove jobs/c && " + seqctl + "add jobs d --env TENANT=d -- 7 2>&1");
    CHECK(r.code == 0);
    auto d = children_of(t.run).at("d");
    CHECK(proc_words(d, "cmdline") == std::vector<std::string>{"sleep", "1000", "7"});
    CHECK(has_word(proc_words(d, "environ"), "TENANT=d"));

    // A restart of the dynamic supervisor starts it empty, as in OTP.
    auto kids = children_of(t.run);
    REQUIRE(ask(t.run, {"RESTART", "jobs"}) == "OK");
    CHECK(children_of(t.run).empty());
    for (auto& kid : kids) CHECK(eventually([&] { return !alive(kid.second); }));
    CHECK(ask(t.run, {"ADD", "jobs", "a"}) == "OK");
}

TEST_CASE("dynamic children below a nested supervisor: added, stopped, started and signalled by path") {
    TempDir dir;
    std::string text = "[[child]]\nname = \"mid\"\ntype = \"supervisor\"\n"
                       "[[child.child]]\nname = \"jobs\"\ntype = \"dynamic\"\n"
                       "[child.child.template]\ncommand = [\"sleep\", \"1000\"]\n";
    TreeSup t(dir, text);
    REQUIRE(ask(t.run, {"ADD", "mid/jobs", "a"}) == "OK");
    // Answered once the child runs, and the status shows it then.
    auto a = t.child("mid/jobs/a");
    CHECK(a.state == "running");
    REQUIRE(ask(t.run, {"STOP", "mid/jobs/a"}) == "OK");
    CHECK(t.child("mid/jobs/a").state == "stopped");
    CHECK(!alive(a.pid));
    REQUIRE(ask(t.run, {"START", "mid/jobs/a"}) == "OK");
    auto again = t.child("mid/jobs/a");
    CHECK(again.state == "running");
    CHECK(again.pid != a.pid);
    CHECK(ask(t.run, {"SIGNAL", "mid/jobs/a", "KILL"}) == "OK");
    CHECK(restarted(t.run, "mid/jobs/a", again.pid, 10000ms));
    REQUIRE(ask(t.run, {"REMOVE", "mid/jobs/a"}) == "OK");
    CHECK(tree_status(t.run).count("mid/jobs/a") == 0);
    CHECK(ask(t.run, {"ADD", "mid", "x"}).find("is not a dynamic supervisor") != std::string::npos);
}

TEST_CASE("an ADD in flight when its dynamic supervisor is killed is answered, and the tree goes on") {
    TempDir dir;
    // A child that never says it is ready: its ADD waits for it.
    TreeSup t(dir, "[[child]]\nname = \"jobs\"\ntype = \"dynamic\"\n[child.template]\n"
                   "command = [\"sleep\", \"1000\"]\nreadiness = \"notify-fd\"\nstart_timeout = 60000\n");
    auto jobs = t.child("jobs").pid;
    std::string said;
    std::thread adder([&] { said = ask(t.run, {"ADD", "jobs", "never"}, 20000ms); });
    REQUIRE(eventually([&] { return tree_status(t.run).count("jobs/never") > 0; }));
    auto child = t.child("jobs/never").pid;
    REQUIRE(kill(jobs, SIGKILL) == 0);
    adder.join();
    CHECK(said.find("ended before it answered") != std::string::npos);
    CHECK(restarted(t.run, "jobs", jobs, 10000ms));
    CHECK(eventually([&] { return !alive(child); }));  // what it ran went with it
    CHECK(children_of(t.run).empty());                  // and it came back empty
}
