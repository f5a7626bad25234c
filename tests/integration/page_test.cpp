// The live page at / in a real browser: Debian's Chromium, driven by
// playwright-core (tests/clients/node/live_page.js), against a supervisor
// of real processes. Where there is no Chromium or no playwright-core
// (scripts/test installs both, and records why it could not), the test
// says SKIPPED and why: it is never passed without a browser.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

// Why the browser cannot be run here, or "".
std::string no_browser() {
    const auto modules = std::filesystem::path(SEQ_NODE_MODULES);
    const auto build = std::filesystem::path(SEQ_BUILD_DIR);
    if (std::filesystem::exists(build / "chromium-unavailable"))
        return "scripts/test could not install Chromium: " + slurp((build / "chromium-unavailable").string());
    if (std::filesystem::exists(modules.parent_path() / "unavailable"))
        return "scripts/test could not install playwright-core: " + slurp((modules.parent_path() / "unavailable").string());
    if (access("/usr/bin/chromium", X_OK) != 0) return "/usr/bin/chromium is missing (Debian's chromium)";
    if (sh("command -v node >/dev/null").code != 0) return "node is missing (Node.js drives the browser)";
    return "";
}

}  // namespace

TEST_CASE("live page: headless Chromium shows every child's name and state, and a kill -9's restart within 2 s") {
    if (auto why = no_browser(); !why.empty()) {
        MESSAGE("SKIPPED: " << why);
        return;
    }
    if (!std::filesystem::exists(std::string(SEQ_NODE_MODULES) + "/playwright-core/package.json"))
        FAIL("playwright-core is missing from " << SEQ_NODE_MODULES << ": scripts/test installs it (npm ci)");
    TempDir dir;
    TreeSup t(dir,
              "http = \"127.0.0.1:0\"\nmax_restarts = 10\n"
              "[[child]]\nname = \"ticker\"\ncommand = [\"/bin/sh\", \"-c\", \"while :; do echo tick; sleep 0.2; done\"]\n"
              "[[child]]\nname = \"web\"\ninstances = 2\ncommand = [\"/bin/sleep\", \"1000\"]\n"
              "[[child]]\nname = \"jobs\"\ntype = \"supervisor\"\n"
              "  [[child.child]]\n  name = \"mailer\"\n  command = [\"/bin/sleep\", \"1000\"]\n");
    INFO(t.proc->log());
    const auto address = http_of(t);
    REQUIRE(!address.empty());
    const auto screenshot = std::filesystem::path(SEQ_BUILD_DIR) / "live-page.png";
    std::filesystem::remove(screenshot);
    const auto mailer = pid_of(t.run, "jobs/mailer");
    auto r = sh("NODE_PATH=" + std::string(SEQ_NODE_MODULES) + " node " + SEQ_SOURCE_DIR +
                "/tests/clients/node/live_page.js http://" + address + "/ " + screenshot.string() + " jobs/mailer " +
                std::to_string(mailer) + " ticker web 'web#0' 'web#1' jobs jobs/mailer 2>&1");
    INFO(r.out);
    REQUIRE(r.code == 0);
    // What it saw: each name with its state, the restart within 2 s.
    for (auto name : {"ticker", "web#0", "web#1", "jobs/mailer"})
        CHECK(r.out.find(std::string("\"") + name + "\":{\"shown\":") != std::string::npos);
    CHECK(r.out.find("\"jobs/mailer\":{\"shown\":\"mailer\",\"state\":\"running\"}") != std::string::npos);
    CHECK(r.out.find("\"web\":{\"shown\":\"web  (pool)\",\"state\":\"running\"}") != std::string::npos);
    CHECK(r.out.find("\"restarts_before\":0,\"restarts_after\":1,") != std::string::npos);
    auto at = r.out.find("\"ms_to_show\":");
    REQUIRE(at != std::string::npos);
    const auto ms = std::stol(r.out.substr(at + 13));
    MESSAGE("the page showed the restart " << ms << " ms after the kill -9");
    CHECK(ms < 2000);
    CHECK(r.out.find("killed by SIGKILL") != std::string::npos);
    CHECK(std::filesystem::file_size(screenshot) > 10'000);
}
