// The RESP2 codec: request and reply parsers fed whole, split at every byte
// boundary and one byte at a time; malformed input; limits; encoders.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "resp.hpp"

using namespace seq::resp;
using namespace std::string_literals;

namespace {

// ------------------------------------------------------------------ helpers

// A readable, unambiguous rendering of bytes, so failures show what differs.
std::string esc(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string r;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '\\' && c != '"') r += c;
        else r += std::string("\\x") + hex[u >> 4] + hex[u & 15];
    }
    return r;
}

template <class Args>
std::string show(const Args& args) {
    std::string r = "[";
    for (const auto& a : args) r += (r.size() > 1 ? ", \"" : "\"") + esc(a) + "\"";
    return r + "]";
}

std::vector<std::string_view> whole(std::string_view s) { return {s}; }

std::vector<std::string_view> split(std::string_view s, std::size_t at) {
    return {s.substr(0, at), s.substr(at)};
}

std::vector<std::string_view> bytes(std::string_view s) {
    std::vector<std::string_view> r;
    for (std::size_t i = 0; i < s.size(); ++i) r.push_back(s.substr(i, 1));
    return r;
}

// Every way of feeding `s` that the tests compare: whole, every two-piece
// split, one byte at a time.
std::vector<std::vector<std::string_view>> feedings(std::string_view s) {
    std::vector<std::vector<std::string_view>> r{whole(s)};
    for (std::size_t k = 1; k < s.size(); ++k) r.push_back(split(s, k));
    r.push_back(bytes(s));
    return r;
}

struct Outcome {
    Status status = Status::incomplete;
    std::string args;  // show()n request args, or describe()d reply
    std::size_t consumed = 0, fed = 0, unfed = 0;  // fed: buffer size at the deciding
    std::string error;                             // call; unfed: pieces left then
};

// Appends the pieces to a growing buffer (which may reallocate, i.e. move),
// passing all of it to parse() each time, until the parser decides.
template <class Parser, class Render>
Outcome feed(Parser& p, const std::vector<std::string_view>& pieces, Render render) {
    Outcome o;
    std::string buf;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        buf += pieces[i];
        o.fed = buf.size();
        o.unfed = pieces.size() - i - 1;
        o.status = render(p, buf, o.args);
        if (o.status != Status::incomplete) break;
    }
    o.consumed = o.status == Status::ok ? p.consumed() : 0;
    o.error = o.status == Status::error ? p.error() : "";
    return o;
}

Outcome feed_request(const std::vector<std::string_view>& pieces, Limits limits = {}) {
    RequestParser p(limits);
    return feed(p, pieces, [](RequestParser& q, std::string_view in, std::string& out) {
        std::vector<std::string_view> args;
        auto st = q.parse(in, args);
        out = show(args);
        return st;
    });
}

// Values: builders and a rendering that tells every type apart.
Value simple(std::string s) { Value v; v.type = Value::Type::simple; v.str = std::move(s); return v; }
Value err(std::string s) { Value v; v.type = Value::Type::error; v.str = std::move(s); return v; }
Value bulk(std::string s) { Value v; v.type = Value::Type::bulk; v.str = std::move(s); return v; }
Value integer(std::int64_t n) { Value v; v.type = Value::Type::integer; v.integer = n; return v; }
Value nil() { return Value{}; }
Value array(std::vector<Value> e) { Value v; v.type = Value::Type::array; v.elems = std::move(e); return v; }

std::string describe(const Value& v) {
    switch (v.type) {
    case Value::Type::simple: return "+\"" + esc(v.str) + "\"";
    case Value::Type::error: return "-\"" + esc(v.str) + "\"";
    case Value::Type::integer: return ":" + std::to_string(v.integer);
    case Value::Type::bulk: return "$\"" + esc(v.str) + "\"";
    case Value::Type::nil: return "nil";
    case Value::Type::array: {
        std::string r = "[";
        for (std::size_t i = 0; i < v.elems.size(); ++i) r += (i ? ", " : "") + describe(v.elems[i]);
        return r + "]";
    }
    }
    return "?";
}

