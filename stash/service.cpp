#include "service.hpp"

#include "commands.hpp"
#include "log.hpp"
#include "stash.hpp"

namespace seq::stash {

Service::Service(uv::Loop& loop, Fd listener, ServerOptions options, std::unique_ptr<Store> store, Fsync fsync)
    : loop_(loop), store_(std::move(store)), fsync_(fsync),
      server_(loop.get(), std::move(listener), options,
              [this](Connection& c, std::span<const std::string_view> args) { return handle(c, args); }, "stash"),
      check_(uv::make_check(loop.get())), sync_timer_(uv::make_timer(loop.get())) {
    server_.set_auto_release(false);
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
        if (is_command(args[0], "client")) {
            client_command(c, args);
        } else {
            bool quiet = replies_off_.count(c.id()) > 0 || skip_one_.erase(c.id()) > 0;
            keep = execute(*store_, args, c.out());
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
    if (args.size() < 2 || !is_command(args[1], "reply"))
        return resp::append_error(out, "ERR unknown subcommand or wrong number of arguments for 'client'; "
                                       "only CLIENT REPLY ON|OFF|SKIP is supported");
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
