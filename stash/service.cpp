#include "service.hpp"

#include "commands.hpp"
#include <unistd.h>
#include "log.hpp"
#include "stash.hpp"

namespace seq::stash {

Service::Service(uv::Loop& loop, Fd listener, ServerOptions options, std::unique_ptr<Store> store, Fsync fsync)
    : loop_(loop), store_(std::move(store)), fsync_(fsync),
      server_(loop.get(), std::move(listener), options,
              [this](Connection& c, std::span<const std::string_view> args) { return handle(c, args); }, "stash"),
      check_(uv::make_check(loop.get())), sync_timer_(uv::make_timer(loop.get())) {
    server_.set_auto_release(false);
    started_ms_ = loop.now();
    const bool durable = store_->durable();
    facts_ = DaemonFacts{
        "seq-stash",
        "0.1.0",
        {{"get", 2, {"readonly", "fast"}, 1, 1, 1},
         {"set", 3, {"write", "denyoom"}, 1, 1, 1},
         {"del", -2, {"write"}, 1, -1, 1},
         {"ping", -1, {"fast"}},
         {"info", -1, {"loading", "stale"}},
         {"quit", -1, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}}},
        [durable](std::string_view param) -> std::optional<std::string> {
            if (param == "save") return "";
            if (param == "appendonly") return durable ? "yes" : "no";
            if (param == "databases") return "1";
            return std::nullopt;
        }};
    check_->data = this;
    sync_timer_->data = this;
    server_.on_close([this](Connection& c) {
        replies_off_.erase(c.id());
        skip_one_.erase(c.id());
    });
    uv_check_start(check_.get(), [](uv_check_t* h) {
        if (auto* s = uv::owner<Service>(h)) s->commit();
    });
}

Server::Verdict Service::handle(Connection& c, std::span<const std::string_view> args) {
    // Stopping after a store failure: no request is answered any more, and
    // none of this turn's writes is committed (commit() sees fatal_).
    if (!fatal_.empty()) return Server::Verdict::defer;
    bool behind_held = c.holds_output();
    auto mark = c.out().size();
    bool keep = true;
    try {
        if (is_command(args[0], "client") && args.size() >= 2 && is_command(args[1], "reply")) {
            client_command(c, args);
        } else {
            bool quiet = replies_off_.count(c.id()) > 0 || skip_one_.erase(c.id()) > 0;
            if (is_command(args[0], "reset")) {  // back to RESP2, replies on, as a new connection
                replies_off_.erase(c.id());
                skip_one_.erase(c.id());
                quiet = false;
            }
            if (is_command(args[0], "info")) {
                if (args.size() > 2) resp::append_error(c.out(), wrong_args(args[0]));
                else resp::append_verbatim(c.out(), info(), c.session.proto);
            } else if (!connection_command(server_, c, args, facts_)) {
                keep = execute(*store_, args, c.out(), c.session.proto);
            }
            if (quiet) c.out().resize(mark);
        }
    } catch (const std::exception& e) {
        log("%s; stopping", e.what());
        fatal_ = e.what();
        loop_.stop();
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

void Service::client_command(Connection& c, std::span<const std::string_view> args) {
    auto& out = c.out();
    if (args.size() != 3) return resp::append_error(out, wrong_args("client|reply"));
    auto id = c.id();
    if (is_command(args[2], "on")) {
        replies_off_.erase(id);
        skip_one_.erase(id);
        resp::append_simple(out, "OK");
    } else if (is_command(args[2], "off")) {
        replies_off_.insert(id);
    } else if (is_command(args[2], "skip")) {
        skip_one_.insert(id);
    } else {
        resp::append_error(out, "ERR syntax error: CLIENT REPLY takes ON, OFF or SKIP");
    }
}

std::string Service::info() const {
    const bool durable = store_->durable();
    std::string s = "# Server\r\n";
    s += "redis_version:7.0.0\r\n";  // what clients compare against for features; we answer as Redis 7 would
    s += "seq_stash_version:0.1.0\r\n";
    s += "process_id:" + std::to_string(getpid()) + "\r\n";
    s += "uptime_in_seconds:" + std::to_string((uv_now(loop_.get()) - started_ms_) / 1000) + "\r\n";
    s += "\r\n# Clients\r\nconnected_clients:" + std::to_string(server_.clients()) + "\r\n";
    s += "\r\n# Persistence\r\nloading:0\r\n";
    s += std::string("aof_enabled:") + (durable ? "1" : "0") + "\r\n";
    return s;
}

void Service::commit() {
    if (held_.empty() || !fatal_.empty()) return;
    auto held = std::move(held_);
    held_.clear();
    try {
        store_->commit();
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
    if (fsync_ == Fsync::everysec && !uv_is_active(reinterpret_cast<uv_handle_t*>(sync_timer_.get())))
        uv_timer_start(sync_timer_.get(), [](uv_timer_t* t) {
            auto* s = uv::owner<Service>(t);
            if (!s) return;
            try {
                s->store_->sync();
            } catch (const std::exception& e) {
                // After a failed fsync the kernel may have dropped the dirty
                // pages: what was "synced" later might not be on disk. Stop,
                // as for a failed commit; the restarted stash reads the store.
                log("%s; stopping", e.what());
                s->fatal_ = e.what();
                s->loop_.stop();
            }
        }, 1000, 0);
}

}  // namespace seq::stash
