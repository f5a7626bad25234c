// The reference is the man pages: each renders without a warning, names
// every flag its program's --help prints (seqctl's commands' too),
// seq-supervisor(1) and seq-tree(5) name every variable the supervisor sets
// and every key the tree-file loader takes, and sequence-protocol(7) defines
// every key of the status and events JSON. The lists come from the binaries,
// the loader and the writers' sources, so a new flag, variable, key or field
// without its documentation fails here.
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "supervisor_variables.hpp"
#include "tree_events.hpp"
#include "tree_file.hpp"

using namespace seqtest;

#ifndef SEQ_SOURCE_DIR
#error "SEQ_SOURCE_DIR must name the source tree"
#endif

namespace {

struct Page {
    std::string program;
    std::string path;  // in the source tree
};
const Page pages[] = {{"seq-supervisor", "supervisor/seq-supervisor.1"},
                      {"seqctl", "supervisor/seqctl.1"},
                      {"seq-stash", "stash/seq-stash.1"},
                      {"seq-worker", "worker/seq-worker.1"}};

// A page's text as it reads: "\-\-run\-dir" is "--run-dir", fonts dropped.
std::string page_text(const std::string& path) {
    auto s = slurp(std::string(SEQ_SOURCE_DIR) + "/" + path);
    REQUIRE_MESSAGE(!s.empty(), path, " is missing or empty");
    s = std::regex_replace(s, std::regex(R"(\\f[BIRP])"), "");
    s = std::regex_replace(s, std::regex(R"(\\-)"), "-");
    return s;
}

bool names(const std::string& text, const std::string& word, const std::string& inner = "A-Za-z0-9_-") {
    return std::regex_search(text, std::regex("(^|[^" + inner + "])" + word + "([^" + inner + "]|$)"));
}

// Whether the page defines `word` rather than merely uses it in prose: a
// bold line (".B word", ".BR as \", \" core ...", ".B [[child]]") names it,
// or it is written `word = ` as a tree file writes it.
bool defines(const std::string& text, const std::string& word) {
    const std::regex whole("(^|[^A-Za-z0-9_])" + word + "([^A-Za-z0-9_]|$)");
    std::size_t at = 0;
    while (at < text.size()) {
        auto end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        auto line = text.substr(at, end - at);
        if ((line.starts_with(".B ") || line.starts_with(".BR ") || line.starts_with(".BI ") ||
             line.starts_with(".RB ")) &&
            std::regex_search(line, whole))
            return true;
        at = end + 1;
    }
    return std::regex_search(text, std::regex("(^|[^A-Za-z0-9_])" + word + " = "));
}

// The flags a --help prints: "-h,--help", "--run-dir TEXT", "Excludes: --check".
std::set<std::string> flags_of(const std::string& help) {
    std::set<std::string> out;
    static const std::regex flag(R"((^|[\s,])(--?[A-Za-z][A-Za-z0-9-]*))");
    for (std::sregex_iterator it(help.begin(), help.end(), flag), end; it != end; ++it) out.insert((*it)[2]);
    return out;
}

}  // namespace

TEST_CASE("man pages: each renders with groff -ww without a warning") {
    for (auto page : {"supervisor/seq-supervisor.1", "supervisor/seqctl.1", "stash/seq-stash.1", "worker/seq-worker.1",
                      "supervisor/seq-tree.5", "common/sequence-protocol.7"}) {
        CAPTURE(page);
        auto r = sh(std::string("groff -man -ww -z ") + SEQ_SOURCE_DIR + "/" + page + " 2>&1");
        CHECK(r.code == 0);
        CHECK(r.out.empty());
    }
}

TEST_CASE("man pages: every flag a program's --help prints is in its page, seqctl's commands' too") {
    for (auto& p : pages) {
        CAPTURE(p.program);
        auto text = page_text(p.path);
        auto help = sh(bin(p.program) + " --help 2>&1");
        REQUIRE(help.code == 0);
        std::vector<std::string> helps{help.out};
        if (p.program == "seqctl") {
            // Its commands, from the list --help ends with.
            auto at = help.out.find("Subcommands:\n");
            REQUIRE(at != std::string::npos);
            std::smatch m;
            std::string rest = help.out.substr(at);
            static const std::regex command(R"(\n  ([a-z][a-z0-9-]*) )");
            int commands = 0;
            for (std::sregex_iterator it(rest.begin(), rest.end(), command), end; it != end; ++it, ++commands) {
                auto sub = sh(bin("seqctl") + " " + (*it)[1].str() + " --help 2>&1");
                CHECK(sub.code == 0);
                helps.push_back(sub.out);
                CHECK_MESSAGE(defines(text, (*it)[1].str()), "seqctl(1) has no entry for the command ", (*it)[1].str());
            }
            CHECK(commands > 10);
        }
        int seen = 0;
        for (auto& h : helps)
            for (auto& f : flags_of(h)) {
                ++seen;
                CHECK_MESSAGE(names(text, f), p.path, " does not name ", f);
            }
        CHECK(seen > 2);
    }
}

