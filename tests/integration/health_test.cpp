// Health probes: a child alive but failing its HTTP, TCP or command probe
// `failures` times in a row is ended as a failure and restarted with the
// reason; readiness = "health" makes a child ready at its first pass.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

Shell seqctl(const TreeSup& t, const std::string& args) {
    return sh(bin("seqctl") + " --run-dir " + t.run + " --timeout 20000 " + args + " 2>&1");
}

bool maps_curl(pid_t pid) { return slurp("/proc/" + std::to_string(pid) + "/maps").find("libcurl") != std::string::npos; }

// An HTTP server on 127.0.0.1:port answering every GET with 200, or with
// 500 once the file `broken` is beside it.
void write_web(const TempDir& dir) {
    std::ofstream(dir / "web.py")
        << "import http.server, os, sys\n"
           "here = os.path.dirname(os.path.abspath(__file__))\n"
           "class H(http.server.BaseHTTPRequestHandler):\n"
           "    def do_GET(self):\n"
           "        self.send_response(500 if os.path.exists(os.path.join(here, 'broken')) else 200)\n"
           "        self.end_headers()\n"
           "    def log_message(self, *a): pass\n"
           "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n";
}

}  // namespace

TEST_CASE("health: an HTTP server that starts answering 500 is restarted, with the reason, and counted so") {
    TempDir dir;
    write_web(dir);
    const auto port = std::to_string(free_port());
    TreeSup t(dir,
              "max_restarts = 10\nhttp = \"127.0.0.1:0\"\n"
              "[[child]]\nname = \"web\"\ncommand = [\"/usr/bin/python3\", \"web.py\", \"" + port + "\"]\n"
              "readiness = \"health\"\n"
              "health = { http = \"http://127.0.0.1:" + port + "/healthz\", interval = 100, timeout = 1000, failures = 3 }\n",
              true, {}, 10000ms);
    INFO(t.proc->log());
    const auto first = pid_of(t.run, "web");
    REQUIRE(log_has(t, "web ready (pid " + std::to_string(first) + ")"));
    std::ofstream(dir / "broken") << "";
    // Three failures in a row, 100 ms apart: it is ended and restarted.
    REQUIRE(log_has(t, "web (pid " + std::to_string(first) + ") health check failed (3 of 3 in a row): HTTP 500"));
    REQUIRE(log_has(t, "web (pid " + std::to_string(first) + ") health check failed: HTTP 500; stopping it"));
    CHECK(eventually([&] { return seqctl(t, "events web").out.find(" unhealthy web (pid " + std::to_string(first) +
                                                                  "): health check failed: HTTP 500 [health]") !=
                                  std::string::npos; }));
    auto why = seqctl(t, "why web");
    INFO(why.out);
    CHECK(why.out.find("health check failed: HTTP 500, killed by SIGTERM") != std::string::npos);
    // Its new process is not ready while it answers 500; once it answers 200, it is.
    REQUIRE(eventually([&] { return t.child("web").pid != first && t.child("web").pid != 0; }));
    const auto second = t.child("web").pid;
    CHECK(log_has(t, "web (pid " + std::to_string(first) + ") health check failed: HTTP 500, killed by SIGTERM"));
    CHECK(t.child("web").state == "starting");
    CHECK(seqctl(t, "events web").out.find(" ready web (pid " + std::to_string(second) + ")") == std::string::npos);
    std::remove((dir / "broken").c_str());
    CHECK(eventually([&] { return t.child("web").state == "running" && t.child("web").pid != first; }, 10000ms));
    // libcurl is loaded where an HTTP probe is, and only there (below).
    CHECK(maps_curl(t.proc->pid()));
    // Counted as its own reason.
    auto metrics = http_get(http_of(t), "/metrics");
    INFO(metrics.body);
    CHECK(metrics.body.find("seq_child_deaths_total{path=\"web\",reason=\"health\"} 1\n") != std::string::npos);
}

TEST_CASE("health: a TCP probe on a port nobody listens on fails, and the child is restarted with the connect error") {
    TempDir dir;
    const auto port = std::to_string(free_port());
    TreeSup t(dir,
              "max_restarts = 10\n"
              "[[child]]\nname = \"db\"\ncommand = [\"/bin/sleep\", \"1000\"]\n"
              "health = { tcp = \"127.0.0.1:" + port + "\", interval = 50, failures = 2 }\n");
    INFO(t.proc->log());
    const auto first = pid_of(t.run, "db");
    const std::string why = "connect to 127.0.0.1:" + port + ": connection refused";
    REQUIRE(log_has(t, "db (pid " + std::to_string(first) + ") health check failed (1 of 2 in a row): " + why));
    REQUIRE(restarted(t.run, "db", first));
    auto out = seqctl(t, "why db").out;
    INFO(out);
    CHECK(out.find("health check failed: " + why + ", killed by SIGTERM") != std::string::npos);
    CHECK_FALSE(maps_curl(t.proc->pid()));
}