Outcome feed_reply(const std::vector<std::string_view>& pieces, Limits limits = {}) {
    ReplyParser p(limits);
    return feed(p, pieces, [](ReplyParser& q, std::string_view in, std::string& out) {
        Value v = simple("sentinel");
        auto st = q.parse(in, v);
        out = st == Status::ok ? describe(v) : "";
        return st;
    });
}

// The input must fail, whole and one byte at a time, with the same message,
// which contains `what`. Returns the buffer size at which the bytewise feed failed.
template <class Feed>
std::size_t expect_error(Feed feed_fn, std::string_view in, std::string_view what, Limits limits) {
    INFO("input: \"", esc(in.substr(0, 80)), "\"");
    auto w = feed_fn(whole(in), limits);
    CHECK(w.status == Status::error);
    CHECK(w.error.find(what) != std::string::npos);
    INFO("error: ", w.error);
    auto b = feed_fn(bytes(in), limits);
    CHECK(b.status == Status::error);
    CHECK(b.error == w.error);
    return b.fed;
}
std::size_t expect_request_error(std::string_view in, std::string_view what, Limits limits = {}) {
    return expect_error(feed_request, in, what, limits);
}
void expect_reply_error(std::string_view in, std::string_view what, Limits limits = {}) {
    expect_error(feed_reply, in, what, limits);
}

struct Req {
    std::string wire;
    std::vector<std::string> args;
};

const std::vector<Req> valid_requests = {
    {"*1\r\n$4\r\nPING\r\n", {"PING"}},
    {"*2\r\n$9\r\nINCREMENT\r\n$2\r\n12\r\n", {"INCREMENT", "12"}},
    {"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n", {"SET", "", ""}},
    {"*2\r\n$3\r\nGET\r\n$6\r\na\r\n\0\nb\r\n"s, {"GET", "a\r\n\0\nb"s}},
    {"*3\r\n$2\r\n\r\n\r\n$1\r\n\0\r\n$3\r\n*1\n\r\n"s, {"\r\n", "\0"s, "*1\n"}},
    {"*0\r\n", {}},
    {"NEXT\r\n", {"NEXT"}},
    {"  increment   12 \n", {"increment", "12"}},
    {"PING\n", {"PING"}},
    {"get\tkey\r\n", {"get", "key"}},
    {"\r\n", {}},
    {"\n", {}},
    {"   \r\n", {}},
};

}  // namespace

// ------------------------------------------------------------------ parse_int

