// RESP, the Redis protocol: one incremental parser for requests (servers)
// and replies (clients, RESP2 and RESP3), and the encoders for both
// directions. A connection speaks RESP2 until HELLO 3 chooses RESP3; the
// encoders that differ take the protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace seq::resp {

struct Limits {
    std::size_t max_bulk = 1 << 20;          // one bulk string
    std::size_t max_args = 1024;             // elements of one request array
    std::size_t max_inline = 64 << 10;       // one inline command line
    std::size_t max_request = 4 << 20;       // bytes of one whole request
    std::size_t max_depth = 8;               // nesting of arrays in replies
};

// For a tree's state (a supervisor's STATUS, and the snapshots between
// supervisors): an array per child, at any depth a tree file nests, for
// trees of many thousands of children.
inline Limits tree_state_limits() {
    Limits l;
    l.max_args = 1 << 20;
    l.max_depth = 256;
    return l;
}

enum class Status { ok, incomplete, error };

// Parses a strictly formed signed 64-bit decimal ("-12", "0"; no "+", no spaces).
std::optional<std::int64_t> parse_int(std::string_view s);

// Parses requests: arrays of bulk strings, or inline commands split on spaces.
//
// Call parse() with every byte received and not yet consumed, from its first
// byte on; between calls the buffer may grow or move, but its prefix must not
// change. The parser remembers how far it got, so a request that arrives one
// byte at a time costs linear work, not quadratic.
class RequestParser {
public:
    explicit RequestParser(Limits limits = {}) : limits_(limits) {}

    // ok: `args` views the request inside `in`; drop consumed() bytes after use.
    // error: the connection must be closed; error() says why.
    Status parse(std::string_view in, std::vector<std::string_view>& args);
    std::size_t consumed() const { return consumed_; }
    const std::string& error() const { return error_; }

private:
    Status fail(std::string msg);
    Status parse_inline(std::string_view in, std::vector<std::string_view>& args);
    Status parse_multibulk(std::string_view in, std::vector<std::string_view>& args);
    void reset();

    enum class Phase { start, inline_line, array_len, bulk_len, bulk_data };
    Limits limits_;
    Phase phase_ = Phase::start;
    std::size_t pos_ = 0;          // bytes of `in` already examined
    std::size_t expected_ = 0;     // elements announced by the array header
    std::size_t bulk_len_ = 0;
    std::vector<std::pair<std::size_t, std::size_t>> spans_;  // offset, length
    std::size_t consumed_ = 0;
    std::string error_;
};

// A reply, as a client sees it.
struct Value {
    enum class Type { simple, error, integer, bulk, nil, array };
    Type type = Type::nil;
    std::string str;              // simple, error, bulk
    std::int64_t integer = 0;     // integer
    std::vector<Value> elems;     // array

    bool is_error() const { return type == Type::error; }
};

std::string_view type_name(Value::Type t);

// A map as ReplyParser gives it, its keys and values in turn: the value at
// `key`, or null (null too if `map` is no array).
const Value* field(const Value& map, std::string_view key);

// Parses replies of any RESP2 or RESP3 type, nested aggregates included.
// RESP3's null is nil; a map comes as an array of its keys and values in
// turn (as RESP2 sends it), a set or push as an array; a verbatim string as
// bulk (its "txt:" format dropped); a blob error as an error; a boolean as
// the integer 1 or 0; a double or big number as its text in bulk. Same
// contract for `in` as RequestParser.
class ReplyParser {
public:
    explicit ReplyParser(Limits limits = {}) : limits_(limits) {}
    Status parse(std::string_view in, Value& out);
    std::size_t consumed() const { return consumed_; }
    const std::string& error() const { return error_; }

private:
    Status fail(std::string msg);
    struct Frame {
        Value value;
        std::size_t remaining;
    };
    Limits limits_;
    std::size_t pos_ = 0;
    std::size_t consumed_ = 0;
    std::optional<std::size_t> bulk_len_;  // set while waiting for bulk data
    char bulk_type_ = '$';                 // '$', '=' (verbatim) or '!' (blob error)
    std::vector<Frame> stack_;             // open arrays
    std::string error_;
};

// Encoders append to `out`, so a whole batch of replies goes out in one write.
void append_simple(std::string& out, std::string_view s);
void append_error(std::string& out, std::string_view msg);  // msg without "-"
void append_int(std::string& out, std::int64_t n);
void append_bulk(std::string& out, std::string_view s);
void append_nil(std::string& out);
// What differs in RESP3 (proto 3): null, a map's header (RESP2: a flat array
// of keys and values), and verbatim text (RESP2: bulk).
void append_null(std::string& out, int proto);
// A null array (EXEC of a transaction a WATCH spoiled): *-1 in RESP2.
void append_null_array(std::string& out, int proto);
void append_map(std::string& out, std::size_t pairs, int proto);
void append_verbatim(std::string& out, std::string_view text, int proto);
void append_array(std::string& out, std::size_t n);
void append_command(std::string& out, std::span<const std::string_view> args);
void append_value(std::string& out, const Value& v);

}  // namespace seq::resp
