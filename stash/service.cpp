#include "service.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>

#include "commands.hpp"
#include "log.hpp"
#include "transaction.hpp"

namespace seq::stash {

namespace {

// Expiry times are absolute (Unix time), so they mean the same after a restart.
std::int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

constexpr std::size_t sweep_batch = 200;  // keys removed per wakeup, so clients get their turn

std::uint64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

Service::Service(uv::Loop& loop, Fd listener, ServerOptions server_options, std::unique_ptr<Store> store,
                 ServiceOptions options)
    : loop_(loop), store_(std::move(store)), options_(options),
      server_(loop.get(), std::move(listener), server_options,
              [this](Connection& c, std::span<const std::string_view> args) { return handle(c, args); }, "stash"),
      check_(uv::make_check(loop.get())), sync_timer_(uv::make_timer(loop.get())),
      sweep_timer_(uv::make_timer(loop.get())) {
    server_.set_auto_release(false);
    started_ms_ = loop.now();
    const bool durable = store_->durable();
    std::vector<CommandSpec> commands = key_command_specs();
    commands.insert(commands.end(),
                    {{"ping", -1, {"fast"}},
                     {"info", -1, {"loading", "stale"}},
                     {"multi", 1, {"noscript", "loading", "stale", "fast", "allow_busy"}},
                     {"exec", 1, {"noscript", "loading", "stale", "skip_slowlog"}},
                     {"discard", 1, {"noscript", "loading", "stale", "fast", "allow_busy"}},
                     {"watch", -2, {"noscript", "loading", "stale", "fast", "allow_busy"}, 1, -1, 1},
                     {"unwatch", 1, {"noscript", "loading", "stale", "fast", "allow_busy"}},
                     {"quit", -1, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}}});
    facts_ = DaemonFacts{"seq-stash", "0.1.0", std::move(commands),
                         [durable](std::string_view param) -> std::optional<std::string> {
                             if (param == "save") return "";
                             if (param == "appendonly") return durable ? "yes" : "no";
                             if (param == "databases") return "1";
                             return std::nullopt;
                         },
                         {}};
    std::vector<std::string_view> names;
    for (auto& c : facts_.commands) names.push_back(c.name);
    calls_.emplace(names);
    if (!options_.acl_dir.empty()) {
        acl_.emplace(options_.acl_dir);
        facts_.authenticate = [this](std::string_view user, std::string_view password) {
            auto grants = acl_->authenticate(user, password);
            // Not known: the files are read again if they changed since (a
            // child started a moment ago), and then only. A wrong password
            // costs a read of the inotify fd: guessing cannot stall the stash.
            if (!grants && acl_->refresh()) {
                users_changed();
                grants = acl_->authenticate(user, password);
            }
            return grants;
        };
        if (acl_->watch_fd() >= 0) {
            acl_watch_ = uv::make_poll(loop.get(), acl_->watch_fd());
            acl_watch_->data = this;
            uv_poll_start(acl_watch_.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
                if (auto* s = uv::owner<Service>(h); s && s->acl_->refresh()) s->users_changed();
            });
        }
    }
    check_->data = this;
    sync_timer_->data = this;
    sweep_timer_->data = this;
    server_.on_close([this](Connection& c) { watches_.unwatch(c.id()); });
    uv_check_start(check_.get(), [](uv_check_t* h) {
        if (auto* s = uv::owner<Service>(h)) s->commit();
    });
}

void Service::start() {
    server_.start();
    // Keys that expired while the stash was down go at once; the rest at their time.
    arm_sweep(store_->next_expiry());
}

void Service::fail(const std::exception& e, const char* then) {
    log("%s; %s", e.what(), then);
    fatal_ = e.what();
    loop_.stop();
}

Server::Verdict Service::handle(Connection& c, std::span<const std::string_view> args) {
    // Stopping after a store failure: no request is answered any more, and
    // none of this turn's writes is committed (commit() sees fatal_).
    if (!fatal_.empty()) return Server::Verdict::defer;
    ++stats_.commands;
    bool behind_held = c.holds_output();
    bool keep = true;
    try {
        if (is_command(args[0], "reset")) {  // as a new connection: no watch, no transaction
            watches_.unwatch(c.id());
            c.session.tx = {};
        }
        if (auto why = access_refusal(c, args)) {
            // As any refused command, it spoils a transaction open.
            if (c.session.tx.open) c.session.tx.refused = true, c.session.tx.queued = {}, c.session.tx.queued_bytes = 0;
            resp::append_error(c.out(), *why);
        } else if (!transaction(c, args)) {
            keep = run(c, args);
        }
    } catch (const std::exception& e) {
        fail(e, "stopping");
        return Server::Verdict::defer;
    }
    if (!keep) c.close_after_reply();
    // Behind an uncommitted write every reply waits, so none can report
    // what the disk does not hold yet, and replies keep their order.
    if (store_->uncommitted() || behind_held) {
        if (held_.empty() || held_.back() != c.id()) held_.push_back(c.id());
    } else {
        c.release_to(c.out_end());
    }
    return Server::Verdict::done;
}

