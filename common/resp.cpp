#include "resp.hpp"

#include <charconv>

namespace seq::resp {

namespace {

// A header line ("*3", "$12", ":-5") is short; anything longer without a
// newline is garbage, and waiting for more of it would only buffer garbage.
constexpr std::size_t max_header = 32;

// Finds the end of the line that starts at `from`: the index of its '\r',
// which must be followed by '\n'. npos while the line is incomplete.
struct Line {
    enum { incomplete, ok, bad } state;
    std::size_t end;  // index of '\r' (ok), or of '\n' (bad)
};

Line find_crlf(std::string_view in, std::size_t from) {
    auto nl = in.find('\n', from);
    if (nl == std::string_view::npos) return {Line::incomplete, 0};
    if (nl == from || in[nl - 1] != '\r') return {Line::bad, nl};
    return {Line::ok, nl - 1};
}

std::string printable(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    static constexpr char hex[] = "0123456789abcdef";
    return std::string("\\x") + hex[u >> 4] + hex[u & 15];
}

}  // namespace

std::optional<std::int64_t> parse_int(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    // from_chars accepts "-0" and leading zeros; a canonical form keeps the
    // grammar unambiguous.
    if ((s[0] == '0' && s.size() > 1) || (s[0] == '-' && (s.size() == 1 || s[1] == '0')))
        return std::nullopt;
    return v;
}

// ---------------------------------------------------------------- requests

Status RequestParser::fail(std::string msg) {
    error_ = std::move(msg);
    return Status::error;
}

void RequestParser::reset() {
    phase_ = Phase::start;
    pos_ = 0;
    expected_ = 0;
    bulk_len_ = 0;
    spans_.clear();
}

Status RequestParser::parse(std::string_view in, std::vector<std::string_view>& args) {
    args.clear();
    if (phase_ == Phase::start) {
        if (in.empty()) return Status::incomplete;
        phase_ = in[0] == '*' ? Phase::array_len : Phase::inline_line;
    }
    return phase_ == Phase::inline_line ? parse_inline(in, args) : parse_multibulk(in, args);
}

Status RequestParser::parse_inline(std::string_view in, std::vector<std::string_view>& args) {
    auto nl = in.find('\n', pos_);
    if (nl == std::string_view::npos) {
        if (in.size() > limits_.max_inline) return fail("too big inline request");
        pos_ = in.size();
        return Status::incomplete;
    }
    if (nl > limits_.max_inline) return fail("too big inline request");
    auto line = in.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
        if (j > i) {
            if (args.size() == limits_.max_args) {
                args.clear();
                return fail("too many arguments (the limit is " + std::to_string(limits_.max_args) + ")");
            }
            args.push_back(line.substr(i, j - i));
        }
        i = j;
    }
    consumed_ = nl + 1;
    reset();
    return Status::ok;
}

Status RequestParser::parse_multibulk(std::string_view in, std::vector<std::string_view>& args) {
    for (;;) {
        switch (phase_) {
        case Phase::array_len: {
            auto line = find_crlf(in, 0);
            if (line.state == Line::incomplete) {
                if (in.size() > max_header) return fail("invalid multibulk length");
                return Status::incomplete;
            }
            if (line.state == Line::bad) return fail("invalid multibulk length");
            auto n = parse_int(in.substr(1, line.end - 1));
            if (!n || *n < 0) return fail("invalid multibulk length");
            if (static_cast<std::uint64_t>(*n) > limits_.max_args)
                return fail("too many arguments (the limit is " + std::to_string(limits_.max_args) + ")");
            expected_ = static_cast<std::size_t>(*n);
            pos_ = line.end + 2;
            if (expected_ == 0) {  // "*0": an empty request, ignored as Redis does
                consumed_ = pos_;
                reset();
                return Status::ok;
            }
            phase_ = Phase::bulk_len;
            break;
        }
        case Phase::bulk_len: {
            if (pos_ >= in.size()) return Status::incomplete;
            if (in[pos_] != '$') return fail("expected '$', got '" + printable(in[pos_]) + "'");
            auto line = find_crlf(in, pos_);
            if (line.state == Line::incomplete) {
                if (in.size() - pos_ > max_header) return fail("invalid bulk length");
                return Status::incomplete;
            }
            if (line.state == Line::bad) return fail("invalid bulk length");
            auto n = parse_int(in.substr(pos_ + 1, line.end - pos_ - 1));
            if (!n || *n < 0) return fail("invalid bulk length");
            if (static_cast<std::uint64_t>(*n) > limits_.max_bulk)
                return fail("bulk length exceeds the limit of " + std::to_string(limits_.max_bulk) + " bytes");
            bulk_len_ = static_cast<std::size_t>(*n);
            pos_ = line.end + 2;
            if (pos_ + bulk_len_ + 2 > limits_.max_request)
                return fail("request exceeds the limit of " + std::to_string(limits_.max_request) + " bytes");
            phase_ = Phase::bulk_data;
            break;
        }
        case Phase::bulk_data: {
            if (in.size() < pos_ + bulk_len_ + 2) return Status::incomplete;
            if (in[pos_ + bulk_len_] != '\r' || in[pos_ + bulk_len_ + 1] != '\n')
                return fail("expected CRLF after bulk data");
            spans_.emplace_back(pos_, bulk_len_);
            pos_ += bulk_len_ + 2;
            if (spans_.size() == expected_) {
                args.reserve(spans_.size());
                for (auto [off, len] : spans_) args.push_back(in.substr(off, len));
                consumed_ = pos_;
                reset();
                return Status::ok;
            }
            phase_ = Phase::bulk_len;
            break;
        }
        case Phase::start:
        case Phase::inline_line:
            return fail("internal parser state");  // unreachable by construction
        }
    }
}

