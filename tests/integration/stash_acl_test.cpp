// The stash's access control (a tree's stash_acl): each child logs in as
// its own user with the password the supervisor gave it, and touches only
// its own keys and those its stash_keys grant, through a real client
// (redis-py); the rest is NOPERM, a wrong password WRONGPASS, and no
// password shows up in a log or in status.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "client.hpp"
#include "harness.hpp"

using namespace seqtest;

namespace {

// What a child tries on the stash, each said on a line: "NAME WHAT ok
// RESULT" or "NAME WHAT refused ERROR-CLASS MESSAGE".
const char* const acl_probe = R"(import os, sys, redis
name, other = sys.argv[1], sys.argv[2]
me = os.environ['SEQ_STASH_USER']
r = redis.from_url(os.environ['SEQ_STASH_URL'])
def attempt(what, f):
    try:
        print(name, what, 'ok', f(), flush=True)
    except redis.exceptions.RedisError as e:
        print(name, what, 'refused', type(e).__name__, str(e)[:40], flush=True)
attempt('own', lambda: (r.set(me + ':x', name), r.get(me + ':x').decode())[1])
attempt('other', lambda: r.set(other + ':x', name))
attempt('sequence', lambda: r.set('sequence', '0'))
attempt('shared', lambda: r.set('shared:k', name))
attempt('keys', lambda: ','.join(sorted(k.decode() for k in r.keys('*'))))
attempt('scan', lambda: ','.join(sorted(k.decode() for k in r.scan_iter())))
attempt('flush', lambda: r.flushall())
wrong = redis.Redis(unix_socket_path=os.environ['SEQ_STASH'], username=me, password='not-' + os.environ['SEQ_STASH_PASSWORD'])
attempt('wrong password', lambda: wrong.ping())
attempt('no password', lambda: redis.Redis(unix_socket_path=os.environ['SEQ_STASH']).get(me + ':x'))
print(name, 'done', flush=True)
os.execv('/bin/sleep', ['sleep', '1000'])
)";

std::string probe(const std::string& name, const std::string& script, const std::string& other,
                  const std::string& more = "", const std::string& indent = "") {
    return indent + "name = \"" + name + "\"\n" + indent + "command = [\"/usr/bin/python3\", \"" + script + "\", \"" +
           name + "\", \"" + other + "\"]\n" + more;
}

std::string environ_of(pid_t pid, const std::string& key) {
    auto env = slurp("/proc/" + std::to_string(pid) + "/environ");
    auto at = env.find(key + "=");
    if (at == std::string::npos) return "";
    at += key.size() + 1;
    return env.substr(at, env.find('\0', at) - at);
}

}  // namespace