bool Service::run(Connection& c, std::span<const std::string_view> args) {
    // Counted as run: alone, or by EXEC; not when queued, nor refused.
    calls_->count(args[0]);
    auto& out = c.out();
    if (is_command(args[0], "quit")) {
        resp::append_simple(out, "OK");
        return false;
    }
    if (is_command(args[0], "ping")) {
        if (args.size() > 2) resp::append_error(out, wrong_args(args[0]));
        else if (args.size() == 2) resp::append_bulk(out, args[1]);
        else resp::append_simple(out, "PONG");
        return true;
    }
    if (is_command(args[0], "info")) {
        resp::append_verbatim(out, info(args.subspan(1)), c.session.proto);
        return true;
    }
    // Here, not with WATCH: unlike WATCH it may be queued, and EXEC runs it.
    if (is_command(args[0], "unwatch")) {
        if (args.size() != 1) return resp::append_error(out, wrong_args(args[0])), true;
        watches_.unwatch(c.id());
        resp::append_simple(out, "OK");
        return true;
    }
    Context ctx{*store_, watches_, unix_ms(), c.session.proto, options_.allow_flush, c.session.grants.get()};
    if (execute(ctx, args, out)) {
        arm_sweep(ctx.soonest_expiry);
        return true;
    }
    if (!connection_command(server_, c, args, facts_)) resp::append_error(out, unknown_command(args[0]));
    return true;
}

void Service::users_changed() {
    std::vector<Connection*> gone;
    server_.each([&](Connection& c) {
        if (!c.session.grants) return;  // not logged in
        if (auto g = acl_->grants_of(c.session.user)) c.session.grants = std::move(g);
        else gone.push_back(&c);
    });
    for (auto* c : gone) {
        log("ACL: user %s is gone: closing its connection %llu", c->session.user.c_str(),
            static_cast<unsigned long long>(c->id()));
        server_.close(*c);
    }
}

std::optional<std::string> Service::access_refusal(const Connection& c, std::span<const std::string_view> args) const {
    if (!acl_) return std::nullopt;
    auto& grants = c.session.grants;
    if (!grants) {
        for (std::string_view open : {"auth", "hello", "quit", "reset"})
            if (is_command(args[0], open)) return std::nullopt;
        return no_auth_error;
    }
    return forbidden(*grants, args);
}

bool Service::transaction(Connection& c, std::span<const std::string_view> args) {
    auto& out = c.out();
    auto cmd = args[0];
    switch (transaction_step(c, args, facts_, true)) {
    case TxStep::answered:
        return true;
    case TxStep::ended:
        watches_.unwatch(c.id());
        return true;
    case TxStep::exec:
        break;
    case TxStep::other:
        if (is_command(cmd, "watch")) {
            if (args.size() < 2) return resp::append_error(out, wrong_args(cmd)), true;
            auto now = unix_ms();
            for (auto key : args.subspan(1)) {
                auto e = store_->get(key);
                watches_.watch(c.id(), key, e && (e->expires_ms == 0 || e->expires_ms > now) ? e->expires_ms : 0);
            }
            resp::append_simple(out, "OK");
            return true;
        }
        return false;
    }
    auto& tx = c.session.tx;
    bool spoiled = watches_.spoiled(c.id(), unix_ms());
    watches_.unwatch(c.id());
    auto queued = std::move(tx.queued);
    tx = {};
    // A watched key changed: nothing runs, and the reply is a null array.
    if (spoiled) return resp::append_null_array(out, c.session.proto), true;
    // Every write in it lands in this loop turn's one commit, so on a
    // durable store an EXEC is one SQLite transaction: all of it or none.
    resp::append_array(out, queued.size());
    bool keep = true;
    for (auto& q : queued) {
        std::vector<std::string_view> a(q.begin(), q.end());
        // Checked again: an AUTH queued before it may have changed the user.
        if (auto why = access_refusal(c, a)) resp::append_error(out, *why);
        else keep = run(c, a) && keep;
    }
    if (!keep) c.close_after_reply();
    return true;
}