TEST_CASE("man pages: seq-supervisor(1) says what each variable it sets for its children is") {
    auto text = page_text("supervisor/seq-supervisor.1");
    auto at = text.find("\n.SH ENVIRONMENT\n");
    REQUIRE(at != std::string::npos);
    auto section = text.substr(at, text.find("\n.SH ", at + 1) - at);
    for (auto v : seq::sup::supervisor_variables) {
        CAPTURE(v);
        CHECK(names(section, std::string(v)));
    }
}

TEST_CASE("man pages: seq-tree(5) names every key the tree-file loader takes") {
    auto text = page_text("supervisor/seq-tree.5");
    auto keys = seq::sup::tree_file_keys();
    CHECK(keys.size() > 50);
    for (auto k : keys) {
        CAPTURE(k);
        CHECK(defines(text, std::string(k)));
    }
}

namespace {

// The keys a source file writes: the string literal each call that `calls`
// names (put|put_maybe|key) takes first, as in `f.put("name", c.name)`.
std::set<std::string> keys_written(const std::string& path, const std::string& calls) {
    auto source = slurp(std::string(SEQ_SOURCE_DIR) + "/" + path);
    REQUIRE_MESSAGE(!source.empty(), path, " is missing or empty");
    std::set<std::string> keys;
    const std::regex call("\\.(?:" + calls + R"re()\(\s*"([A-Za-z0-9_]+)")re");
    for (std::sregex_iterator it(source.begin(), source.end(), call), end; it != end; ++it) keys.insert((*it)[1]);
    return keys;
}

}  // namespace

TEST_CASE("man pages: sequence-protocol(7) defines every field of STATUS and so of seqctl status --json") {
    auto text = page_text("common/sequence-protocol.7");
    auto at = text.find("\n.SH STATUS JSON\n");
    REQUIRE(at != std::string::npos);
    auto section = text.substr(at, text.find("\n.SH ", at + 1) - at);
    auto keys = keys_written("supervisor/report.cpp", "put|put_maybe|key");
    // The pattern finds them all: those written only for a pool or a
    // supervisor, and those inside a nested array, too.
    CHECK(keys.size() > 30);
    for (auto k : {"name", "busy", "restart_in_ms", "draining", "sockets", "address", "max_children"})
        CHECK(keys.count(k));
    for (auto& k : keys) {
        CAPTURE(k);
        CHECK(defines(section, k));
    }
    // What seqctl adds to the object with a PATH.
    for (auto k : {"path", "deaths", "children"}) {
        CAPTURE(k);
        CHECK(defines(section, k));
    }
}

TEST_CASE("man pages: sequence-protocol(7) defines every field and kind of seqctl events --json") {
    auto text = page_text("common/sequence-protocol.7");
    auto at = text.find("\n.SH EVENTS JSON\n");
    REQUIRE(at != std::string::npos);
    auto section = text.substr(at, text.find("\n.SH ", at + 1) - at);
    // Each field's key is a string literal in the function that writes
    // them all (tree_events.cpp's each_field), "uptime_ms" and kin too.
    auto source = slurp(std::string(SEQ_SOURCE_DIR) + "/supervisor/tree_events.cpp");
    auto from = source.find("void each_field(");
    REQUIRE(from != std::string::npos);
    auto body = source.substr(from, source.find("\n}\n", from) - from);
    std::set<std::string> keys;
    static const std::regex literal(R"re("([a-z_]+)")re");
    for (std::sregex_iterator it(body.begin(), body.end(), literal), end; it != end; ++it) keys.insert((*it)[1]);
    CHECK(keys.count("time"));
    CHECK(keys.count("delay_ms"));
    for (auto& k : keys) {
        CAPTURE(k);
        CHECK(defines(section, k));
    }
    for (auto kind : seq::sup::event_kinds) {
        CAPTURE(kind);
        CHECK(defines(section, std::string(kind)));
    }
}
