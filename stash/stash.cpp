#include "stash.hpp"

#include <limits>
#include <optional>

#include "commands.hpp"
#include "glob.hpp"
#include "resp.hpp"

namespace seq::stash {

namespace {

using Args = std::span<const std::string_view>;
constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();
constexpr auto int64_min = std::numeric_limits<std::int64_t>::min();

const char* const not_integer = "ERR value is not an integer or out of range";
const char* const syntax_error = "ERR syntax error";

std::string invalid_expire(std::string_view cmd) {
    return "ERR invalid expire time in '" + lowercase(cmd) + "' command";
}

// A key as a reader sees it: one whose time has come is gone (expiry is
// lazy on access; the sweep removes it from the store later).
std::optional<Entry> live(Context& ctx, std::string_view key) {
    auto e = ctx.store.get(key);
    if (e && e->expires_ms > 0 && e->expires_ms <= ctx.now_ms) return std::nullopt;
    return e;
}

void note_expiry(Context& ctx, std::int64_t expires_ms) {
    if (expires_ms > 0 && (ctx.soonest_expiry == 0 || expires_ms < ctx.soonest_expiry))
        ctx.soonest_expiry = expires_ms;
}

void write(Context& ctx, std::string_view key, std::string_view value, std::int64_t expires_ms) {
    ctx.store.put(key, value, expires_ms);
    ctx.watches.touch(key);
    note_expiry(ctx, expires_ms);
}

bool remove(Context& ctx, std::string_view key) {
    bool was_live = live(ctx, key).has_value();
    if (ctx.store.del(key)) ctx.watches.touch(key);
    return was_live;
}

// Gives a live key the time `when_ms`, or none. A time already past (0 and
// below too: EXPIREAT key 0) deletes it, as in Redis.
void retime(Context& ctx, std::string_view key, std::optional<std::int64_t> when_ms) {
    if (when_ms && *when_ms <= ctx.now_ms) {
        remove(ctx, key);
        return;
    }
    ctx.store.set_expiry(key, when_ms.value_or(0));
    ctx.watches.touch(key);
    note_expiry(ctx, when_ms.value_or(0));
}

void bulk_or_null(Context& ctx, std::string& out, const std::optional<Entry>& e) {
    if (e)
        resp::append_bulk(out, e->value);
    else
        resp::append_null(out, ctx.proto);
}

// A relative or absolute time, in seconds or milliseconds, as an absolute
// Unix millisecond; nullopt if it is not an integer or overflows. `positive`:
// a relative time must be above zero (SET EX 0 is refused, EXPIRE 0 is not).
// Or, as Redis says it, why not: not an integer at all, or a time out of range.
std::optional<std::int64_t> deadline(Context& ctx, std::string_view arg, bool seconds, bool absolute, bool positive,
                                     std::string_view cmd, std::string& why) {
    auto v = resp::parse_int(arg);
    if (!v) return why = not_integer, std::nullopt;
    why = invalid_expire(cmd);
    if (positive && *v <= 0) return std::nullopt;
    auto n = *v;
    if (seconds) {
        if (n > int64_max / 1000 || n < int64_min / 1000) return std::nullopt;
        n *= 1000;
    }
    if (!absolute) {
        if ((n > 0 && ctx.now_ms > int64_max - n) || (n < 0 && ctx.now_ms < int64_min - n)) return std::nullopt;
        n += ctx.now_ms;
    }
    return n;
}

// -------------------------------------------------------------- strings

void get(Context& ctx, Args a, std::string& out) { bulk_or_null(ctx, out, live(ctx, a[1])); }

// EX s | PX ms | EXAT s | PXAT ms, as SET and GETEX take them. As Redis 7,
// the same one may be given again (the last time wins), two different ones
// exclude each other, and the time is read only after all the options.
struct TimeOption {
    enum class Unit { none, ex, px, exat, pxat };
    Unit unit = Unit::none;
    std::string_view when;  // its argument

