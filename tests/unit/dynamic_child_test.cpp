// What seqctl add gives a dynamic supervisor's child: the words of ADD read
// (every error), written back to the same words, and made into the child's
// spec with the template.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dynamic_child.hpp"

using namespace seq::sup;

namespace {

std::optional<Addition> parse(std::vector<std::string> words, std::string& why) {
    std::vector<std::string_view> views(words.begin(), words.end());
    return parse_addition(views, why);
}

std::string refusal(std::vector<std::string> words) {
    std::string why;
    auto a = parse(std::move(words), why);
    return a ? "(valid)" : why;
}

}  // namespace

TEST_CASE("ADD's words: a name, ENV pairs, then ARGS taking every word after it, read and written back") {
    std::string why;
    auto a = parse({"t1", "ENV", "A=1", "env", "B=x=y", "ENV", "EMPTY=", "ARGS", "--port", "ENV", "ARGS", ""}, why);
    REQUIRE(a);
    CHECK(a->name == "t1");
    CHECK(a->env == std::map<std::string, std::string>{{"A", "1"}, {"B", "x=y"}, {"EMPTY", ""}});
    CHECK(a->args == std::vector<std::string>{"--port", "ENV", "ARGS", ""});
    auto words = addition_words(*a);
    auto back = parse(words, why);
    REQUIRE(back);
    CHECK(*back == *a);
    // The name alone; a later ENV of one name wins.
    auto bare = parse({"x"}, why);
    REQUIRE(bare);
    CHECK(bare->args.empty());
    CHECK(addition_words(*bare) == std::vector<std::string>{"x"});
    auto twice = parse({"x", "ENV", "A=1", "ENV", "A=2"}, why);
    REQUIRE(twice);
    CHECK(twice->env.at("A") == "2");
    // ARGS with nothing after it: no arguments.
    auto none = parse({"x", "ARGS"}, why);
    REQUIRE(none);
    CHECK(none->args.empty());
}

TEST_CASE("ADD's words: every malformed request refused with its reason") {
    CHECK(refusal({}) == "ERR add needs a name for the child");
    CHECK(refusal({"bad name"}).find("'bad name' is not a child's name: 1 to 64 letters") != std::string::npos);
    CHECK(refusal({"web#3"}).find("is not a child's name") != std::string::npos);
    CHECK(refusal({"a/b"}).find("is not a child's name") != std::string::npos);
    CHECK(refusal({std::string(65, 'a')}).find("is not a child's name") != std::string::npos);
    CHECK(refusal({std::string("x\0y", 3)}).find("'x?y' is not a child's name") != std::string::npos);
    CHECK(refusal({"x", "ENV"}) == "ERR ENV needs NAME=VALUE after it");
    CHECK(refusal({"x", "ENV", "NOEQUALS"}).find("'NOEQUALS' is not NAME=VALUE") != std::string::npos);
    CHECK(refusal({"x", "ENV", "=v"}).find("is not NAME=VALUE") != std::string::npos);
    CHECK(refusal({"x", "ENV", std::string("A=\0", 3)}).find("is not NAME=VALUE") != std::string::npos);
    CHECK(refusal({"x", "ENV", "SEQ_NAME=y"}) == "ERR 'SEQ_NAME' is set by the supervisor itself");
    CHECK(refusal({"x", "ENV", "LISTEN_FDS=3"}) == "ERR 'LISTEN_FDS' is set by the supervisor itself");
    CHECK(refusal({"x", "ARGS", std::string("a\0b", 3)}).find("an argument contains a NUL byte") != std::string::npos);
    CHECK(refusal({"x", "extra"}).find("'extra' is not ENV or ARGS") != std::string::npos);
    CHECK(refusal({"x", "ENV", "A=1", "oops"}).find("'oops' is not ENV or ARGS") != std::string::npos);
    std::vector<std::string> many{"x", "ARGS"};
    many.resize(2 + max_added_args, "a");
    CHECK(refusal(many) == "(valid)");
    many.push_back("one too many");
    CHECK(refusal(many) == "ERR more than 1024 arguments");
    std::vector<std::string> envs{"x"};
    for (std::size_t i = 0; i <= max_added_env; ++i) envs.insert(envs.end(), {"ENV", "V" + std::to_string(i) + "=1"});
    CHECK(refusal(envs) == "ERR more than 1024 ENV variables");
}

TEST_CASE("a dynamic child's spec: the template's, named, its arguments appended and its env over the template's") {
    ChildSpec tmpl;
    tmpl.command = {"prog", "--serve"};
    tmpl.program = "/bin/prog";
    tmpl.env = {{"KIND", "a"}, {"KEEP", "k"}};
    tmpl.restart = RestartType::transient;
    Addition a{"t7", {"7", "--fast"}, {{"KIND", "b"}, {"TENANT", "7"}}};
    auto c = dynamic_child_spec(tmpl, a);
    CHECK(c.name == "t7");
    CHECK(c.command == std::vector<std::string>{"prog", "--serve", "7", "--fast"});
    CHECK(c.program == "/bin/prog");
    CHECK(c.env == std::map<std::string, std::string>{{"KIND", "b"}, {"KEEP", "k"}, {"TENANT", "7"}});
    CHECK(c.restart == RestartType::transient);
    CHECK(dynamic_child_spec(tmpl, a) == c);
    tmpl.env["KEEP"] = "changed";
    CHECK_FALSE(dynamic_child_spec(tmpl, a) == c);  // a new template is a change for every child
}