TEST_CASE("stash_acl: redis-py reads and writes its own keys and its stash_keys, gets NOPERM on another child's and on the worker's sequence, a wrong password is refused, and no password is logged") {
    if (sh("/usr/bin/python3 -c 'import redis' 2>/dev/null").code != 0)
        FAIL("redis-py is missing: scripts/test installs Debian's python3-redis");
    TempDir dir;
    std::ofstream(dir / "probe.py") << acl_probe;
    auto script = dir / "probe.py";
    TreeSup t(dir,
              "stash = \"stash\"\n"
              "[[child]]\nname = \"stash\"\ncommand = [\"seq-stash\"]\nreadiness = \"notify-fd\"\nsockets = [\"stash\"]\n"
              "[[child]]\nname = \"worker\"\ncommand = [\"seq-worker\"]\nreadiness = \"notify-fd\"\n"
              "sockets = [{ name = \"worker\", path = \"sequence.sock\" }]\nstash_keys = [\"sequence\"]\n"
              "[[child]]\n" + probe("a", script, "b", "stash_keys = [\"shared:*\"]\n") +
              "[[child]]\n" + probe("b", script, "a") +
              "[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
              "  [[child.child]]\n" + probe("x", script, "a", "", "  "),
              true, {}, python_starts);
    INFO(t.proc->log());
    REQUIRE(log_has(t, "a done", python_starts));
    REQUIRE(log_has(t, "b done", python_starts));
    REQUIRE(log_has(t, "x done", python_starts));
    auto worker = t.run + "/sequence.sock";
    CHECK(call_int(worker, {"NEXT"}) == 0);

    // Its own keys, and what stash_keys grants.
    CHECK(log_has(t, "a own ok a"));
    CHECK(log_has(t, "a shared ok True"));
    CHECK(log_has(t, "a keys ok a:x,shared:k"));
    CHECK(log_has(t, "a scan ok a:x,shared:k"));
    CHECK(log_has(t, "b own ok b"));
    CHECK(log_has(t, "b keys ok b:x"));
    // A nested supervisor's child: its user is its path.
    CHECK(log_has(t, "x own ok x"));
    CHECK(log_has(t, "x keys ok jobs/x:x"));
    // Nothing else: another child's keys, the worker's number, the whole store.
    for (auto who : {"a", "b", "x"}) {
        CAPTURE(who);
        CHECK(log_has(t, std::string(who) + " other refused NoPermissionError"));
        CHECK(log_has(t, std::string(who) + " sequence refused NoPermissionError"));
        CHECK(log_has(t, std::string(who) + " flush refused NoPermissionError"));
        // redis-py 4 names no class for WRONGPASS: Redis 7 gets the same.
        CHECK(log_has(t, std::string(who) + " wrong password refused ResponseError WRONGPASS invalid username-password"));
        CHECK(log_has(t, std::string(who) + " no password refused AuthenticationError"));
    }
    CHECK(log_has(t, "b shared refused NoPermissionError"));
    // The number is the worker's alone: no child moved it.
    CHECK(call_int(worker, {"NEXT"}) == 1);
    CHECK(call(t.run + "/stash.sock", {"GET", "sequence"}).str == "2");
    CHECK(call(t.run + "/stash.sock", {"GET", "b:x"}).str == "b");
    CHECK(call(t.run + "/stash.sock", {"GET", "a:x"}).str == "a");

    // HELLO 3 AUTH logs in as AUTH does; a wrong pair changes nothing.
    auto a = t.child("a").pid;
    // "done" is said just before its exec of sleep, and while an exec is
    // under way /proc/PID/environ reads empty: read it once sleep runs.
    for (auto who : {"a", "b", "jobs/x"})
        REQUIRE(eventually([&] { return slurp("/proc/" + std::to_string(t.child(who).pid) + "/comm") == "sleep\n"; }));
    auto user = environ_of(a, "SEQ_STASH_USER"), password = environ_of(a, "SEQ_STASH_PASSWORD");
    CHECK(user == "a");
    REQUIRE(password.size() == 32);
    CHECK(environ_of(a, "SEQ_STASH_URL") == "unix://a:" + password + "@" + t.run + "/stash.sock");
    CHECK(environ_of(t.child("jobs/x").pid, "SEQ_STASH_URL").starts_with("unix://jobs%2Fx:"));
    {
        seq::Client c(t.run + "/stash.sock", 5000ms);
        CHECK(c.call({"GET", "a:x"}).str.starts_with("NOAUTH"));
        CHECK(c.call({"HELLO", "3", "AUTH", "a", "wrong"}).str.starts_with("WRONGPASS"));
        CHECK(c.call({"HELLO", "3", "AUTH", "b", password}).str.starts_with("WRONGPASS"));
        CHECK(c.call({"HELLO", "3", "AUTH", "a", password}).type == seq::resp::Value::Type::array);  // a map, as RESP3 has it
        CHECK(c.call({"GET", "a:x"}).str == "a");
        CHECK(c.call({"SET", "b:x", "a"}).str.starts_with("NOPERM"));
        // A transaction with a refused command runs none of it.
        CHECK(c.call({"MULTI"}).str == "OK");
        CHECK(c.call({"SET", "a:x", "changed"}).str == "QUEUED");
        CHECK(c.call({"GET", "b:x"}).str.starts_with("NOPERM"));
        CHECK(c.call({"EXEC"}).str.starts_with("EXECABORT"));
        CHECK(c.call({"GET", "a:x"}).str == "a");
        CHECK(c.call({"MGET", "a:x", "b:x"}).str.starts_with("NOPERM"));
        CHECK(c.call({"RESET"}).str == "RESET");
        CHECK(c.call({"GET", "a:x"}).str.starts_with("NOAUTH"));
    }
    // The operator's password is in the run dir, for the supervisor's user alone.
    auto op = operator_password(t.run);
    REQUIRE(op.size() == 32);
    {
        seq::Client c(t.run + "/stash.sock", 5000ms);
        CHECK(c.call({"AUTH", "wrong"}).str.starts_with("WRONGPASS"));
        CHECK(c.call({"AUTH", op}).str == "OK");
        CHECK(c.call({"GET", "b:x"}).str == "b");
    }
    // No password in the supervisor's log, status, or its JSON.
    auto status = sh(bin("seqctl") + " --run-dir " + t.run + " status").out + sh(bin("seqctl") + " --run-dir " + t.run + " status --json").out;
    for (auto& secret : {password, op, environ_of(t.child("b").pid, "SEQ_STASH_PASSWORD")}) {
        REQUIRE(secret.size() == 32);
        CHECK(t.proc->log().find(secret) == std::string::npos);
        CHECK(status.find(secret) == std::string::npos);
    }
}

