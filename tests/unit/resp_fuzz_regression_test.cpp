// Inputs scripts/fuzz once found wrong, kept as regression tests. Each is
// also in tests/fuzz/corpus/regression-*.
#include <doctest/doctest.h>

#include <string>

#include "resp.hpp"

using namespace seq::resp;

namespace {
// The verdict on `in` when fed whole, and when fed `step` bytes at a time.
std::string verdict(std::string_view in, std::size_t step) {
    ReplyParser p;
    std::string buf;
    for (std::size_t at = 0; at < in.size(); at += step) {
        buf.append(in.substr(at, step));
        for (;;) {
            Value v;
            auto st = p.parse(buf, v);
            if (st == Status::incomplete) break;
            if (st == Status::error) return "error: " + p.error();
            buf.erase(0, p.consumed());
        }
    }
    return "ok";
}
}  // namespace

TEST_CASE("a long reply line without CR gets one verdict, however it arrives") {
    // 34 bytes of a non-text type, then "*\n": too long, not "expected CRLF".
    std::string in(34, '\0');
    in += "*\n";
    CHECK(verdict(in, in.size()) == "error: reply line too long");
    CHECK(verdict(in, 2) == "error: reply line too long");
    CHECK(verdict(in, 1) == "error: reply line too long");
}

TEST_CASE("a status reply with a stray CR inside is refused") {
    // It could not be encoded again: append_simple turns the CR into a space.
    std::string in = "*1\r\n+\xff\xff$4\r\x08NE,XT\r\n";
    CHECK(verdict(in, in.size()) == "error: stray CR in a status or error reply");
    CHECK(verdict(in, 1) == "error: stray CR in a status or error reply");
    CHECK(verdict("-ERR a\rb\r\n", 3) == "error: stray CR in a status or error reply");
}

TEST_CASE("a RESP3 blob error with CR or LF inside is refused, as it could not be encoded again") {
    // Found by scripts/fuzz: "!7\r\nERR\r\n%0\r\n" parsed to an error whose text
    // held CRLF; append_error would have sent it back as "ERR  %0".
    std::string in = ":12\r\n!7\r\nERR\r\n%0\r\n";
    CHECK(verdict(in, in.size()) == "error: a blob error with CR or LF inside");
    CHECK(verdict(in, 1) == "error: a blob error with CR or LF inside");
    CHECK(verdict("!3\r\na\nb\r\n", 2) == "error: a blob error with CR or LF inside");
    CHECK(verdict("!5\r\nERR x\r\n", 1) == "ok");
}