TEST_CASE("health: readiness = \"health\" makes a child ready at its first passing probe, and the next child starts only then") {
    TempDir dir;
    // `a` is up once it has made the file `up`, half a second after its
    // start; its probe, a command, passes once the file is there.
    TreeSup t(dir,
              "[[child]]\nname = \"a\"\ncommand = [\"/bin/sh\", \"-c\", \"sleep 0.5; touch up; exec sleep 1000\"]\n"
              "readiness = \"health\"\nhealth = { command = [\"/bin/test\", \"-e\", \"up\"], interval = 5000 }\n"
              "[[child]]\nname = \"b\"\ncommand = [\"/bin/sleep\", \"1000\"]\n",
              true, {}, 10000ms);
    INFO(t.proc->log());
    auto out = seqctl(t, "events -n 100").out;
    INFO(out);
    auto a_ready = out.find(" ready a (pid ");
    auto b_started = out.find(" started b (pid ");
    REQUIRE(a_ready != std::string::npos);
    REQUIRE(b_started != std::string::npos);
    CHECK(a_ready < b_started);
    // Ready once the file was there: not before its half second, and well
    // before the 5 s interval (a starting child is probed sooner).
    auto ms = std::stoll(out.substr(out.find(" in ", a_ready) + 4));
    CHECK(ms >= 500);
    CHECK(ms < 4000);
}

TEST_CASE("health in a tree file: each mistake named, and readiness = \"health\" without a probe") {
    TempDir dir;
    std::ofstream(dir / "t.toml")
        << "[[child]]\nname = \"a\"\ncommand = [\"/bin/true\"]\nhealth = { http = \"ftp://x\", interval = 1 }\n"
           "[[child]]\nname = \"b\"\ncommand = [\"/bin/true\"]\nhealth = { tcp = \"localhost:80\" }\n"
           "[[child]]\nname = \"c\"\ncommand = [\"/bin/true\"]\nhealth = { tcp = \"127.0.0.1:1\", command = [\"/bin/true\"] }\n"
           "[[child]]\nname = \"d\"\ncommand = [\"/bin/true\"]\nreadiness = \"health\"\n"
           "[[child]]\nname = \"e\"\ncommand = [\"/bin/true\"]\nhealth = { command = [\"./nope\"], failures = 0, every = 3 }\n"
           "[[child]]\nname = \"f\"\ncommand = [\"/bin/true\"]\ninstances = 2\nhealth = { http = \"http://127.0.0.1:1/\" }\n"
           "[[child]]\nname = \"g\"\ncommand = [\"/bin/true\"]\nreadiness = \"health\"\nupdate = \"rolling\"\n"
           "health = { command = [\"/bin/true\"] }\n"
           "[[child]]\nname = \"h\"\ncommand = [\"/bin/true\"]\nsockets = [{ name = \"web\", listen = \"127.0.0.1:18931\" }]\n"
           "health = { tcp = \"127.0.0.1:18931\" }\n";
    auto r = sh(bin("seq-supervisor") + " --check " + (dir / "t.toml") + " 2>&1");
    INFO(r.out);
    CHECK(r.code == 2);
    CHECK(r.out.find("child \"a\", key \"health.http\": \"ftp://x\" is not an http:// or https:// URL") != std::string::npos);
    CHECK(r.out.find("child \"a\", key \"health.interval\": 1 is out of range (10 to 86400000)") != std::string::npos);
    CHECK(r.out.find("child \"b\", key \"health.tcp\": \"localhost:80\": ") != std::string::npos);
    CHECK(r.out.find("child \"c\", key \"health\": one probe only: http, tcp or command") != std::string::npos);
    CHECK(r.out.find("child \"d\", key \"readiness\": \"health\" needs a health table") != std::string::npos);
    CHECK(r.out.find("child \"e\", key \"health.command\": program \"./nope\": not found") != std::string::npos);
    CHECK(r.out.find("child \"e\", key \"health.failures\": 0 is out of range (1 to 1000)") != std::string::npos);
    CHECK(r.out.find("child \"e\", key \"health.every\": unknown key") != std::string::npos);
    // Where the probe would reach another process than the one probed, or
    // a socket the supervisor holds, which always takes a connect.
    CHECK(r.out.find("child \"f\", key \"health\": an http or tcp probe of a pool reaches any of its instances") !=
          std::string::npos);
    CHECK(r.out.find("child \"g\", key \"readiness\": \"health\" with update = \"rolling\": the old instance would "
                     "answer the new one's probe") != std::string::npos);
    CHECK(r.out.find("child \"h\", key \"health.tcp\": \"127.0.0.1:18931\": that is socket \"web\", which the "
                     "supervisor holds") != std::string::npos);
}
