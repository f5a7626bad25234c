// MULTI/EXEC as Redis has them, the part both daemons share. While a
// transaction is open, each command is checked (refusal()) and queued; MULTI,
// DISCARD, and an EXEC that cannot run (no MULTI, or a command was refused)
// are answered here. What an EXEC runs, and when, is the daemon's: the worker
// may make it wait for the stash, so the queue is left as it is.
#pragma once

#include <span>
#include <string_view>

#include "connection_commands.hpp"
#include "server.hpp"

namespace seq {

enum class TxStep {
    other,     // not the transaction's: the daemon runs it as any command
    answered,  // queued, or answered here; a transaction open stays open
    ended,     // answered here, and the transaction is over (DISCARD, EXECABORT)
    exec,      // EXEC with nothing refused: the daemon runs c.session.tx.queued
};

// `watch`: the daemon has WATCH, which is refused inside MULTI (the
// transaction goes on); without it, WATCH is queued as any command it does
// not know.
TxStep transaction_step(Connection& c, std::span<const std::string_view> args, const DaemonFacts& facts, bool watch);

}  // namespace seq
