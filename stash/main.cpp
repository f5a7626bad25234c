// seq-stash: holds the tree's state, key by key, so that it outlives the worker.
#include <sys/stat.h>

#include "cli.hpp"
#include <memory>
#include <optional>
#include <string>

#include "daemon.hpp"
#include "watchdog.hpp"
#include "dir_lock.hpp"
#include "log.hpp"
#include "service.hpp"
#include "store.hpp"

namespace {

const char* const exit_codes_help = R"(Exit codes:
  0  stopped by SIGTERM, SIGINT or SIGHUP
  1  runtime failure (logged on stderr), e.g. a commit to the store failed
  2  bad command line
  3  the socket cannot be bound (another stash answers there, or permissions)
  5  the data dir is unusable: held by another stash, owned by another user or
     open to others, or the store is corrupt or unreadable; or the ACL directory
     (--acl) cannot be read)";

constexpr int store_unusable = 5;

}  // namespace

int main(int argc, char** argv) {
    using namespace seq;
    CLI::App app{"seq-stash: keeps the sequence's state, key by key, for the worker (RESP on a Unix socket)."};
    app.footer(exit_codes_help);
    std::string socket_path;
    std::string data_dir;
    std::string fsync_name = "everysec";
    int notify_fd = -1;
    bool allow_flush = false;
    std::string acl_dir;
    ServerOptions opts;
    app.add_option("--socket", socket_path, "Unix socket to listen on (unless one is inherited as 'stash')");
    auto* data_dir_opt =
        app.add_option("--data-dir", data_dir, "keep the keys on disk here (SQLite, WAL mode); in memory without it");
    app.add_option("--fsync", fsync_name, "with --data-dir: fsync at every commit, about once a second, or never")
        ->capture_default_str()
        ->needs(data_dir_opt)
        ->check(CLI::IsMember({"always", "everysec", "no"}));
    app.add_flag("--allow-flush", allow_flush,
                 "take FLUSHDB and FLUSHALL (refused by default: one script must not wipe the whole tree's state)");
    app.add_option("--acl", acl_dir,
                   "every client must authenticate (AUTH user password) as a user of the *.acl files in DIR, and "
                   "touches only the keys its patterns match (default: $SEQ_STASH_ACL, as a tree with stash_acl gives it; "
                   "without either, the stash is open to whoever may connect)")
        ->envname("SEQ_STASH_ACL");
    add_notify_fd(app, notify_fd, "once serving");
    add_max_clients(app, opts.max_clients, "connections served at once");
    if (auto code = seq::parse_command_line(app, argc, argv)) return *code;
    log_init("stash");
    umask(077);  // the store's files are the user's alone
    auto fsync = fsync_name == "always" ? stash::Fsync::always
                 : fsync_name == "no"   ? stash::Fsync::no
                                        : stash::Fsync::everysec;

    std::optional<DirLock> lock;
    std::unique_ptr<stash::Store> store;
    std::string where = "in memory";
    try {
        if (data_dir.empty()) {
            store = std::make_unique<stash::MemoryStore>();
        } else {
            ensure_private_dir(data_dir, "data dir");
            lock.emplace(data_dir, "data dir", "stash.lock", "stash");
            auto file = data_dir + "/stash.db";
            store = stash::open_sqlite_store(file, fsync);
            where = file + ", fsync " + fsync_name;
        }
    } catch (const std::exception& e) {
        log("cannot start: %s", e.what());
        return store_unusable;
    }

    uv::Loop loop;
    WatchdogPing watchdog(loop.get());  // WATCHDOG=1 from the loop, when the supervisor asks for it
    std::optional<Listener> listener;
    if (auto code = open_listener(listener, "stash", socket_path)) return *code;
    std::optional<stash::Service> service;
    try {
        service.emplace(loop, listener->take(), opts, std::move(store), stash::ServiceOptions{fsync, allow_flush, acl_dir});
    } catch (const std::exception& e) {
        log("cannot start: %s", e.what());
        return store_unusable;
    }
    StopSignals signals(loop.get(), [&](int sig) {
        log("%s received; stopping", seq::signal_name(sig).c_str());
        loop.stop();
    });
    service->start();
    log("serving on %s (%s%s)", listener->describe().c_str(), where.c_str(),
        acl_dir.empty() ? "" : (", users from " + acl_dir).c_str());
    notify_ready(notify_fd);
    loop.run();
    return service->fatal_error().empty() ? exit_code::ok : exit_code::failure;
}