    static Unit unit_of(std::string_view opt) {
        if (is_command(opt, "ex")) return Unit::ex;
        if (is_command(opt, "px")) return Unit::px;
        if (is_command(opt, "exat")) return Unit::exat;
        if (is_command(opt, "pxat")) return Unit::pxat;
        return Unit::none;
    }
    // Takes a[i] and the argument after it if they are such an option and it
    // fits what came before, moving i past them.
    bool take(Args a, std::size_t& i) {
        auto u = unit_of(a[i]);
        if (u == Unit::none || i + 1 >= a.size() || (given() && u != unit)) return false;
        unit = u;
        when = a[++i];
        return true;
    }
    bool given() const { return unit != Unit::none; }
    std::optional<std::int64_t> deadline_ms(Context& ctx, std::string_view cmd, std::string& why) const {
        return deadline(ctx, when, unit == Unit::ex || unit == Unit::exat, unit == Unit::exat || unit == Unit::pxat,
                        true, cmd, why);
    }
};

// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
void set(Context& ctx, Args a, std::string& out) {
    bool nx = false, xx = false, get_old = false, keep_ttl = false;
    TimeOption time;
    for (std::size_t i = 3; i < a.size(); ++i) {
        auto opt = a[i];
        if (is_command(opt, "nx") && !xx) {
            nx = true;
        } else if (is_command(opt, "xx") && !nx) {
            xx = true;
        } else if (is_command(opt, "get")) {
            get_old = true;
        } else if (is_command(opt, "keepttl") && !time.given()) {
            keep_ttl = true;
        } else if (keep_ttl || !time.take(a, i)) {
            return resp::append_error(out, syntax_error);
        }
    }
    std::optional<std::int64_t> expires;
    if (time.given()) {
        std::string why;
        expires = time.deadline_ms(ctx, "set", why);
        if (!expires) return resp::append_error(out, why);
    }
    auto old = live(ctx, a[1]);
    bool go = !(nx && old) && !(xx && !old);
    if (go) write(ctx, a[1], a[2], expires ? *expires : keep_ttl && old ? old->expires_ms : 0);
    if (get_old)
        bulk_or_null(ctx, out, old);
    else if (go)
        resp::append_simple(out, "OK");
    else
        resp::append_null(out, ctx.proto);
}

void setnx(Context& ctx, Args a, std::string& out) {
    bool go = !live(ctx, a[1]);
    if (go) write(ctx, a[1], a[2], 0);
    resp::append_int(out, go ? 1 : 0);
}

// SETEX key seconds value, PSETEX key milliseconds value
void setex(Context& ctx, Args a, std::string& out) {
    std::string why;
    auto expires = deadline(ctx, a[2], is_command(a[0], "setex"), false, true, a[0], why);
    if (!expires) return resp::append_error(out, why);
    write(ctx, a[1], a[3], *expires);
    resp::append_simple(out, "OK");
}

void getset(Context& ctx, Args a, std::string& out) {
    auto old = live(ctx, a[1]);
    write(ctx, a[1], a[2], 0);
    bulk_or_null(ctx, out, old);
}

void getdel(Context& ctx, Args a, std::string& out) {
    auto old = live(ctx, a[1]);
    if (old) remove(ctx, a[1]);
    bulk_or_null(ctx, out, old);
}

// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]: GET, then sets or
// removes the key's time. As Redis 7.0: a missing key is a null whatever the
// time says, and a time already past (EXAT, PXAT) deletes the key.
void getex(Context& ctx, Args a, std::string& out) {
    bool persist = false;
    TimeOption time;
    for (std::size_t i = 2; i < a.size(); ++i) {
        if (is_command(a[i], "persist") && !time.given())
            persist = true;
        else if (persist || !time.take(a, i))
            return resp::append_error(out, syntax_error);
    }
    auto e = live(ctx, a[1]);
    if (!e) return resp::append_null(out, ctx.proto);
    std::optional<std::int64_t> when;
    if (time.given()) {
        std::string why;
        when = time.deadline_ms(ctx, "getex", why);
        if (!when) return resp::append_error(out, why);
    }
    resp::append_bulk(out, e->value);
    if (when || (persist && e->expires_ms != 0)) retime(ctx, a[1], when);
}

void mget(Context& ctx, Args a, std::string& out) {
    resp::append_array(out, a.size() - 1);
    for (auto key : a.subspan(1)) bulk_or_null(ctx, out, live(ctx, key));
}

void mset(Context& ctx, Args a, std::string& out) {
    if (a.size() % 2 == 0) return resp::append_error(out, wrong_args(a[0]));
    for (std::size_t i = 1; i < a.size(); i += 2) write(ctx, a[i], a[i + 1], 0);
    resp::append_simple(out, "OK");
}

// INCR, DECR, INCRBY n, DECRBY n: the value must be a 64-bit integer, and
// so must the result. The key keeps its TTL, as in Redis.
void incr(Context& ctx, Args a, std::string& out) {
    std::int64_t by = 1;
    bool down = is_command(a[0], "decr") || is_command(a[0], "decrby");
    if (a.size() == 3) {
        auto v = resp::parse_int(a[2]);
        if (!v) return resp::append_error(out, not_integer);
        if (down && *v == int64_min) return resp::append_error(out, "ERR decrement would overflow");
        by = *v;
    }
    if (down) by = -by;
    auto old = live(ctx, a[1]);
    std::int64_t now = 0;
    if (old) {
        auto v = resp::parse_int(old->value);
        if (!v) return resp::append_error(out, not_integer);
        now = *v;
    }
    if ((by > 0 && now > int64_max - by) || (by < 0 && now < int64_min - by))
        return resp::append_error(out, "ERR increment or decrement would overflow");
    now += by;
    write(ctx, a[1], std::to_string(now), old ? old->expires_ms : 0);
    resp::append_int(out, now);
}

// ------------------------------------------------------------------- keys

void del(Context& ctx, Args a, std::string& out) {
    std::int64_t n = 0;
    for (auto key : a.subspan(1)) n += remove(ctx, key) ? 1 : 0;
    resp::append_int(out, n);
}

void exists(Context& ctx, Args a, std::string& out) {
    std::int64_t n = 0;
    for (auto key : a.subspan(1)) n += live(ctx, key) ? 1 : 0;
    resp::append_int(out, n);
}

void type(Context& ctx, Args a, std::string& out) { resp::append_simple(out, live(ctx, a[1]) ? "string" : "none"); }

// EXPIRE key seconds [NX | XX | GT | LT], and PEXPIRE, EXPIREAT, PEXPIREAT.
void expire(Context& ctx, Args a, std::string& out) {
    bool seconds = is_command(a[0], "expire") || is_command(a[0], "expireat");
    bool absolute = is_command(a[0], "expireat") || is_command(a[0], "pexpireat");
    bool nx = false, xx = false, gt = false, lt = false;
    for (auto opt : a.subspan(3)) {
        if (is_command(opt, "nx")) nx = true;
        else if (is_command(opt, "xx")) xx = true;
        else if (is_command(opt, "gt")) gt = true;
        else if (is_command(opt, "lt")) lt = true;
        else return resp::append_error(out, "ERR Unsupported option " + std::string(opt.substr(0, 64)));
    }
    if (nx && (xx || gt || lt))
        return resp::append_error(out, "ERR NX and XX, GT or LT options at the same time are not compatible");
    if (gt && lt) return resp::append_error(out, "ERR GT and LT options at the same time are not compatible");
    std::string why;
    auto when = deadline(ctx, a[2], seconds, absolute, false, a[0], why);
    if (!when) return resp::append_error(out, why);
    auto e = live(ctx, a[1]);
    if (!e) return resp::append_int(out, 0);
    // With GT and LT, a key without a TTL counts as one that never expires.
    bool has = e->expires_ms > 0;
    if ((nx && has) || (xx && !has) || (gt && (!has || *when <= e->expires_ms)) ||
        (lt && has && *when >= e->expires_ms))
        return resp::append_int(out, 0);
    retime(ctx, a[1], when);
    resp::append_int(out, 1);
}

// TTL and PTTL: -2 for no key, -1 for a key that never expires.
void ttl(Context& ctx, Args a, std::string& out) {
    auto e = live(ctx, a[1]);
    if (!e) return resp::append_int(out, -2);
    if (e->expires_ms == 0) return resp::append_int(out, -1);
    auto left = e->expires_ms - ctx.now_ms;
    resp::append_int(out, is_command(a[0], "ttl") ? (left + 500) / 1000 : left);
}

void persist(Context& ctx, Args a, std::string& out) {
    auto e = live(ctx, a[1]);
    if (!e || e->expires_ms == 0) return resp::append_int(out, 0);
    retime(ctx, a[1], std::nullopt);
    resp::append_int(out, 1);
}

// KEYS and SCAN show a client only the keys it may touch.
bool visible(const Context& ctx, std::string_view key) { return !ctx.grants || ctx.grants->may(key); }

void keys(Context& ctx, Args a, std::string& out) {
    std::vector<std::string> found;
    std::uint64_t cursor = 0;
    do {
        auto page = ctx.store.scan(cursor, 1024);
        for (auto& [key, expires] : page.keys)
            if ((expires == 0 || expires > ctx.now_ms) && glob_match(a[1], key) && visible(ctx, key))
                found.push_back(std::move(key));
        cursor = page.next;
    } while (cursor != 0);
    resp::append_array(out, found.size());
    for (auto& k : found) resp::append_bulk(out, k);
}

// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]. COUNT is how many keys
// to look at, not to return, as in Redis.
void scan(Context& ctx, Args a, std::string& out) {
    auto c = resp::parse_int(a[1]);
    if (!c || *c < 0) return resp::append_error(out, "ERR invalid cursor");
    std::optional<std::string_view> match;
    std::int64_t count = 10;
    bool strings = true;
    for (std::size_t i = 2; i < a.size(); i += 2) {
        if (i + 1 >= a.size()) return resp::append_error(out, syntax_error);
        if (is_command(a[i], "match")) {
            match = a[i + 1];
        } else if (is_command(a[i], "count")) {
            auto n = resp::parse_int(a[i + 1]);
            if (!n) return resp::append_error(out, not_integer);
            if (*n < 1) return resp::append_error(out, syntax_error);
            count = std::min<std::int64_t>(*n, 100000);
        } else if (is_command(a[i], "type")) {
            strings = is_command(a[i + 1], "string");
        } else {
            return resp::append_error(out, syntax_error);
        }
    }
    auto page = ctx.store.scan(static_cast<std::uint64_t>(*c), static_cast<std::size_t>(count));
    std::vector<std::string_view> found;
    for (auto& [key, expires] : page.keys)
        if (strings && (expires == 0 || expires > ctx.now_ms) && (!match || glob_match(*match, key)) &&
            visible(ctx, key))
            found.push_back(key);
    resp::append_array(out, 2);
    resp::append_bulk(out, std::to_string(page.next));
    resp::append_array(out, found.size());
    for (auto k : found) resp::append_bulk(out, k);
}

void dbsize(Context& ctx, Args, std::string& out) { resp::append_int(out, static_cast<std::int64_t>(ctx.store.size())); }

// FLUSHDB and FLUSHALL wipe every key of every program in the tree: only a
// stash started with --allow-flush takes them.
void flushdb(Context& ctx, Args a, std::string& out) {
    if (a.size() > 2 || (a.size() == 2 && !is_command(a[1], "sync") && !is_command(a[1], "async")))
        return resp::append_error(out, syntax_error);
    if (!ctx.flush_allowed)
        return resp::append_error(out, "ERR " + lowercase(a[0]) +
                                           " is disabled on this stash: start seq-stash with --allow-flush to allow it");
    ctx.store.clear();
    ctx.watches.touch_all();
    resp::append_simple(out, "OK");
}

struct KeyCommand {
    CommandSpec spec;
    void (*run)(Context&, Args, std::string&);
};

// Names, arities and flags as Redis 7 gives them to COMMAND.
const std::vector<KeyCommand>& table() {
    static const std::vector<KeyCommand> t = {
        {{"get", 2, {"readonly", "fast"}, 1, 1, 1}, get},
        {{"set", -3, {"write", "denyoom"}, 1, 1, 1}, set},
        {{"del", -2, {"write"}, 1, -1, 1}, del},
        {{"unlink", -2, {"write", "fast"}, 1, -1, 1}, del},
        {{"exists", -2, {"readonly", "fast"}, 1, -1, 1}, exists},
        {{"incr", 2, {"write", "denyoom", "fast"}, 1, 1, 1}, incr},
        {{"decr", 2, {"write", "denyoom", "fast"}, 1, 1, 1}, incr},
        {{"incrby", 3, {"write", "denyoom", "fast"}, 1, 1, 1}, incr},
        {{"decrby", 3, {"write", "denyoom", "fast"}, 1, 1, 1}, incr},
        {{"mget", -2, {"readonly", "fast"}, 1, -1, 1}, mget},
        {{"mset", -3, {"write", "denyoom"}, 1, -1, 2}, mset},
        {{"setnx", 3, {"write", "denyoom", "fast"}, 1, 1, 1}, setnx},
        {{"setex", 4, {"write", "denyoom"}, 1, 1, 1}, setex},
        {{"psetex", 4, {"write", "denyoom"}, 1, 1, 1}, setex},
        {{"getset", 3, {"write", "denyoom", "fast"}, 1, 1, 1}, getset},
        {{"getdel", 2, {"write", "fast"}, 1, 1, 1}, getdel},
        {{"getex", -2, {"write", "fast"}, 1, 1, 1}, getex},
        {{"expire", -3, {"write", "fast"}, 1, 1, 1}, expire},
        {{"pexpire", -3, {"write", "fast"}, 1, 1, 1}, expire},
        {{"expireat", -3, {"write", "fast"}, 1, 1, 1}, expire},
        {{"pexpireat", -3, {"write", "fast"}, 1, 1, 1}, expire},
        {{"ttl", 2, {"readonly", "fast"}, 1, 1, 1}, ttl},
        {{"pttl", 2, {"readonly", "fast"}, 1, 1, 1}, ttl},
        {{"persist", 2, {"write", "fast"}, 1, 1, 1}, persist},
        {{"type", 2, {"readonly", "fast"}, 1, 1, 1}, type},
        {{"keys", 2, {"readonly"}}, keys},
        {{"scan", -2, {"readonly"}}, scan},
        {{"dbsize", 1, {"readonly", "fast"}}, dbsize},
        {{"flushdb", -1, {"write"}}, flushdb},
        {{"flushall", -1, {"write"}}, flushdb},
    };
    return t;
}

}  // namespace

bool execute(Context& ctx, std::span<const std::string_view> args, std::string& out) {
    for (auto& c : table()) {
        if (!is_command(args[0], c.spec.name)) continue;
        auto n = static_cast<int>(args.size());
        if (c.spec.arity >= 0 ? n != c.spec.arity : n < -c.spec.arity) {
            resp::append_error(out, wrong_args(args[0]));
        } else {
            c.run(ctx, args, out);
        }
        return true;
    }
    return false;
}

std::optional<std::string> forbidden(const KeyGrants& grants, std::span<const std::string_view> args) {
    if (grants.all) return std::nullopt;
    auto cmd = args[0];
    auto n = static_cast<int>(args.size());
    int first = 0, last = 0, step = 0;
    for (auto& c : table())
        if (is_command(cmd, c.spec.name)) {
            first = c.spec.first_key, last = c.spec.last_key, step = c.spec.step;
            break;
        }
    if (first == 0 && is_command(cmd, "watch")) first = 1, last = -1, step = 1;
    if (first <= 0) {
        for (std::string_view whole : {"flushdb", "flushall", "monitor"})
            if (is_command(cmd, whole))
                return "NOPERM this user has no permissions to run the '" + std::string(whole) + "' command";
        return std::nullopt;
    }
    auto end = last < 0 ? n + last : std::min(last, n - 1);
    for (int i = first; i <= end; i += step)
        if (!grants.may(args[static_cast<std::size_t>(i)]))
            return "NOPERM this user has no permissions to access one of the keys used as arguments";
    return std::nullopt;
}

const std::vector<CommandSpec>& key_command_specs() {
    static const std::vector<CommandSpec> specs = [] {
        std::vector<CommandSpec> s;
        for (auto& c : table()) s.push_back(c.spec);
        return s;
    }();
    return specs;
}

}  // namespace seq::stash
