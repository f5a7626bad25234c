// The supervisor's read-only HTTP listener: /metrics as promtool reads it,
// with the figures a kill -9 changes, /readyz and /livez as a probe sees
// them, and hostile clients that leave supervision and /metrics as they were.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "fd.hpp"
#include "harness.hpp"

using namespace seqtest;

namespace {

// A connection to `address` (HOST:PORT), from the loopback address `from`:
// the listener counts connections per address.
seq::Fd dial(const std::string& address, const char* from = "127.0.0.1") {
    auto colon = address.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
    seq::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    inet_pton(AF_INET, from, &source.sin_addr);
    REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&source), sizeof source) == 0);
    REQUIRE(connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    return fd;
}

// Sends `bytes` on `fd` and reads what comes back until the server closes,
// or `wait_ms` pass with nothing.
std::string exchange(const seq::Fd& fd, const std::string& bytes, int wait_ms) {
    if (send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) return "";
    std::string got;
    char buf[4096];
    pollfd p{fd.get(), POLLIN, 0};
    while (poll(&p, 1, wait_ms) > 0) {
        auto n = read(fd.get(), buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
}

// The same on a fresh connection.
std::string raw(const std::string& address, const std::string& bytes, int wait_ms = 3000, const char* from = "127.0.0.1") {
    return exchange(dial(address, from), bytes, wait_ms);
}

// A GET of `path` over the Unix socket at `socket`.
std::string unix_get(const std::string& socket, const std::string& path) {
    seq::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    REQUIRE(socket.size() < sizeof sa.sun_path);
    std::memcpy(sa.sun_path, socket.c_str(), socket.size() + 1);
    REQUIRE(connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    return exchange(fd, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000);
}

// Whether process `pid` has libmicrohttpd mapped.
bool maps_microhttpd(pid_t pid) { return slurp("/proc/" + std::to_string(pid) + "/maps").find("libmicrohttpd") != std::string::npos; }

std::string metric(const std::string& body, const std::string& name_and_labels) {
    for (auto& line : lines_of(body))
        if (line.starts_with(name_and_labels + " ")) return line.substr(name_and_labels.size() + 1);
    return "(none)";
}

const char* const three_levels =
    "http = \"127.0.0.1:0\"\n"
    "max_restarts = 10\n"
    "[[child]]\nname = \"a\"\ncommand = [\"/bin/sleep\", \"1000\"]\n"
    "[[child]]\nname = \"web\"\ncommand = [\"/bin/sleep\", \"1000\"]\ninstances = 2\n"
    "[[child]]\nname = \"mid\"\ntype = \"supervisor\"\nmax_restarts = 10\n"
    "  [[child.child]]\n  name = \"low\"\n  type = \"supervisor\"\n  max_restarts = 10\n"
    "    [[child.child.child]]\n    name = \"leaf\"\n    command = [\"/bin/sleep\", \"1000\"]\n";

}  // namespace

TEST_CASE("http: /metrics of a 3-level tree passes promtool, and two kill -9 of a leaf make its restarts_total and deaths_total by signal 2") {
    if (sh("command -v promtool >/dev/null").code != 0) FAIL("promtool is missing: scripts/test installs Debian's prometheus");
    TempDir dir;
    TreeSup t(dir, three_levels);
    INFO(t.proc->log());
    auto http = http_of(t);
    REQUIRE_FALSE(http.empty());
    for (int i = 0; i < 2; ++i) {
        auto leaf = pid_of(t.run, "mid/low/leaf");
        REQUIRE(kill(leaf, SIGKILL) == 0);
        REQUIRE(restarted(t.run, "mid/low/leaf", leaf));
    }
    std::string body;
    REQUIRE(eventually([&] {
        auto r = http_get(http, "/metrics");
        body = r.body;
        // (CPU and memory are read at most once a second: the new leaf's may lag.)
        return r.status == 200 && metric(body, "seq_child_restarts_total{path=\"mid/low/leaf\"}") == "2" &&
               metric(body, "seq_child_deaths_total{path=\"mid/low/leaf\",reason=\"signal\"}") == "2" &&
               metric(body, "seq_child_ready_seconds_count{path=\"mid/low/leaf\"}") == "3" &&
               metric(body, "seq_child_cpu_seconds_total{path=\"mid/low/leaf\"}") != "(none)";
    }));
    INFO(body);
    std::ofstream(dir / "scrape.txt") << body;
    auto check = sh("promtool check metrics < " + dir / "scrape.txt" + " 2>&1");
    CHECK(check.code == 0);
    CHECK(check.out == "");
    CHECK(metric(body, "seq_child_up{path=\"mid/low/leaf\"}") == "1");
    CHECK(metric(body, "seq_child_ready_seconds_bucket{path=\"mid/low/leaf\",le=\"+Inf\"}") == "3");
    CHECK(metric(body, "seq_child_ready_seconds_count{path=\"mid/low\"}") == "1");
    CHECK(metric(body, "seq_child_up{path=\"mid/low\"}") == "1");
    CHECK(metric(body, "seq_child_restarts_total{path=\"a\"}") == "0");
    CHECK(metric(body, "seq_child_deaths_total{path=\"a\",reason=\"signal\"}") == "(none)");
    CHECK(metric(body, "seq_child_up{path=\"web\",instance=\"1\"}") == "1");
    CHECK(metric(body, "seq_supervisor_max_restarts{path=\"/\"}") == "10");
    CHECK(metric(body, "seq_supervisor_restarts_in_window{path=\"mid/low\"}") == "2");
    CHECK(metric(body, "seq_child_memory_bytes{path=\"a\"}") != "(none)");
    CHECK(metric(body, "seq_child_cpu_seconds_total{path=\"mid/low/leaf\"}") != "(none)");
    // Read-only: a POST acts on nothing, and says so.
    auto post = raw(http, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    CHECK(post.starts_with("HTTP/1.1 405"));
    CHECK(post.find("Allow: GET, HEAD") != std::string::npos);
    CHECK(http_get(http, "/nothing").status == 404);
    // Answered on a connection that is kept (a scraper's).
    KeptAlive kept(http);
    auto first = kept.get("/metrics");
    auto second = kept.get("/readyz");
    CHECK(first.http.status == 200);
    CHECK(second.http.status == 200);
    CHECK(second.reused);
    CHECK_FALSE(second.retried);
}

TEST_CASE("http: /metrics has the stash's keys, commands and commit times and the worker's NEXT served, and passes promtool") {
    if (sh("command -v promtool >/dev/null").code != 0) FAIL("promtool is missing: scripts/test installs Debian's prometheus");
    TempDir dir;
    Process sup({bin("seq-supervisor"), "--run-dir", dir / "run", "--data-dir", dir / "data", "--http", "127.0.0.1:0"},
                dir / "sup.log");
    INFO(slurp(dir / "sup.log"));
    REQUIRE(tree_running(dir / "run"));
    std::string http;
    REQUIRE(eventually([&] {
        auto log = slurp(dir / "sup.log");
        auto at = log.find("readyz on ");
        if (at == std::string::npos) return false;
        http = log.substr(at + 10, log.find('\n', at) - at - 10);
        return true;
    }));
    for (int i = 0; i < 5; ++i) CHECK(call_int(dir / "run/sequence.sock", {"NEXT"}) == i);
    // In a transaction: counted once EXEC hands the number out, not when
    // queued; a discarded one hands out nothing.
    {
        seq::Client c(dir / "run/sequence.sock");
        c.call({"MULTI"});
        c.call({"NEXT"});
        c.call({"EXEC"});
        c.call({"MULTI"});
        c.call({"NEXT"});
        c.call({"DISCARD"});
        CHECK(c.call({"GET"}).integer == 6);
    }
    std::string body;
    // Asked every 2 s: the figures follow within a few seconds.
    REQUIRE(eventually([&] {
        body = http_get(http, "/metrics").body;
        return metric(body, "seq_worker_next_total{path=\"worker\"}") == "6";
    }, 10000ms));
    INFO(body);
    CHECK(metric(body, "seq_stash_keys{path=\"stash\"}") == "1");
    CHECK(metric(body, "seq_stash_commands_total{path=\"stash\",command=\"set\"}") != "(none)");
    CHECK(metric(body, "seq_stash_commit_seconds_count{path=\"stash\"}") != "(none)");
    CHECK(metric(body, "seq_stash_commit_seconds_bucket{path=\"stash\",le=\"+Inf\"}") ==
          metric(body, "seq_stash_commit_seconds_count{path=\"stash\"}"));
    std::ofstream(dir / "scrape.txt") << body;
    auto check = sh("promtool check metrics < " + dir / "scrape.txt" + " 2>&1");
    CHECK(check.code == 0);
    CHECK(check.out == "");
    // A stash that does not answer holds up no scrape: its INFO waits
    // within its own deadline, off the path of /metrics (its watchdog may
    // replace it meanwhile); then its figures are there again.
    const auto stash = pid_of(dir / "run", "stash");
    REQUIRE(kill(stash, SIGSTOP) == 0);
    const auto stopped = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - stopped < 3s) {
        const auto asked = std::chrono::steady_clock::now();
        auto r = http_get(http, "/metrics", 2000ms);
        REQUIRE(r.status == 200);
        CHECK(std::chrono::steady_clock::now() - asked < 500ms);
    }
    kill(stash, SIGCONT);
    CHECK(eventually([&] { return metric(http_get(http, "/metrics").body, "seq_stash_keys{path=\"stash\"}") == "1"; },
                     10000ms));
}

TEST_CASE("http: /readyz is 503 naming a child that backs off, and 200 once it is back, /livez stays 200") {
    TempDir dir;
    TreeSup t(dir, "http = \"127.0.0.1:0\"\n"
                   "[[child]]\nname = \"a\"\ncommand = [\"/bin/sleep\", \"1000\"]\n"
                   "[[child]]\nname = \"slow\"\ncommand = [\"/bin/sleep\", \"1000\"]\nbackoff = { initial = 1500 }\n");
    INFO(t.proc->log());
    auto http = http_of(t);
    REQUIRE_FALSE(http.empty());
    CHECK(eventually([&] { return http_get(http, "/readyz").status == 200; }));
    CHECK(http_get(http, "/readyz").body == "ready\n");
    auto slow = pid_of(t.run, "slow");
    REQUIRE(kill(slow, SIGKILL) == 0);
    HttpResult r;
    REQUIRE(eventually([&] { return (r = http_get(http, "/readyz")).status == 503; }));
    CHECK(r.body.find("slow: ") != std::string::npos);
    CHECK(http_get(http, "/livez").status == 200);
    CHECK(eventually([&] { return http_get(http, "/readyz").status == 200; }));
    CHECK(restarted(t.run, "slow", slow));
}

TEST_CASE("http: 300 malformed or hostile requests, idle connections and a slowloris client leave supervision, and then /metrics, as they were") {
    TempDir dir;
    TreeSup t(dir, "http = \"127.0.0.1:0\"\nmax_restarts = 10\n[[child]]\nname = \"a\"\ncommand = [\"/bin/sleep\", \"1000\"]\n");
    INFO(t.proc->log());
    auto http = http_of(t);
    REQUIRE_FALSE(http.empty());
    // What libmicrohttpd answers to each: a status, or "" where it closes
    // (no request line at all) or waits for the rest (then its idle timeout).
    const std::vector<std::pair<std::string, std::string>> hostile = {
        {"GARBAGE\r\n\r\n", ""},
        {"GET /metrics HTTP/9.9\r\n\r\n", "HTTP/1.1 505"},
        {"GET " + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 414"},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n", "HTTP/1.1 431"},
        // Headers of about 8 KiB are taken; 10,000 bytes are not.
        {"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'b') + "\r\n\r\n", "HTTP/1.1 200"},
        {"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'b') + "\r\n\r\n", "HTTP/1.1 431"},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "HTTP/1.1 400"},
        {"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 405"},
        {"PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 405"},
        {std::string("\0\1\2\3\r\n\r\n", 8), ""},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HTTP/1.1 400"},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n" + std::string(3000, '\n'), "HTTP/1.1 200"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", "HTTP/1.1 413"},
        // A chunked body past the bound: the connection is closed, no reply.
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8000\r\n" + std::string(0x8000, 'x') +
             "\r\n",
         ""},
    };
    for (int i = 0; i < 300; ++i) {
        auto& [request, expected] = hostile[static_cast<std::size_t>(i) % hostile.size()];
        auto got = raw(http, request, 200);
        if (i < static_cast<int>(hostile.size())) {
            CAPTURE(i);
            CHECK(got.substr(0, expected.size()) == expected);
        }
    }
    // 100 idle connections from one address, and a client elsewhere that
    // sends its request a byte at a time: one address holds at most 32 of
    // the 64 slots, so a scraper at a third is still answered.
    std::vector<seq::Fd> idle;
    for (int i = 0; i < 100; ++i) idle.push_back(dial(http));
    auto slow = dial(http, "127.0.0.3");
    for (char c : std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n"))
        REQUIRE(send(slow.get(), &c, 1, MSG_NOSIGNAL) == 1);
    auto a = pid_of(t.run, "a");
    REQUIRE(kill(a, SIGKILL) == 0);
    CHECK(restarted(t.run, "a", a));
    auto scrape = raw(http, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000, "127.0.0.2");
    CHECK(scrape.starts_with("HTTP/1.1 200"));
    CHECK(scrape.find("seq_child_restarts_total{path=\"a\"} 1\n") != std::string::npos);
    CHECK(t.proc->running());
    // What libmicrohttpd says of all this is bounded in the log: ten lines
    // a minute, then a count (the test takes under two minutes; unbounded,
    // it would be hundreds).
    int said = 0;
    for (auto& line : lines_of(t.proc->log()))
        if (line.find(" http: ") != std::string::npos && line.find("/metrics, /livez") == std::string::npos) ++said;
    CHECK(said >= 10);
    CHECK(said <= 22);
    // Their slots come back as the listener sees them close.
    idle.clear();
    CHECK(eventually([&] { return http_get(http, "/metrics").status == 200; }));
}

TEST_CASE("http: at 64 connections one more is closed at once, and once they all close at the same time the listener answers again") {
    TempDir dir;
    TreeSup t(dir, "http = \"127.0.0.1:0\"\n[[child]]\nname = \"a\"\ncommand = [\"/bin/sleep\", \"1000\"]\n");
    INFO(t.proc->log());
    auto http = http_of(t);
    REQUIRE_FALSE(http.empty());
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        // 32 from each of two addresses: the bound, per address and in all.
        std::vector<seq::Fd> held;
        for (int i = 0; i < 64; ++i) held.push_back(dial(http, i % 2 ? "127.0.0.4" : "127.0.0.5"));
        // Each one taken: a request on the last one is answered.
        CHECK(exchange(held.back(), "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", 500).starts_with("HTTP/1.1 200"));
        // The 65th, from an address of its own, is closed without a reply
        // (not left waiting in the backlog).
        CHECK(raw(http, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", 5000, "127.0.0.6") == "");
        // All of them gone at once: libmicrohttpd sweeps them in one run.
        held.clear();
        CHECK(eventually([&] { return http_get(http, "/livez", 1000ms).status == 200; }, 3000ms));
    }
    CHECK(t.proc->running());
}

TEST_CASE("http: --http names a Unix socket in the run dir, not open to others, and a reload keeps it, and only the supervisor serving HTTP loads libmicrohttpd") {
    TempDir dir;
    TreeSup t(dir,
              "max_restarts = 10\n[[child]]\nname = \"a\"\ncommand = [\"/bin/sleep\", \"1000\"]\n"
              "[[child]]\nname = \"mid\"\ntype = \"supervisor\"\n"
              "  [[child.child]]\n  name = \"leaf\"\n  command = [\"/bin/sleep\", \"1000\"]\n",
              true, {}, 5000ms, {"--http", "http.sock"});
    INFO(t.proc->log());
    auto socket = t.run + "/http.sock";
    REQUIRE(log_has(t, "http: /metrics, /livez and /readyz on " + socket));
    struct stat st{};
    REQUIRE(stat(socket.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 077) == 0);
    auto reply = unix_get(socket, "/metrics");
    CHECK(reply.starts_with("HTTP/1.1 200"));
    CHECK(reply.find("seq_child_up{path=\"mid/leaf\"} 1\n") != std::string::npos);
    // The file has no http key, the flag does: a reload keeps the flag's.
    auto reload = sh(bin("seqctl") + " --run-dir " + t.run + " --timeout 20000 reload 2>&1");
    CHECK(reload.code == 0);
    CHECK(unix_get(socket, "/livez").starts_with("HTTP/1.1 200"));
    // GnuTLS and its kin come with libmicrohttpd: the nested supervisor,
    // which serves nothing, never loads them.
    CHECK(maps_microhttpd(t.proc->pid()));
    CHECK_FALSE(maps_microhttpd(pid_of(t.run, "mid")));
    // Gone with the supervisor.
    t.proc->signal(SIGTERM);
    CHECK(t.proc->exit_code(10000ms) == 0);
    CHECK(access(socket.c_str(), F_OK) != 0);
}

TEST_CASE("http: --print-config shows --http as the tree's http key, and a bad --http is refused, naming it") {
    auto shown = sh(bin("seq-supervisor") + " --print-config --http 9321");
    CHECK(shown.code == 0);
    CHECK(shown.out.find("\nhttp = \"127.0.0.1:9321\"\n") != std::string::npos);
    auto bad = sh(bin("seq-supervisor") + " --http 127.0.0.1:notaport 2>&1");
    CHECK(bad.code == 2);
    CHECK(bad.out.find("--http") != std::string::npos);
}
