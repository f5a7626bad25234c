#include "transaction.hpp"

#include <string>

#include "commands.hpp"
#include "limits.hpp"
#include "resp.hpp"

namespace seq {

namespace {

std::size_t queued_size(std::span<const std::string_view> args) {
    std::size_t n = 0;
    for (auto a : args) n += sizeof(std::string) + a.size();
    return n;
}

}  // namespace

TxStep transaction_step(Connection& c, std::span<const std::string_view> args, const DaemonFacts& facts, bool watch) {
    auto& tx = c.session.tx;
    auto& out = c.out();
    auto cmd = args[0];
    bool is_watch = watch && is_command(cmd, "watch");
    auto control = [&] {
        return is_command(cmd, "multi") || is_command(cmd, "exec") || is_command(cmd, "discard") ||
               is_command(cmd, "quit") || is_command(cmd, "reset") || is_watch;
    };
    if (tx.open && !control()) {
        // Queued, not run: nothing is applied before EXEC. Too large is refused
        // as a bad command is, and a refused transaction keeps nothing (as
        // Redis): its EXEC will run none of it, however much more is sent.
        auto size = queued_size(args);
        auto why = refusal(facts, args);
        if (!why && tx.queued_bytes + size > max_transaction)
            why = "ERR transaction too large: its queued commands would pass " + std::to_string(max_transaction) +
                  " bytes";
        if (why) {
            tx.refused = true;
            tx.queued = {};
            tx.queued_bytes = 0;
            resp::append_error(out, *why);
        } else {
            if (!tx.refused) {
                tx.queued_bytes += size;
                tx.queued.emplace_back(args.begin(), args.end());
            }
            resp::append_simple(out, "QUEUED");
        }
        return TxStep::answered;
    }
    if (is_command(cmd, "multi")) {
        if (args.size() != 1) resp::append_error(out, wrong_args(cmd));
        else if (tx.open) resp::append_error(out, "ERR MULTI calls can not be nested");
        else tx.open = true, resp::append_simple(out, "OK");
        return TxStep::answered;
    }
    if (is_watch && tx.open) {
        // As Redis 7.0: refused, and the transaction goes on (EXEC runs it).
        resp::append_error(out, "ERR WATCH inside MULTI is not allowed");
        return TxStep::answered;
    }
    if (is_command(cmd, "discard")) {
        if (!tx.open) return resp::append_error(out, "ERR DISCARD without MULTI"), TxStep::answered;
        tx = {};
        resp::append_simple(out, "OK");
        return TxStep::ended;
    }
    if (is_command(cmd, "reset")) tx = {};  // and RESET goes on as a connection command
    if (!is_command(cmd, "exec")) return TxStep::other;
    if (!tx.open) return resp::append_error(out, "ERR EXEC without MULTI"), TxStep::answered;
    if (tx.refused) {
        tx = {};
        resp::append_error(out, "EXECABORT Transaction discarded because of previous errors.");
        return TxStep::ended;
    }
    return TxStep::exec;
}

}  // namespace seq
