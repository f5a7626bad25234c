// The README's quick start, as a newcomer pastes it: its console block run
// line by line against a real built-in tree, with and without
// XDG_RUNTIME_DIR, each printed line compared with the README's.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace seqtest;

namespace {

struct Step {
    std::string command;   // as after "$ "
    std::string expected;  // the lines below it, each ending in a newline
};

// The first ```console block after "## Quick start".
std::vector<Step> quick_start() {
    auto readme = slurp(std::string(SEQ_SOURCE_DIR) + "/README.md");
    auto section = readme.find("\n## Quick start\n");
    REQUIRE(section != std::string::npos);
    auto open = readme.find("\n```console\n", section);
    REQUIRE(open != std::string::npos);
    open += 12;
    auto close = readme.find("\n```\n", open - 1);
    REQUIRE(close != std::string::npos);
    std::vector<Step> steps;
    for (auto& line : lines_of(readme.substr(open, close + 1 - open))) {
        if (line.starts_with("$ ")) steps.push_back({line.substr(2), ""});
        else if (!steps.empty()) steps.back().expected += line + "\n";
    }
    return steps;
}

// Sets or removes a variable for this test, and puts it back after.
class EnvSet {
public:
    EnvSet(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* was = std::getenv(name)) was_ = was;
        if (value) setenv(name, value->c_str(), 1);
        else unsetenv(name);
    }
    ~EnvSet() {
        if (was_) setenv(name_, was_->c_str(), 1);
        else unsetenv(name_);
    }
    EnvSet(const EnvSet&) = delete;
    EnvSet& operator=(const EnvSet&) = delete;

private:
    const char* name_;
    std::optional<std::string> was_;
};

void run_quick_start(const TempDir& dir, const std::string& run) {
    auto steps = quick_start();
    // The block does what the README says of it: a kill -9, and a Redis client.
    REQUIRE(steps.size() >= 6);
    bool kills = false, redis = false;
    for (auto& s : steps) {
        kills = kills || s.command.find("kill -9") != std::string::npos;
        redis = redis || s.command.starts_with("redis-cli");
    }
    REQUIRE(kills);
    REQUIRE(redis);
    // "build/bin/seqctl" from a folder of its own, as from a clone's top.
    std::filesystem::create_directories(dir / "top/build");
    std::filesystem::create_symlink(std::filesystem::path(bin("seqctl")).parent_path(), dir / "top/build/bin");
    Process sup({bin("seq-supervisor")}, dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    for (auto& s : steps) {
        auto r = sh("cd '" + dir / "top" + "' && " + s.command + " 2>&1");
        INFO("$ ", s.command);
        CHECK(r.code == 0);
        // redis-cli types its replies only on a terminal: "(integer) 15" there, "15" here.
        auto expected = s.expected;
        if (s.command.starts_with("redis-cli") && expected.starts_with("(integer) ")) expected.erase(0, 10);
        CHECK(r.out == expected);
    }
    sup.signal(SIGTERM);
    CHECK(sup.exit_code() == 0);
}

bool has_redis_cli() { return sh("command -v redis-cli >/dev/null").code == 0; }

}  // namespace

TEST_CASE("the README's quick start works as pasted, with XDG_RUNTIME_DIR set") {
    if (!has_redis_cli()) {
        MESSAGE("SKIPPED: no redis-cli (Debian redis-tools, which scripts/test installs)");
        return;
    }
    TempDir dir;
    std::filesystem::create_directories(dir / "xdg");
    EnvSet xdg("XDG_RUNTIME_DIR", dir / "xdg");
    EnvSet run_dir("SEQUENCE_RUN_DIR", std::nullopt);
    run_quick_start(dir, dir / "xdg/sequence");
}

TEST_CASE("the README's quick start works as pasted, without XDG_RUNTIME_DIR") {
    if (!has_redis_cli()) {
        MESSAGE("SKIPPED: no redis-cli (Debian redis-tools, which scripts/test installs)");
        return;
    }
    // The default run dir is the user's own: a tree of theirs there is left alone.
    const std::string run = "/tmp/sequence-" + std::to_string(getuid());
    if (answers(run + "/control.sock")) {
        MESSAGE((std::string("SKIPPED: a tree already runs in ") + run + ", the default run dir without XDG_RUNTIME_DIR"));
        return;
    }
    // Made here: removed after, with what the tree left in it (its stash's passwords).
    struct Made {
        std::string path;
        bool made = !std::filesystem::exists(path);
        ~Made() {
            if (made) std::filesystem::remove_all(path);
        }
    } made{run};
    TempDir dir;
    EnvSet xdg("XDG_RUNTIME_DIR", std::nullopt);
    EnvSet run_dir("SEQUENCE_RUN_DIR", std::nullopt);
    run_quick_start(dir, run);
}