// ----------------------------------------------------------------- replies

Status ReplyParser::fail(std::string msg) {
    error_ = std::move(msg);
    return Status::error;
}

std::string_view type_name(Value::Type t) {
    switch (t) {
    case Value::Type::simple: return "status";
    case Value::Type::error: return "error";
    case Value::Type::integer: return "integer";
    case Value::Type::bulk: return "bulk string";
    case Value::Type::nil: return "nil";
    case Value::Type::array: return "array";
    }
    return "?";
}

const Value* field(const Value& map, std::string_view key) {
    if (map.type != Value::Type::array) return nullptr;
    for (std::size_t i = 0; i + 1 < map.elems.size(); i += 2)
        if (map.elems[i].str == key) return &map.elems[i + 1];
    return nullptr;
}

Status ReplyParser::parse(std::string_view in, Value& out) {
    for (;;) {
        Value v;
        if (bulk_len_) {
            auto len = *bulk_len_;
            if (in.size() < pos_ + len + 2) return Status::incomplete;
            if (in[pos_ + len] != '\r' || in[pos_ + len + 1] != '\n')
                return fail("expected CRLF after bulk data");
            v.type = bulk_type_ == '!' ? Value::Type::error : Value::Type::bulk;
            v.str.assign(in.substr(pos_, len));
            // An error is one line here, as a simple error is: one that could
            // not be encoded again as it came is refused, not mangled.
            if (bulk_type_ == '!' && v.str.find_first_of("\r\n") != std::string::npos)
                return fail("a blob error with CR or LF inside");
            if (bulk_type_ == '=') {  // "txt:..." or "mkd:...": the format, then the text
                if (len < 4 || v.str[3] != ':') return fail("verbatim string without its format");
                v.str.erase(0, 4);
            }
            pos_ += len + 2;
            bulk_len_.reset();
        } else {
            if (pos_ >= in.size()) return Status::incomplete;
            auto line = find_crlf(in, pos_);
            char type = in[pos_];
            // The same verdict whether the line arrived whole or in pieces: a
            // piece may end in the line's CR, hence the one byte of slack.
            std::size_t limit = type == '+' || type == '-' || type == ',' || type == '(' ? limits_.max_inline : max_header;
            if (line.state == Line::incomplete) {
                if (in.size() - pos_ > limit + 1) return fail("reply line too long");
                return Status::incomplete;
            }
            if (line.state == Line::bad) {
                if (line.end - pos_ > limit + 1) return fail("reply line too long");
                return fail("expected CRLF at end of reply line");
            }
            if (line.end - pos_ > limit) return fail("reply line too long");
            auto body = in.substr(pos_ + 1, line.end - pos_ - 1);
            pos_ = line.end + 2;
            switch (type) {
            case '+':
            case '-':
                if (body.find('\r') != std::string_view::npos) return fail("stray CR in a status or error reply");
                v.type = type == '+' ? Value::Type::simple : Value::Type::error;
                v.str.assign(body);
                break;
            case ':': {
                auto n = parse_int(body);
                if (!n) return fail("invalid integer reply");
                v.type = Value::Type::integer;
                v.integer = *n;
                break;
            }
            case '$':
            case '=':
            case '!': {
                auto n = parse_int(body);
                if (!n || *n < (type == '$' ? -1 : 0)) return fail("invalid bulk length");
                if (*n == -1) break;  // nil
                if (static_cast<std::uint64_t>(*n) > limits_.max_bulk)
                    return fail("bulk length exceeds the limit");
                bulk_len_ = static_cast<std::size_t>(*n);
                bulk_type_ = type;
                continue;
            }
            case '_':
                if (!body.empty()) return fail("invalid null reply");
                break;  // nil
            case '#':
                if (body != "t" && body != "f") return fail("invalid boolean reply");
                v.type = Value::Type::integer;
                v.integer = body == "t" ? 1 : 0;
                break;
            case ',':
            case '(':
                if (body.empty() || body.size() > 400 || body.find('\r') != std::string_view::npos)
                    return fail(type == ',' ? "invalid double reply" : "invalid big number reply");
                v.type = Value::Type::bulk;
                v.str.assign(body);
                break;
            case '*':
            case '%':
            case '~':
            case '>': {
                auto n = parse_int(body);
                if (!n || *n < (type == '*' ? -1 : 0)) return fail("invalid multibulk length");
                if (*n == -1) break;  // nil array
                // A map's pairs count twice: its keys and its values.
                auto elems = static_cast<std::uint64_t>(*n) * (type == '%' ? 2 : 1);
                if (static_cast<std::uint64_t>(*n) > limits_.max_args || elems > 2 * limits_.max_args)
                    return fail("too many array elements");
                v.type = Value::Type::array;
                if (elems > 0) {
                    if (stack_.size() == limits_.max_depth) return fail("arrays nested too deep");
                    stack_.push_back({std::move(v), static_cast<std::size_t>(elems)});
                    continue;
                }
                break;
            }
            default:
                return fail("unknown reply type '" + printable(type) + "'");
            }
        }
        // A complete value: it fills the innermost open array, or is the reply.
        for (;;) {
            if (stack_.empty()) {
                out = std::move(v);
                consumed_ = pos_;
                pos_ = 0;
                return Status::ok;
            }
            auto& top = stack_.back();
            top.value.elems.push_back(std::move(v));
            if (--top.remaining > 0) break;
            v = std::move(top.value);
            stack_.pop_back();
        }
    }
}

