#include "builtin_tree.hpp"

namespace seq::sup {

Tree builtin_tree(const BuiltinOptions& o, const std::string& program_dir) {
    Tree t;
    t.root = o.flags;
    t.root.children.clear();
    t.stash = "stash";
    auto daemon = [&](const char* name, const char* program, SocketSpec socket) {
        ChildSpec c;
        c.name = name;
        c.command = {program, "--max-clients", std::to_string(o.max_clients)};
        if (!program_dir.empty()) c.program = program_dir + "/" + program;
        c.shutdown_ms = o.shutdown_ms;
        c.readiness = Readiness::notify_fd;
        c.start_timeout_ms = o.start_timeout_ms;
        c.watchdog_ms = o.watchdog_ms;
        c.sockets = {std::move(socket)};
        return c;
    };
    auto stash = daemon("stash", "seq-stash", unix_socket("stash", "stash.sock"));
    auto worker = daemon("worker", "seq-worker", unix_socket("worker", "sequence.sock"));
    worker.command.insert(worker.command.begin() + 1, {"--initial", std::to_string(o.initial)});
    if (!o.data_dir.empty()) {
        stash.command.insert(stash.command.end(), {"--data-dir", o.data_dir, "--fsync", o.fsync});
        // On disk, "handed to the stash's socket" is not enough: a kill of the
        // whole tree would drop what the stash had not yet read.
        worker.command.push_back("--wait-for-ack");
    }
    // Under the stash's access control, the number is the worker's alone.
    worker.stash_keys = {"sequence"};
    worker.reserve = o.reserve;
    worker.standby = o.standby;
    // One writer of the number: a new version takes over as a standby
    // does, the moment the old one is gone (seq-tree(5): DEPLOYING).
    worker.update = Update::handover;
    t.root.children.push_back(std::move(stash));
    t.root.children.push_back(std::move(worker));
    return t;
}

}  // namespace seq::sup
