// libFuzzer target for the RESP parser: any bytes, cut into pieces at places
// the input itself chooses, must parse exactly as the same bytes whole, and
// never outside the limits. Run by scripts/fuzz.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resp.hpp"

namespace {

using namespace seq::resp;

void require(bool ok) {
    if (!ok) __builtin_trap();
}

struct RequestRun {
    std::vector<std::vector<std::string>> requests;
    Status last = Status::incomplete;
    std::string error;
};

// Feeds `data` in pieces cut at `cuts`, following the parser's contract: the
// whole unconsumed buffer each call, consumed bytes dropped after ok.
RequestRun run_requests(std::string_view data, const std::vector<std::size_t>& cuts, const Limits& limits) {
    RequestParser p(limits);
    RequestRun r;
    std::string buf;
    std::vector<std::string_view> args;
    std::size_t at = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        std::size_t end = i < cuts.size() ? cuts[i] : data.size();
        if (end < at) continue;
        buf.append(data.substr(at, end - at));
        at = end;
        for (;;) {
            auto st = p.parse(buf, args);
            r.last = st;
            if (st == Status::incomplete) break;
            if (st == Status::error) {
                r.error = p.error();
                return r;
            }
            require(p.consumed() > 0 && p.consumed() <= buf.size());
            require(args.size() <= limits.max_args);
            std::vector<std::string> got;
            for (auto a : args) {
                require(a.data() >= buf.data() && a.data() + a.size() <= buf.data() + buf.size());
                require(a.size() <= std::max(limits.max_bulk, limits.max_inline));  // inline args: the line limit
                got.emplace_back(a);
            }
            r.requests.push_back(std::move(got));
            buf.erase(0, p.consumed());
        }
    }
    return r;
}

struct ReplyRun {
    std::vector<Value> replies;
    Status last = Status::incomplete;
    std::string error;
};

ReplyRun run_replies(std::string_view data, const std::vector<std::size_t>& cuts, const Limits& limits) {
    ReplyParser p(limits);
    ReplyRun r;
    std::string buf;
    std::size_t at = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        std::size_t end = i < cuts.size() ? cuts[i] : data.size();
        if (end < at) continue;
        buf.append(data.substr(at, end - at));
        at = end;
        for (;;) {
            Value v;
            auto st = p.parse(buf, v);
            r.last = st;
            if (st == Status::incomplete) break;
            if (st == Status::error) {
                r.error = p.error();
                return r;
            }
            require(p.consumed() > 0 && p.consumed() <= buf.size());
            r.replies.push_back(std::move(v));
            buf.erase(0, p.consumed());
        }
    }
    return r;
}

bool equal(const Value& a, const Value& b) {
    if (a.type != b.type || a.str != b.str || a.integer != b.integer || a.elems.size() != b.elems.size())
        return false;
    for (std::size_t i = 0; i < a.elems.size(); ++i)
        if (!equal(a.elems[i], b.elems[i])) return false;
    return true;
}

void check(std::string_view data, const std::vector<std::size_t>& cuts, const Limits& limits) {
    auto whole = run_requests(data, {}, limits);
    auto split = run_requests(data, cuts, limits);
    require(whole.requests == split.requests);
    require(whole.last == split.last && whole.error == split.error);

    auto rwhole = run_replies(data, {}, limits);
    auto rsplit = run_replies(data, cuts, limits);
    require(rwhole.replies.size() == rsplit.replies.size());
    require(rwhole.last == rsplit.last && rwhole.error == rsplit.error);
    for (std::size_t i = 0; i < rwhole.replies.size(); ++i) {
        require(equal(rwhole.replies[i], rsplit.replies[i]));
        // What we encode, we parse back to the same value.
        std::string again;
        append_value(again, rwhole.replies[i]);
        auto back = run_replies(again, {}, Limits{.max_bulk = SIZE_MAX, .max_args = SIZE_MAX, .max_inline = SIZE_MAX,
                                                  .max_request = SIZE_MAX, .max_depth = SIZE_MAX});
        require(back.replies.size() == 1 && equal(back.replies[0], rwhole.replies[i]));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 2) return 0;
    // The first two bytes choose where to cut the rest.
    std::size_t stride = bytes[0] % 17 + 1;
    std::size_t offset = bytes[1] % stride;
    std::string_view data(reinterpret_cast<const char*>(bytes) + 2, size - 2);
    std::vector<std::size_t> cuts;
    for (std::size_t c = offset; c < data.size(); c += stride) cuts.push_back(c);
    check(data, cuts, Limits{});
    // Tiny limits, so that the limit paths are reached by short inputs too.
    check(data, cuts, Limits{.max_bulk = 5, .max_args = 3, .max_inline = 12, .max_request = 40, .max_depth = 2});
    return 0;
}
