// No sync failure goes unseen. SQLite's automatic WAL checkpoint runs inside
// COMMIT and throws its result away: with the database file's fdatasync
// failing (EIO, injected by strace on that file alone), the stash went on
// acknowledging for ever. The checkpoint is now the stash's own, and its
// failure a failed commit: logged with the file, exit 1, a restart, and
// nothing acknowledged lost.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

#include "client.hpp"
#include "harness.hpp"

using namespace seqtest;

TEST_CASE("faults: the database file's fdatasync fails (EIO) at a WAL checkpoint: the stash exits 1 naming the file, and no acknowledged number is lost") {
    auto found = sh("command -v strace");
    if (found.code != 0 || found.out.empty()) {
        MESSAGE("SKIPPED: no strace (Debian strace, which scripts/test installs)");
        return;
    }
    const std::string strace_bin = found.out.substr(0, found.out.find('\n'));
    TempDir dir;
    std::string run = dir / "run", data = dir / "data";
    // Every commit synced (its WAL's fdatasync passes); the checkpoint's sync
    // of stash.db is the one that fails.
    Process sup({bin("seq-supervisor"), "--run-dir", run, "--data-dir", data, "--fsync", "always", "--no-standby"},
                dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    const pid_t stash = pid_of(run, "stash");
    Process strace({strace_bin, "-qq", "-p", std::to_string(stash), "-P", data + "/stash.db", "-e",
                    "trace=fdatasync,fsync", "-e", "inject=fdatasync,fsync:error=EIO", "-o", dir / "strace.out"},
                   dir / "strace.log");
    // Attached once the stash shows a tracer.
    auto traced = [&] {
        auto status = slurp("/proc/" + std::to_string(stash) + "/status");
        auto at = status.find("TracerPid:");
        return at != std::string::npos && std::stol(status.substr(at + 10)) != 0;
    };
    if (!eventually(traced, 5000ms)) {
        MESSAGE((std::string("SKIPPED: strace cannot attach here (ptrace not allowed): ") + strace.log()));
        return;
    }
    // More commits than the WAL holds before a checkpoint (1000 pages).
    std::int64_t acknowledged = -1;
    bool stash_ended = false;
    for (int i = 0; i < 5000 && !stash_ended; ++i) {
        try {
            seq::Client c(run + "/sequence.sock", 5000ms);
            for (; i < 5000; ++i) {
                auto v = c.call({"NEXT"});
                if (v.type != seq::resp::Value::Type::integer) break;
                acknowledged = v.integer;
                if (i % 100 == 0 && !alive(stash)) break;
            }
        } catch (const std::exception&) {
            // the worker's link to the stash dropped under the call
        }
        stash_ended = !alive(stash);
    }
    CHECK(eventually([&] { return !alive(stash); }, 5000ms));
    auto logged = [&](const std::string& text) {
        return eventually([&] { return sup.log().find(text) != std::string::npos; }, 5000ms);
    };
    CHECK(logged(data + "/stash.db: checkpoint failed: disk I/O error"));
    CHECK(logged("stash (pid " + std::to_string(stash) + ") exit status 1"));
    // Restarted, on the store as it was: the sequence goes on past every
    // number a client was given.
    REQUIRE(eventually([&] {
        try {
            return pid_of(run, "stash") != stash && tree_running(run, 100ms);
        } catch (const std::exception&) {
            return false;
        }
    }, 10000ms));
    REQUIRE(acknowledged >= 0);
    std::optional<std::int64_t> next;
    eventually([&] {
        try {
            next = call_int(run + "/sequence.sock", {"NEXT"});
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }, 10000ms);
    REQUIRE(next);
    CHECK(*next > acknowledged);
    sup.signal(SIGTERM);
    CHECK(sup.exit_code(10000ms) == 0);
}
