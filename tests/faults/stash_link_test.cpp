// The worker's link to its stash has a connect deadline. A stash whose
// accept is paused (out of fds, with no client of its own to wake it) or
// that is stuck leaves the worker's connection in its backlog: before the
// deadline the link stayed "connecting" for good, and every NEXT failed with
// "stash unavailable" long after the stash could serve again.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"
#include "socket.hpp"

using namespace seqtest;

TEST_CASE("faults: a stash that never answers the worker's connection: the link gives up on it after 2 s and connects again, and serves once a stash answers") {
    TempDir dir;
    const std::string stash_sock = dir / "stash.sock", worker_sock = dir / "worker.sock";
    auto stash = std::make_unique<Process>(std::vector<std::string>{bin("seq-stash"), "--socket", stash_sock},
                                           dir / "stash.log");
    REQUIRE(eventually([&] { return answers(stash_sock); }));
    Process worker({bin("seq-worker"), "--stash", stash_sock, "--socket", worker_sock}, dir / "worker.log");
    INFO("worker log:\n", worker.log());
    REQUIRE(eventually([&] { return answers(worker_sock) && info_field(worker_sock, "stash_link") == "up"; }));
    // The stash gone, and in its place a listener that never accepts: each
    // connect lands in its backlog, as with a stash whose accept is paused.
    stash.reset();
    ::unlink(stash_sock.c_str());
    auto deaf = seq::listen_unix(stash_sock);
    auto connects = [&] {
        try {
            return std::stoll(info_field(worker_sock, "stash_connects"));
        } catch (const std::exception&) {
            return -1LL;
        }
    };
    // Connected at once, then again after each 2 s without an answer (its
    // first connect, to the live stash, counted too).
    CHECK(eventually([&] { return connects() >= 4; }, 8000ms));
    CHECK(info_field(worker_sock, "stash_link") != "up");
    CHECK(eventually([&] { return worker.log().find("took no notice of the connection within 2000 ms") != std::string::npos; }));
    // A stash that answers, where the deaf one was: served within a deadline and a backoff.
    deaf.reset();
    ::unlink(stash_sock.c_str());
    stash = std::make_unique<Process>(std::vector<std::string>{bin("seq-stash"), "--socket", stash_sock},
                                      dir / "stash2.log");
    std::optional<std::int64_t> next;
    CHECK(eventually([&] {
        try {
            next = call_int(worker_sock, {"NEXT"});
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }, 5000ms));
    CHECK(next == 0);  // the worker's number, written into the new stash
    CHECK(info_field(worker_sock, "stash_link") == "up");
}