std::string Service::info(std::span<const std::string_view> sections) {
    auto wanted = [&](std::string_view name) {
        if (sections.empty()) return true;
        for (auto s : sections)
            if (is_command(s, name) || is_command(s, "all") || is_command(s, "everything") || is_command(s, "default"))
                return true;
        return false;
    };
    const bool durable = store_->durable();
    std::string s;
    auto section = [&](const char* title) {
        if (!s.empty()) s += "\r\n";
        s += "# ";
        s += title;
        s += "\r\n";
    };
    auto field = [&](const char* name, const std::string& value) {
        s += name;
        s += ':';
        s += value;
        s += "\r\n";
    };
    if (wanted("server")) {
        section("Server");
        field("redis_version", "7.0.0");  // what clients compare against for features; we answer as Redis 7 would
        field("seq_stash_version", "0.1.0");
        field("redis_mode", "standalone");
        field("process_id", std::to_string(getpid()));
        field("uptime_in_seconds", std::to_string((loop_.now() - started_ms_) / 1000));
    }
    if (wanted("clients")) {
        section("Clients");
        field("connected_clients", std::to_string(server_.clients()));
    }
    if (wanted("memory")) {
        section("Memory");
        auto rss = resident_bytes();
        field("used_memory", std::to_string(rss));  // the process's, not the keys' alone
        field("used_memory_rss", std::to_string(rss));
    }
    if (wanted("persistence")) {
        section("Persistence");
        field("loading", "0");
        field("aof_enabled", durable ? "1" : "0");
        field("seq_fsync", !durable                              ? "none"
                           : options_.fsync == Fsync::always     ? "always"
                           : options_.fsync == Fsync::everysec   ? "everysec"
                                                                 : "no");
    }
    if (wanted("stats")) {
        section("Stats");
        field("total_connections_received", std::to_string(server_.accepted()));
        field("total_commands_processed", std::to_string(stats_.commands));
        field("expired_keys", std::to_string(stats_.expired));
    }
    if (wanted("commandstats")) {
        section("Commandstats");
        calls_->append_info(s);
    }
    if (wanted("commits")) {
        section("Commits");
        field("commits", std::to_string(commit_times_.count));
        field("commit_usec_sum", std::to_string(commit_times_.sum));
        for (std::size_t i = 0; i < CommitTimes::bounds_us.size(); ++i)
            field(("commit_usec_le_" + std::to_string(CommitTimes::bounds_us[i])).c_str(),
                  std::to_string(commit_times_.at_most[i]));
    }
    if (wanted("keyspace")) {
        section("Keyspace");
        if (auto n = store_->size()) field("db0", "keys=" + std::to_string(n) + ",expires=" +
                                                      std::to_string(store_->expiring()) + ",avg_ttl=0");
    }
    return s;
}

void Service::arm_sweep(std::int64_t expires_ms) {
    if (expires_ms <= 0 || (sweep_at_ != 0 && sweep_at_ <= expires_ms)) return;
    sweep_at_ = expires_ms;
    auto delay = expires_ms - unix_ms();
    uv_timer_start(sweep_timer_.get(), [](uv_timer_t* t) {
        if (auto* s = uv::owner<Service>(t)) s->sweep();
    }, delay > 0 ? static_cast<std::uint64_t>(delay) : 0, 0);
}

void Service::sweep() {
    sweep_at_ = 0;
    if (!fatal_.empty()) return;
    try {
        auto now = unix_ms();
        auto keys = store_->expired(now, sweep_batch);
        for (auto& k : keys) {
            store_->del(k);
            watches_.touch(k);
        }
        stats_.expired += keys.size();
        // The check handle commits what this removed, with any client's writes.
        arm_sweep(keys.size() == sweep_batch ? now : store_->next_expiry());
    } catch (const std::exception& e) {
        fail(e, "stopping");
    }
}

void Service::commit() {
    if ((held_.empty() && !store_->uncommitted()) || !fatal_.empty()) return;
    auto held = std::move(held_);
    held_.clear();
    try {
        const auto began = uv_hrtime();
        store_->commit();
        commit_times_.add((uv_hrtime() - began) / 1000);
    } catch (const std::exception& e) {
        // Nobody may be told OK: drop those clients (the worker reconnects and
        // writes again), and stop, since a store that cannot commit is not a stash.
        log("%s; dropping %zu clients and stopping", e.what(), held.size());
        for (auto id : held)
            if (auto* c = server_.find(id)) server_.close(*c);
        fatal_ = e.what();
        loop_.stop();
        return;
    }
    for (auto id : held)
        if (auto* c = server_.find(id)) c->release_to(c->out_end());
    if (options_.fsync == Fsync::everysec && !uv_is_active(reinterpret_cast<uv_handle_t*>(sync_timer_.get())))
        uv_timer_start(sync_timer_.get(), [](uv_timer_t* t) {
            auto* s = uv::owner<Service>(t);
            if (!s) return;
            try {
                s->store_->sync();
            } catch (const std::exception& e) {
                // After a failed fsync the kernel may have dropped the dirty
                // pages: what was "synced" later might not be on disk. Stop,
                // as for a failed commit; the restarted stash reads the store.
                s->fail(e, "stopping");
            }
        }, 1000, 0);
}

}  // namespace seq::stash
