#include <sqlite3.h>

#include <stdexcept>

#include "store.hpp"

namespace seq::stash {

namespace {

struct DbCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

class SqliteStore final : public Store {
public:
    SqliteStore(const std::string& path, Fsync fsync) : path_(path) {
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
        db_.reset(raw);
        if (rc != SQLITE_OK) fail("cannot open");
        // Corruption shows at the first read of the file: make that read now,
        // and a full check, so that a bad store is refused before serving.
        // One stash per data dir is already enforced by its lock file, so
        // SQLite's own per-transaction file locks (six fcntl calls a commit)
        // and its shared-memory index buy nothing: hold the lock for good.
        exec("PRAGMA locking_mode=EXCLUSIVE");
        exec("PRAGMA journal_mode=WAL");
        exec(fsync == Fsync::always ? "PRAGMA synchronous=FULL"
                                    : fsync == Fsync::everysec ? "PRAGMA synchronous=NORMAL"
                                                               : "PRAGMA synchronous=OFF");
        exec("PRAGMA wal_autocheckpoint=1000");
        check_integrity();
        exec("CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID");
        get_ = prepare("SELECT value FROM kv WHERE key = ?1");
        set_ = prepare("INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2");
        del_ = prepare("DELETE FROM kv WHERE key = ?1");
    }

    std::optional<std::string> get(std::string_view key) override {
        bind(get_.get(), 1, key);
        std::optional<std::string> out;
        int rc = sqlite3_step(get_.get());
        if (rc == SQLITE_ROW) {
            auto* p = static_cast<const char*>(sqlite3_column_blob(get_.get(), 0));
            out.emplace(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(get_.get(), 0)));
        } else if (rc != SQLITE_DONE) {
            reset(get_.get());
            fail("reading");
        }
        reset(get_.get());
        return out;
    }

    void set(std::string_view key, std::string_view value) override {
        begin();
        bind(set_.get(), 1, key);
        bind(set_.get(), 2, value);
        step_done(set_.get(), "writing");
    }

    bool del(std::string_view key) override {
        begin();
        bind(del_.get(), 1, key);
        step_done(del_.get(), "deleting");
        return sqlite3_changes(db_.get()) > 0;
    }

    bool uncommitted() const override { return in_tx_; }

    void commit() override {
        if (!in_tx_) return;
        in_tx_ = false;
        if (sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
            std::string why = sqlite3_errmsg(db_.get());
            sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            throw std::runtime_error("store " + path_ + ": commit failed: " + why);
        }
    }

    void sync() override {
        // A checkpoint syncs the WAL before it copies it into the database.
        if (sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) != SQLITE_OK)
            throw std::runtime_error("store " + path_ + ": sync failed: " + sqlite3_errmsg(db_.get()));
    }

private:
    [[noreturn]] void fail(const std::string& what) {
        throw std::runtime_error("store " + path_ + ": " + what + ": " +
                                 (db_ ? sqlite3_errmsg(db_.get()) : "out of memory"));
    }
    void exec(const char* sql) {
        if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail("unreadable");
    }
    void check_integrity() {
        auto s = prepare("PRAGMA quick_check");
        std::string verdict;
        while (sqlite3_step(s.get()) == SQLITE_ROW) {
            auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
            verdict += t ? t : "";
        }
        if (verdict != "ok") throw std::runtime_error("store " + path_ + " is corrupt: " + verdict);
    }
    Stmt prepare(const char* sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
            fail("unreadable");
        return Stmt(s);
    }
    void bind(sqlite3_stmt* s, int i, std::string_view v) {
        sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    void reset(sqlite3_stmt* s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    void step_done(sqlite3_stmt* s, const char* what) {
        int rc = sqlite3_step(s);
        reset(s);
        if (rc != SQLITE_DONE) fail(what);
    }
    void begin() {
        if (in_tx_) return;
        exec("BEGIN");
        in_tx_ = true;
    }

    std::string path_;
    std::unique_ptr<sqlite3, DbCloser> db_;
    Stmt get_, set_, del_;
    bool in_tx_ = false;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path, Fsync fsync) {
    return std::make_unique<SqliteStore>(path, fsync);
}

}  // namespace seq::stash