TEST_CASE("stash_acl = false keeps the stash open, and a reload may not turn it on") {
    TempDir dir;
    TreeSup t(dir, "stash = \"stash\"\nstash_acl = false\n"
                   "[[child]]\nname = \"stash\"\ncommand = [\"seq-stash\"]\nreadiness = \"notify-fd\"\nsockets = [\"stash\"]\n" +
                       sh_child("app", "echo user=${SEQ_STASH_USER:-none} acl=${SEQ_STASH_ACL:-none}; exec sleep 1000"));
    INFO(t.proc->log());
    CHECK(log_has(t, "user=none acl=none"));
    CHECK(operator_password(t.run).empty());
    seq::Client c(t.run + "/stash.sock", 5000ms);
    CHECK(c.call({"SET", "sequence", "7"}).str == "OK");
    std::ofstream(t.file) << "stash = \"stash\"\n"
                             "[[child]]\nname = \"stash\"\ncommand = [\"seq-stash\"]\nreadiness = \"notify-fd\"\nsockets = [\"stash\"]\n" +
                                 sh_child("app", "exec sleep 1000");
    auto r = sh(bin("seqctl") + " --run-dir " + t.run + " reload 2>&1");
    CHECK(r.code != 0);
    CHECK(r.out.find("stash_acl cannot change at a reload (it is off for this run)") != std::string::npos);
    CHECK(c.call({"GET", "sequence"}).str == "7");
}

TEST_CASE("stash_acl: a child removed by a reload is no longer a user, and the stash closes what it left logged in") {
    TempDir dir;
    const std::string top = "stash = \"stash\"\n"
                            "[[child]]\nname = \"stash\"\ncommand = [\"seq-stash\"]\nreadiness = \"notify-fd\"\n"
                            "sockets = [\"stash\"]\n" + sh_child("a", "exec sleep 1000");
    TreeSup t(dir, top + sh_child("b", "exec sleep 1000"));
    INFO(t.proc->log());
    auto b = t.child("b").pid;
    std::string password;
    REQUIRE(eventually([&] { return (password = environ_of(b, "SEQ_STASH_PASSWORD")).size() == 32; }));
    seq::Client in(t.run + "/stash.sock", 5000ms);
    REQUIRE(in.call({"AUTH", "b", password}).str == "OK");
    CHECK(in.call({"SET", "b:k", "1"}).str == "OK");
    std::ofstream(t.file) << top;
    REQUIRE(sh(bin("seqctl") + " --run-dir " + t.run + " reload").code == 0);
    REQUIRE(eventually([&] { return !alive(b); }));
    CHECK(eventually([&] {
        try {
            in.call({"GET", "b:k"});
            return false;
        } catch (const std::exception&) {
            return true;  // closed
        }
    }));
    CHECK(log_has(t, "ACL: user b is gone: closing its connection"));
    seq::Client again(t.run + "/stash.sock", 5000ms);
    CHECK(again.call({"AUTH", "b", password}).str.starts_with("WRONGPASS"));
    CHECK(call(t.run + "/stash.sock", {"GET", "b:k"}).str == "1");  // its keys stay, for the operator
}