TEST_CASE("parse_int accepts canonical 64-bit decimals only") {
    CHECK(parse_int("0") == std::optional<std::int64_t>(0));
    CHECK(parse_int("-1") == std::optional<std::int64_t>(-1));
    CHECK(parse_int("42") == std::optional<std::int64_t>(42));
    CHECK(parse_int("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
    CHECK(parse_int("-9223372036854775808") == std::numeric_limits<std::int64_t>::min());
    for (auto bad : {"", "+1", " 1", "1 ", "01", "00", "-0", "-01", "-", "9223372036854775808",
                     "-9223372036854775809", "99999999999999999999", "abc", "1a", "1\r"}) {
        INFO("input: \"", esc(bad), "\"");
        CHECK_FALSE(parse_int(bad).has_value());
    }
}

// ------------------------------------------------------------------ requests

TEST_CASE("every valid request parses the same however it is split") {
    for (const auto& r : valid_requests) {
        INFO("request: \"", esc(r.wire), "\"");
        auto feeds = feedings(r.wire);
        for (std::size_t f = 0; f < feeds.size(); ++f) {
            INFO("feeding #", f, " in ", feeds[f].size(), " pieces");
            auto o = feed_request(feeds[f]);
            REQUIRE(o.status == Status::ok);
            CHECK(o.args == show(r.args));
            CHECK(o.consumed == r.wire.size());
            CHECK(o.unfed == 0);  // no strict prefix is a whole request
        }
    }
}

TEST_CASE("a request followed by more bytes consumes only itself") {
    for (const auto& r : valid_requests) {
        INFO("request: \"", esc(r.wire), "\"");
        for (std::string tail : {"*1\r\n$4\r\nPI"s, "*2\r\n"s, "NEX"s, "\r\n"s, "$"s}) {
            auto o = feed_request(whole(r.wire + tail));
            REQUIRE(o.status == Status::ok);
            CHECK(o.args == show(r.args));
            CHECK(o.consumed == r.wire.size());
        }
    }
}

TEST_CASE("pipelined requests parse one after another") {
    std::string all;
    std::vector<std::string> expected;
    for (const auto& r : valid_requests) {
        all += r.wire;
        expected.push_back(show(r.args) + " in " + std::to_string(r.wire.size()));
    }
    // A server loop: bytes arrive in chunks (or all at once); after each ok
    // the consumed bytes are dropped and the rest is parsed again.
    for (std::size_t chunk : std::vector<std::size_t>{1, 2, 3, 4, 5, 7, 11, all.size()}) {
        CAPTURE(chunk);
        RequestParser p;
        std::string buf;
        std::vector<std::string> got;
        std::vector<std::string_view> args;
        for (std::size_t at = 0; at < all.size(); at += chunk) {
            buf += all.substr(at, chunk);
            Status st;
            while ((st = p.parse(buf, args)) == Status::ok) {
                got.push_back(show(args) + " in " + std::to_string(p.consumed()));
                buf.erase(0, p.consumed());
            }
            REQUIRE(st == Status::incomplete);
        }
        CHECK(buf.empty());
        CHECK(got == expected);
    }
}

TEST_CASE("empty requests") {
    for (std::string_view in : {"*0\r\n", "\r\n", "\n"}) {
        auto o = feed_request(whole(in));
        CHECK(o.status == Status::ok);
        CHECK(o.args == "[]");
        CHECK(o.consumed == in.size());
    }
    RequestParser p;
    std::vector<std::string_view> args;
    CHECK(p.parse("", args) == Status::incomplete);
}

TEST_CASE("malformed multibulk counts") {
    for (auto in : {"*abc\r\n", "*\r\n", "*-1\r\n", "*-5\r\n", "*+1\r\n", "*1x\r\n", "*01\r\n",
                    "*99999999999999999999\r\n"})
        expect_request_error(in, "invalid multibulk length");
    expect_request_error("*1025\r\n", "too many arguments");
    CHECK(feed_request(whole("*1024\r\n")).status == Status::incomplete);
}

TEST_CASE("malformed bulk headers and data") {
    expect_request_error("*1\r\n:3\r\nabc\r\n", "expected '$'");
    expect_request_error("*2\r\n$1\r\na\r\nfoo\r\n", "expected '$'");
    expect_request_error("*1\r\n\x01"s, "got '\\x01'");
    expect_request_error("*1\r\n \r\n", "got ' '");
    for (auto in : {"*1\r\n$-1\r\n", "*1\r\n$-3\r\nabc\r\n", "*1\r\n$abc\r\n", "*1\r\n$\r\n",
                    "*1\r\n$99999999999999999999\r\n"})
        expect_request_error(in, "invalid bulk length");
    expect_request_error("*1\r\n$1048577\r\n", "bulk length exceeds");
    for (auto in : {"*1\r\n$3\r\nabcd\r\n", "*1\r\n$3\r\nabc\n\r", "*2\r\n$3\r\nabc\rX$1\r\nx\r\n",
                    "*1\r\n$3\r\nabcX\n"})
        expect_request_error(in, "expected CRLF after bulk data");
}

TEST_CASE("a bulk of exactly max_bulk (1 MiB) is accepted") {
    std::string data(1 << 20, 'z');
    data[5] = '\n';
    std::string wire = "*1\r\n$1048576\r\n" + data + "\r\n";
    CHECK(feed_request(whole(wire.substr(0, 20))).status == Status::incomplete);
    auto o = feed_request(split(wire, 100000));
    REQUIRE(o.status == Status::ok);
    CHECK(o.consumed == wire.size());
    CHECK(o.args == show(std::vector<std::string>{data}));
}

TEST_CASE("header lines must end in CRLF and be short") {
    expect_request_error("*1\n$4\r\nPING\r\n", "invalid multibulk length");
    expect_request_error("*1\r\n$4\nPING\r\n", "invalid bulk length");
    auto fed = expect_request_error("*" + std::string(40, '1'), "invalid multibulk length");
    CHECK(fed <= 33);  // fails as soon as it is too long, not when the LF comes
    fed = expect_request_error("*1\r\n$" + std::string(40, '1'), "invalid bulk length");
    CHECK(fed <= 4 + 33);
    // 20 digits still fit a header, so a long-but-valid header only waits.
    CHECK(feed_request(whole("*1\r\n$00000000000000000000")).status == Status::incomplete);
}

TEST_CASE("too many arguments") {
    std::vector<std::string_view> many(1025, "x");
    std::string wire;
    append_command(wire, std::span(many.data(), 1024));
    auto o = feed_request(whole(wire));
    REQUIRE(o.status == Status::ok);
    CHECK(o.consumed == wire.size());

    std::string line;
    for (int i = 0; i < 1024; ++i) line += "a ";
    o = feed_request(whole(line + "\r\n"));
    REQUIRE(o.status == Status::ok);
    CHECK(o.args == show(std::vector<std::string>(1024, "a")));
    expect_request_error(line + "b\r\n", "too many arguments");
    expect_request_error(line + "b c d\n", "too many arguments");
}

TEST_CASE("an inline line over 64 KiB fails without waiting for its newline") {
    std::string line(64 << 10, 'a');
    CHECK(feed_request(whole(line)).status == Status::incomplete);
    auto o = feed_request(whole(line + "\n"));
    CHECK(o.status == Status::ok);
    CHECK(o.consumed == line.size() + 1);
    auto fed = expect_request_error(line + "aaaa", "too big inline request");
    CHECK(fed == line.size() + 1);
    expect_request_error(line + "a\r\n", "too big inline request");
}

TEST_CASE("custom limits are honoured") {
    Limits l;
    l.max_bulk = 4;
    l.max_args = 2;
    l.max_inline = 10;
    l.max_request = 30;

    CHECK(feed_request(whole("*2\r\n$4\r\nabcd\r\n$1\r\nx\r\n"), l).status == Status::ok);
    expect_request_error("*1\r\n$5\r\nabcde\r\n", "limit of 4 bytes", l);
    expect_request_error("*3\r\n", "the limit is 2", l);
    expect_request_error("a b c\n", "the limit is 2", l);
    CHECK(feed_request(whole("a b\n"), l).status == Status::ok);

    CHECK(feed_request(whole("0123456789\n"), l).status == Status::ok);  // 10 bytes
    CHECK(feed_request(whole("012345678\r\n"), l).status == Status::ok);
    expect_request_error("0123456789A\n", "too big inline request", l);
    auto fed = expect_request_error("0123456789ABCDEF", "too big inline request", l);
    CHECK(fed == 11);

    // 4 + 10 + 10 = 24 bytes fit, 4 + 10 + 10 + 10 = 34 do not: the parser
    // rejects the request as soon as a bulk header announces the excess.
    CHECK(feed_request(whole("*2\r\n$4\r\nabcd\r\n$4\r\nefgh\r\n"), l).status == Status::ok);
    l.max_args = 5;
    std::string four = "*3\r\n$4\r\nabcd\r\n$4\r\nefgh\r\n$4\r\nijkl\r\n";
    fed = expect_request_error(four, "exceeds the limit of 30 bytes", l);
    CHECK(fed <= 4 + 10 + 10 + 4);
    l.max_request = 34;
    CHECK(feed_request(whole(four), l).status == Status::ok);
    l.max_request = 33;
    expect_request_error(four, "exceeds the limit of 33 bytes", l);
}

// ------------------------------------------------------------------ replies

namespace {
struct ReplyCase {
    std::string wire;
    Value want;
};

// Each reply parses to what is wanted, whole and at every split.
void check_replies(const std::vector<ReplyCase>& cases) {
    for (const auto& c : cases) {
        INFO("reply: \"", esc(c.wire), "\"");
        for (const auto& pieces : feedings(c.wire)) {
            INFO("in ", pieces.size(), " pieces");
            auto o = feed_reply(pieces);
            REQUIRE(o.status == Status::ok);
            CHECK(o.args == describe(c.want));
            CHECK(o.consumed == c.wire.size());
            CHECK(o.unfed == 0);
        }
    }
}
}  // namespace

TEST_CASE("every reply type parses the same however it is split") {
    const std::vector<ReplyCase> cases = {
        {"+OK\r\n", simple("OK")},
        {"+\r\n", simple("")},
        {"-ERR unknown command\r\n", err("ERR unknown command")},
        {":0\r\n", integer(0)},
        {":-42\r\n", integer(-42)},
        {":9223372036854775807\r\n", integer(std::numeric_limits<std::int64_t>::max())},
        {"$5\r\nhello\r\n", bulk("hello")},
        {"$0\r\n\r\n", bulk("")},
        {"$6\r\n\r\n\0:\n+\r\n"s, bulk("\r\n\0:\n+"s)},
        {"$-1\r\n", nil()},
        {"*-1\r\n", nil()},
        {"*0\r\n", array({})},
        {"*2\r\n*1\r\n:1\r\n*0\r\n", array({array({integer(1)}), array({})})},
        {"*4\r\n$1\r\na\r\n*2\r\n+x\r\n$-1\r\n-e\r\n*1\r\n*1\r\n*-1\r\n",
         array({bulk("a"), array({simple("x"), nil()}), err("e"), array({array({nil()})})})},
    };
    check_replies(cases);
    CHECK(err("x").is_error());
    CHECK_FALSE(simple("x").is_error());
}

TEST_CASE("pipelined replies") {
    const std::string all = "+OK\r\n:1\r\n$-1\r\n*2\r\n$1\r\na\r\n*0\r\n-ERR no\r\n$3\r\nx\ny\r\n";
    const std::vector<std::string> want = {
        "+\"OK\" in 5", ":1 in 4", "nil in 5", "[$\"a\", []] in 15", "-\"ERR no\" in 9",
        "$\"x\\x0ay\" in 9"};
    for (std::size_t chunk : std::vector<std::size_t>{1, 2, 3, 5, all.size()}) {
        CAPTURE(chunk);
        ReplyParser p;
        std::string buf;
        std::vector<std::string> got;
        Value v;
        for (std::size_t at = 0; at < all.size(); at += chunk) {
            buf += all.substr(at, chunk);
            Status st;
            while ((st = p.parse(buf, v)) == Status::ok) {
                got.push_back(describe(v) + " in " + std::to_string(p.consumed()));
                buf.erase(0, p.consumed());
            }
            REQUIRE(st == Status::incomplete);
        }
        CHECK(buf.empty());
        CHECK(got == want);
    }
}

TEST_CASE("malformed replies") {
    expect_reply_error("?x\r\n", "unknown reply type '?'");
    expect_reply_error("\x01\r\n"s, "unknown reply type '\\x01'");
    expect_reply_error("*1\r\n@oops\r\n", "unknown reply type '@'");
    expect_reply_error("|1\r\n+a\r\n+b\r\n+c\r\n", "unknown reply type '|'");  // RESP3 attributes: not sent by us
    for (auto in : {":abc\r\n", ":\r\n", ":01\r\n", ":+1\r\n", ":9223372036854775808\r\n"})
        expect_reply_error(in, "invalid integer");
    for (auto in : {"$-2\r\n", "$x\r\n", "$\r\n", "$-0\r\n"}) expect_reply_error(in, "invalid bulk length");
    expect_reply_error("$1048577\r\n", "bulk length exceeds");
    for (auto in : {"$3\r\nabcd\r\n", "$3\r\nabcX\n", "*2\r\n$3\r\nabc\rX:1\r\n"})
        expect_reply_error(in, "expected CRLF after bulk data");
    for (auto in : {"\n", "*2\r\n:1\r\n\n", "+OK\n", ":1\n", "*1\n", "$1\na\r\n"})
        expect_reply_error(in, "expected CRLF at end of reply line");
    expect_reply_error("*-2\r\n", "invalid multibulk length");
    expect_reply_error("*x\r\n", "invalid multibulk length");
    expect_reply_error("*1025\r\n", "too many array elements");
    expect_reply_error(":" + std::string(40, '1'), "reply line too long");
    expect_reply_error("+" + std::string((64 << 10) + 1, 'a'), "reply line too long");
}

TEST_CASE("every RESP3 reply type parses the same however it is split") {
    const std::vector<ReplyCase> cases = {
        {"_\r\n", nil()},
        {"#t\r\n", integer(1)},
        {"#f\r\n", integer(0)},
        {",3.14\r\n", bulk("3.14")},
        {",-inf\r\n", bulk("-inf")},
        {"(3492890328409238509324850943850943825024385\r\n", bulk("3492890328409238509324850943850943825024385")},
        {"=15\r\ntxt:Some string\r\n", bulk("Some string")},
        {"=4\r\ntxt:\r\n", bulk("")},
        {"=10\r\ntxt:a\r\nb\r\n\r\n", bulk("a\r\nb\r\n")},
        {"!21\r\nSYNTAX invalid syntax\r\n", err("SYNTAX invalid syntax")},
        {"%0\r\n", array({})},
        {"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n_\r\n",
         array({simple("first"), integer(1), bulk("second"), nil()})},
        {"~2\r\n:1\r\n#t\r\n", array({integer(1), integer(1)})},
        {">2\r\n+message\r\n$2\r\nhi\r\n", array({simple("message"), bulk("hi")})},
        {"%1\r\n$5\r\nproto\r\n%1\r\n+a\r\n*1\r\n_\r\n",
         array({bulk("proto"), array({simple("a"), array({nil()})})})},
    };
    check_replies(cases);
}

TEST_CASE("malformed RESP3 replies") {
    for (auto in : {"_x\r\n", "_ \r\n"}) expect_reply_error(in, "invalid null reply");
    for (auto in : {"#\r\n", "#true\r\n", "#T\r\n"}) expect_reply_error(in, "invalid boolean reply");
    expect_reply_error(",\r\n", "invalid double reply");
    expect_reply_error("(\r\n", "invalid big number reply");
    for (auto in : {"=-1\r\n", "!-1\r\n", "=x\r\n"}) expect_reply_error(in, "invalid bulk length");
    for (auto in : {"=3\r\ntxt\r\n", "=5\r\ntxt;a\r\n"}) expect_reply_error(in, "verbatim string without its format");
    expect_reply_error("=4\r\ntxt:X\n", "expected CRLF after bulk data");
    for (auto in : {"%-1\r\n", "~-1\r\n", ">-1\r\n", "%x\r\n"}) expect_reply_error(in, "invalid multibulk length");
    expect_reply_error("%1025\r\n", "too many array elements");
    CHECK(feed_reply(whole("%1024\r\n")).status == Status::incomplete);  // 1024 pairs: within the limit
    Limits shallow;
    shallow.max_depth = 1;
    expect_reply_error("%1\r\n+k\r\n~1\r\n:1\r\n", "nested too deep", shallow);
}

TEST_CASE("RESP3 encoders, and what they send in RESP2") {
    std::string out;
    append_null(out, 3);
    append_null(out, 2);
    append_map(out, 2, 3);
    append_map(out, 2, 2);
    append_verbatim(out, "a:1\r\n", 3);
    append_verbatim(out, "a:1\r\n", 2);
    CHECK(out == "_\r\n$-1\r\n%2\r\n*4\r\n=9\r\ntxt:a:1\r\n\r\n$5\r\na:1\r\n\r\n");
}

TEST_CASE("reply limits: nesting depth and sizes") {
    Limits l;
    l.max_depth = 2;
    l.max_bulk = 3;
    l.max_args = 2;
    auto o = feed_reply(whole("*1\r\n*2\r\n:1\r\n*0\r\n"), l);  // depth 2 (and an empty 3rd)
    CHECK(o.status == Status::ok);
    CHECK(o.args == "[[:1, []]]");
    expect_reply_error("*1\r\n*1\r\n*1\r\n:1\r\n", "nested too deep", l);
    expect_reply_error("*2\r\n*1\r\n:1\r\n*1\r\n*1\r\n*1\r\n:2\r\n", "nested too deep", l);
    CHECK(feed_reply(whole("$3\r\nabc\r\n"), l).status == Status::ok);
    expect_reply_error("$4\r\nabcd\r\n", "bulk length exceeds", l);
    expect_reply_error("*3\r\n", "too many array elements", l);
}

// ------------------------------------------------------------------ encoders

TEST_CASE("encoders produce the exact bytes") {
    std::string out = "prefix|";  // encoders append
    for (std::int64_t n : {std::int64_t{0}, std::int64_t{-5}, std::numeric_limits<std::int64_t>::min(),
                           std::numeric_limits<std::int64_t>::max()})
        append_int(out, n);
    CHECK(out == "prefix|:0\r\n:-5\r\n:-9223372036854775808\r\n:9223372036854775807\r\n");

    out.clear();
    append_bulk(out, "");
    append_bulk(out, "a\r\n\0b"s);
    append_nil(out);
    append_array(out, 0);
    append_array(out, 12);
    CHECK(out == "$0\r\n\r\n$5\r\na\r\n\0b\r\n$-1\r\n*0\r\n*12\r\n"s);

    out.clear();
    std::vector<std::string_view> cmd = {"SET", "k", ""};
    append_command(out, cmd);
    CHECK(out == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");

    out.clear();
    append_simple(out, "OK");
    append_simple(out, "a\r\nb\rc\nd");  // CR and LF become spaces
    append_error(out, "ERR bad\nthing\r");
    append_error(out, "");
    CHECK(out == "+OK\r\n+a  b c d\r\n-ERR bad thing \r\n-\r\n");

    CHECK(type_name(Value::Type::simple) == "status");
    CHECK(type_name(Value::Type::bulk) == "bulk string");
    CHECK(type_name(Value::Type::nil) == "nil");
}

TEST_CASE("field: a map's value by key, as ReplyParser gives a map (keys and values in turn)") {
    Value map;
    ReplyParser p;
    REQUIRE(p.parse("%3\r\n+name\r\n+worker\r\n+pid\r\n:42\r\n+last\r\n_\r\n", map) == Status::ok);
    REQUIRE(field(map, "name"));
    CHECK(field(map, "name")->str == "worker");
    CHECK(field(map, "pid")->integer == 42);
    CHECK(field(map, "last")->type == Value::Type::nil);  // present, and null
    CHECK(field(map, "worker") == nullptr);               // a value is no key
    CHECK(field(map, "missing") == nullptr);
    Value odd;  // a key without its value
    REQUIRE(ReplyParser().parse("*3\r\n+a\r\n:1\r\n+b\r\n", odd) == Status::ok);
    CHECK(field(odd, "a")->integer == 1);
    CHECK(field(odd, "b") == nullptr);
    Value scalar;
    scalar.type = Value::Type::bulk;
    scalar.str = "name";
    CHECK(field(scalar, "name") == nullptr);
}

TEST_CASE("append_command round-trips through RequestParser") {
    std::vector<std::string_view> cmd = {"INCREMENT", "", "a\r\nb", std::string_view("\0\n", 2)};
    std::string wire;
    append_command(wire, cmd);
    for (const auto& pieces : feedings(wire)) {
        auto o = feed_request(pieces);
        REQUIRE(o.status == Status::ok);
        CHECK(o.args == show(cmd));
        CHECK(o.consumed == wire.size());
    }
}

TEST_CASE("append_value round-trips through ReplyParser") {
    const Value v = array({
        simple("OK"), err("ERR no such key"), integer(std::numeric_limits<std::int64_t>::min()),
        bulk("bin\r\n\0ary"s), bulk(""), nil(), array({}),
        array({integer(1), array({bulk("deep"), array({simple("deeper")})})}),
    });
    std::string wire;
    append_value(wire, v);
    for (const auto& pieces : feedings(wire)) {
        auto o = feed_reply(pieces);
        REQUIRE(o.status == Status::ok);
        CHECK(o.args == describe(v));
        CHECK(o.consumed == wire.size());
    }
    wire.clear();
    append_value(wire, array({integer(1), array({bulk("a"), nil()}), array({})}));
    CHECK(wire == "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n*0\r\n");
    // CR/LF in a status or an error are flattened, so the framing survives.
    wire.clear();
    append_value(wire, array({simple("a\r\nb"), err("c\nd"), integer(7)}));
    auto o = feed_reply(whole(wire));
    REQUIRE(o.status == Status::ok);
    CHECK(o.args == describe(array({simple("a  b"), err("c d"), integer(7)})));
}
