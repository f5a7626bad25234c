// env_file's syntax (systemd's EnvironmentFile=): every form of value, and
// every error with its line.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <variant>

#include "env_file.hpp"

using namespace seq::sup;

namespace {

std::map<std::string, std::string> vars(const std::string& text) {
    auto got = parse_env_file(text);
    if (auto* e = std::get_if<EnvFileError>(&got)) FAIL("line " << e->line << ": " << e->what);
    return std::get<0>(got);
}

std::string error(const std::string& text) {
    auto got = parse_env_file(text);
    auto* e = std::get_if<EnvFileError>(&got);
    return e ? std::to_string(e->line) + ": " + e->what : "(valid)";
}

}  // namespace

TEST_CASE("env_file: comments, blanks, quotes, escapes, continued lines") {
    CHECK(vars("") == std::map<std::string, std::string>{});
    CHECK(vars("# a comment\n; another\n\n  \nA=1\n") == std::map<std::string, std::string>{{"A", "1"}});
    CHECK(vars("A = spaced out  \n") == std::map<std::string, std::string>{{"A", "spaced out"}});
    CHECK(vars("A='single $HOME \\n kept'\n") == std::map<std::string, std::string>{{"A", "single $HOME \\n kept"}});
    CHECK(vars("A=\"say \\\"hi\\\"\\nnext \\\\ \\$x\"\n") ==
          std::map<std::string, std::string>{{"A", "say \"hi\"\nnext \\ $x"}});
    CHECK(vars("A=\"two\nlines\"\nB=2") == std::map<std::string, std::string>{{"A", "two\nlines"}, {"B", "2"}});
    CHECK(vars("A=one \\\n two\nB=x\\ y\n") == std::map<std::string, std::string>{{"A", "one  two"}, {"B", "x y"}});
    CHECK(vars("A=\nB=2\nA=3\n") == std::map<std::string, std::string>{{"A", "3"}, {"B", "2"}});  // the last wins
    CHECK(vars("A=\"x\" # said\n") == std::map<std::string, std::string>{{"A", "x"}});
    CHECK(vars("A=1\r\nB=2\r\n") == std::map<std::string, std::string>{{"A", "1"}, {"B", "2"}});
    CHECK(vars("_a1=ok") == std::map<std::string, std::string>{{"_a1", "ok"}});
}

TEST_CASE("env_file: each error names its line") {
    CHECK(error("A=1\n1A=2\n") == "2: not a variable's name: a line is NAME=VALUE");
    CHECK(error("A=1\n\nJUST_A_NAME\n") == "3: no = after JUST_A_NAME: a line is NAME=VALUE");
    CHECK(error("export A=1\n") == "1: no = after export: a line is NAME=VALUE");
    CHECK(error("A=\"open\nB=2\n") == "1: a value opened with \" is never closed");
    CHECK(error("A='x' y\n") == "1: something after the closing quote of A's value");
    CHECK(error("SEQ_STASH=/tmp/x\n") == "1: SEQ_STASH is set by the supervisor itself");
    CHECK(error(std::string("A=x\0y\n", 6)) == "1: A's value holds a NUL byte");
}
