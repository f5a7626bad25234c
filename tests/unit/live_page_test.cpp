// The live page's data, from a report alone: each child's usage over ten
// minutes (UsageHistory) and the JSON the page draws (tree_json, child_json).
#include <doctest/doctest.h>

#include <string>

#include "json.hpp"
#include "live_page.hpp"
#include "usage_history.hpp"

using namespace seq::sup;

namespace {

ChildReport child(std::string name, std::int64_t pid, std::int64_t cpu_ms, std::int64_t memory) {
    ChildReport k;
    k.name = std::move(name);
    k.type = "worker";
    k.state = "running";
    k.pid = pid;
    k.cpu_ms = cpu_ms;
    k.memory_bytes = memory;
    return k;
}

TreeReport tree(std::int64_t a_pid, std::int64_t a_cpu, std::int64_t leaf_cpu) {
    TreeReport r;
    r.state = "running";
    r.pid = 1;
    r.children.push_back(child("a", a_pid, a_cpu, 1000));
    auto pool = child("web", 0, 0, 0);
    pool.pool = true;
    pool.instances = {child("web#0", 20, 0, 5), child("web#1", 21, 0, 6)};
    r.children.push_back(pool);
    auto mid = child("mid", 30, 0, 0);
    mid.type = "supervisor";
    mid.children = {child("leaf", 31, leaf_cpu, 77)};
    r.children.push_back(mid);
    return r;
}

}  // namespace

TEST_CASE("usage history: CPU as a share of a core between samples, memory as it is, by path at every depth") {
    UsageHistory h;
    h.add(tree(10, 0, 0), 0);
    h.add(tree(10, 5000, 2500), 10'000);  // 5 s of CPU in 10 s: half a core
    auto& a = h.of("a");
    REQUIRE(a.size() == 2);
    CHECK(a[0].cpu_permille == 0);  // nothing to compare the first with
    CHECK(a[1].cpu_permille == 500);
    CHECK(a[1].memory_bytes == 1000);
    CHECK(h.of("mid/leaf")[1].cpu_permille == 250);
    CHECK(h.of("web#1")[1].memory_bytes == 6);
    CHECK(h.of("web").empty());  // a pool's own line is its instances'
    CHECK(h.of("nope").empty());
    // A new process starts its CPU time from nothing: no rate across it.
    h.add(tree(11, 100, 2500), 20'000);
    CHECK(h.of("a")[2].cpu_permille == 0);
}

TEST_CASE("usage history: ten minutes of samples at most, and a child gone that long is forgotten") {
    UsageHistory h;
    for (std::uint64_t i = 0; i < 100; ++i) h.add(tree(10, static_cast<std::int64_t>(i) * 100, 0), i * 10'000);
    CHECK(h.of("a").size() == UsageHistory::keep);
    TreeReport empty;
    h.add(empty, 99 * 10'000 + UsageHistory::every_ms * UsageHistory::keep + 1);
    CHECK(h.of("a").empty());
}

TEST_CASE("tree_json: each child with its path, state, counts and sparklines, nested as the tree is, and the timeline") {
    UsageHistory h;
    h.add(tree(10, 0, 0), 0);
    h.add(tree(10, 1000, 0), 10'000);
    TreeEvent died{5000, "exited", "mid/leaf", 31, "signal", "killed by SIGKILL", 10};
    auto j = tree_json(tree(10, 1000, 0), h, {&died}, 9000);
    INFO(j);
    CHECK(j.starts_with("{\"now\": 9000, \"pid\": 1, \"state\": \"running\", "));
    CHECK(j.find("{\"name\": \"a\", \"path\": \"a\", \"type\": \"worker\", \"state\": \"running\", \"pid\": 10, "
                 "\"restarts\": 0, \"cpu_ms\": 1000, \"memory_bytes\": 1000, \"cpu\": [0,100], \"memory\": [1000,1000], "
                 "\"instances\": [], \"children\": []}") != std::string::npos);
    CHECK(j.find("\"type\": \"pool\"") != std::string::npos);
    CHECK(j.find("{\"name\": \"web#1\", \"path\": \"web#1\",") != std::string::npos);
    CHECK(j.find("{\"name\": \"leaf\", \"path\": \"mid/leaf\",") != std::string::npos);
    CHECK(j.ends_with("\"timeline\": [{\"t\": 5000, \"event\": \"exited\", \"path\": \"mid/leaf\", \"reason\": \"signal\"}]}"));
}

TEST_CASE("child_json: its lines and deaths, with what a line may hold escaped") {
    TreeEvent died{5000, "exited", "a", 10, "exit", "exit status 3", 10};
    auto j = child_json("a", {"say \"hi\"\\", std::string("tab\there")}, {&died});
    CHECK(j == "{\"path\": \"a\", \"lines\": [\"say \\\"hi\\\"\\\\\", \"tab\\u0009here\"], "
               "\"deaths\": [{\"t\": 5000, \"text\": \"exit status 3\", \"reason\": \"exit\"}]}");
    CHECK(child_json("b", {}, {}) == "{\"path\": \"b\", \"lines\": [], \"deaths\": []}");
}

TEST_CASE("the live page is one HTML file that fetches only its own JSON") {
    auto page = std::string(live_page_html());
    CHECK(page.starts_with("<!doctype html>"));
    CHECK(page.find("fetch(\"/tree.json\"") != std::string::npos);
    CHECK(page.find("\"/child.json/\"") != std::string::npos);
    // Nothing from elsewhere: no script or style by URL.
    CHECK(page.find("src=") == std::string::npos);
    CHECK(page.find("https://") == std::string::npos);
    CHECK(page.find("<link") == std::string::npos);
}

TEST_CASE("json_string: valid UTF-8 as it is, each stray byte as U+FFFD, controls escaped") {
    CHECK(seq::json_string("ünï €𝄞") == "\"ünï €𝄞\"");
    CHECK(seq::json_string("a\xff" "b") == "\"a\\ufffdb\"");
    CHECK(seq::json_string("\xc3") == "\"\\ufffd\"");              // cut short
    CHECK(seq::json_string("\xc0\xaf") == "\"\\ufffd\\ufffd\"");   // overlong
    CHECK(seq::json_string("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
    CHECK(seq::json_string("\x01\n") == "\"\\u0001\\u000a\"");
}