// ---------------------------------------------------------------- encoders

namespace {
void append_line(std::string& out, char type, std::string_view s) {
    out += type;
    out += s;
    out += "\r\n";
}
void append_number(std::string& out, char type, std::int64_t n) {
    char buf[24];
    buf[0] = type;
    auto r = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
    *r.ptr++ = '\r';
    *r.ptr++ = '\n';
    out.append(buf, r.ptr);
}
// Simple strings and errors cannot hold CR or LF; replace them so a message
// with a stray newline cannot break the framing.
std::string one_line(std::string_view s) {
    std::string r(s);
    for (auto& c : r)
        if (c == '\r' || c == '\n') c = ' ';
    return r;
}
}  // namespace

void append_simple(std::string& out, std::string_view s) { append_line(out, '+', one_line(s)); }
void append_error(std::string& out, std::string_view msg) { append_line(out, '-', one_line(msg)); }
void append_int(std::string& out, std::int64_t n) { append_number(out, ':', n); }
void append_nil(std::string& out) { out += "$-1\r\n"; }
void append_null(std::string& out, int proto) { out += proto == 3 ? "_\r\n" : "$-1\r\n"; }

void append_null_array(std::string& out, int proto) { out += proto == 3 ? "_\r\n" : "*-1\r\n"; }

void append_map(std::string& out, std::size_t pairs, int proto) {
    if (proto == 3) append_number(out, '%', static_cast<std::int64_t>(pairs));
    else append_array(out, 2 * pairs);
}

void append_verbatim(std::string& out, std::string_view text, int proto) {
    if (proto != 3) return append_bulk(out, text);
    append_number(out, '=', static_cast<std::int64_t>(text.size() + 4));
    out += "txt:";
    out += text;
    out += "\r\n";
}
void append_array(std::string& out, std::size_t n) { append_number(out, '*', static_cast<std::int64_t>(n)); }

void append_bulk(std::string& out, std::string_view s) {
    append_number(out, '$', static_cast<std::int64_t>(s.size()));
    out += s;
    out += "\r\n";
}

void append_command(std::string& out, std::span<const std::string_view> args) {
    append_array(out, args.size());
    for (auto a : args) append_bulk(out, a);
}

void append_value(std::string& out, const Value& v) {
    switch (v.type) {
    case Value::Type::simple: append_simple(out, v.str); break;
    case Value::Type::error: append_error(out, v.str); break;
    case Value::Type::integer: append_int(out, v.integer); break;
    case Value::Type::bulk: append_bulk(out, v.str); break;
    case Value::Type::nil: append_nil(out); break;
    case Value::Type::array:
        append_array(out, v.elems.size());
        for (const auto& e : v.elems) append_value(out, e);
        break;
    }
}

}  // namespace seq::resp
