#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include "fd.hpp"
#include "socket.hpp"
#include "store.hpp"

namespace seq::stash {

namespace {

// Marks a database as a stash's store (PRAGMA application_id): "SEQS".
constexpr int stash_application_id = 0x53455153;

std::uint32_t big_endian32(const unsigned char* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

// SQLite takes a WAL whose header fails its check for an empty one and
// silently drops every commit in it: the store would go back in time. A kill
// cannot tear the header (one 32-byte write), so a bad one is damage, and is
// refused here, before SQLite sees it. (Format: sqlite.org/fileformat.html#wal)
void check_wal_header(const std::string& wal) {
    Fd fd(open(wal.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return;
        throw SystemError("store " + wal, errno);
    }
    std::array<unsigned char, 32> h{};
    auto n = pread(fd.get(), h.data(), h.size(), 0);
    if (n < 0) throw SystemError("store " + wal, errno);
    if (n == 0) return;  // an empty log: nothing in it to lose
    auto corrupt = [&](const char* why) {
        return std::runtime_error("store " + wal + " is corrupt: " + why + "; refusing to drop the commits in it");
    };
    if (n < 32) throw corrupt("its header is cut short");
    auto magic = big_endian32(&h[0]);
    if (magic != 0x377f0682 && magic != 0x377f0683) throw corrupt("its header has no WAL magic number");
    bool big_endian_words = magic & 1;
    std::uint32_t s0 = 0, s1 = 0;
    for (std::size_t i = 0; i < 24; i += 8) {
        auto word = [&](std::size_t at) {
            const unsigned char* p = &h[at];
            return big_endian_words ? big_endian32(p)
                                    : std::uint32_t(p[3]) << 24 | std::uint32_t(p[2]) << 16 |
                                          std::uint32_t(p[1]) << 8 | p[0];
        };
        s0 += word(i) + s1;
        s1 += word(i + 4) + s0;
    }
    if (s0 != big_endian32(&h[24]) || s1 != big_endian32(&h[28])) throw corrupt("its header checksum is wrong");
}

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
        check_wal_header(path + "-wal");
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
        check_integrity();
        bool fresh = ours_or_fresh();  // before the first write: another program's file stays untouched
        exec("PRAGMA journal_mode=WAL");
        exec(fsync == Fsync::always ? "PRAGMA synchronous=FULL"
                                    : fsync == Fsync::everysec ? "PRAGMA synchronous=NORMAL"
                                                               : "PRAGMA synchronous=OFF");
        // SQLite's automatic checkpoint runs inside COMMIT and throws its
        // result away: a sync that failed there (EIO) would go unseen, and
        // the WAL frames holding acknowledged writes be reused. Ours runs
        // from commit(), with its result checked; the hook only counts.
        sqlite3_wal_hook(
            db_.get(),
            [](void* self, sqlite3*, const char*, int frames) {
                static_cast<SqliteStore*>(self)->wal_frames_ = frames;
                return SQLITE_OK;
            },
            this);
        if (fresh) make_store();
        else upgrade();
        get_ = prepare("SELECT value, expires FROM kv WHERE key = ?1");
        put_ = prepare("INSERT INTO kv (key, value, expires) VALUES (?1, ?2, ?3) "
                       "ON CONFLICT (key) DO UPDATE SET value = ?2, expires = ?3");
        expire_ = prepare("UPDATE kv SET expires = ?2 WHERE key = ?1");
        del_ = prepare("DELETE FROM kv WHERE key = ?1");
        scan_ = prepare("SELECT id, key, expires FROM kv WHERE id >= ?1 ORDER BY id LIMIT ?2");
        count_ = prepare("SELECT count(*) FROM kv");
        expiring_ = prepare("SELECT count(*) FROM kv WHERE expires > 0");
        expired_ = prepare("SELECT key FROM kv WHERE expires > 0 AND expires <= ?1 ORDER BY expires LIMIT ?2");
        next_expiry_ = prepare("SELECT min(expires) FROM kv WHERE expires > 0");
    }

    std::optional<Entry> get(std::string_view key) override {
        Query q(*this, get_.get());
        q.bind(1, key);
        std::optional<Entry> out;
        if (q.row("reading")) out.emplace(Entry{q.blob(0), sqlite3_column_int64(get_.get(), 1)});
        return out;
    }

    void put(std::string_view key, std::string_view value, std::int64_t expires_ms) override {
        begin();
        Query q(*this, put_.get());
        q.bind(1, key);
        q.bind(2, value);
        sqlite3_bind_int64(put_.get(), 3, expires_ms);
        q.done("writing");
    }

    bool set_expiry(std::string_view key, std::int64_t expires_ms) override {
        begin();
        Query q(*this, expire_.get());
        q.bind(1, key);
        sqlite3_bind_int64(expire_.get(), 2, expires_ms);
        q.done("writing");
        return sqlite3_changes(db_.get()) > 0;
    }

    bool del(std::string_view key) override {
        begin();
        Query q(*this, del_.get());
        q.bind(1, key);
        q.done("deleting");
        return sqlite3_changes(db_.get()) > 0;
    }

    std::size_t size() override {
        Query q(*this, count_.get());
        return q.row("counting") ? static_cast<std::size_t>(sqlite3_column_int64(count_.get(), 0)) : 0;
    }

    std::size_t expiring() override {
        Query q(*this, expiring_.get());
        return q.row("counting") ? static_cast<std::size_t>(sqlite3_column_int64(expiring_.get(), 0)) : 0;
    }

    ScanPage scan(std::uint64_t cursor, std::size_t count) override {
        ScanPage page;
        Query q(*this, scan_.get());
        sqlite3_bind_int64(scan_.get(), 1, static_cast<std::int64_t>(cursor));
        sqlite3_bind_int64(scan_.get(), 2, static_cast<std::int64_t>(count) + 1);  // one more: is there a next page?
        while (q.row("scanning")) {
            auto id = static_cast<std::uint64_t>(sqlite3_column_int64(scan_.get(), 0));
            if (page.keys.size() == count) {
                page.next = id;
                break;
            }
            page.keys.emplace_back(q.blob(1), sqlite3_column_int64(scan_.get(), 2));
        }
        return page;
    }

    void clear() override {
        begin();
        exec("DELETE FROM kv");
    }

    std::vector<std::string> expired(std::int64_t now_ms, std::size_t limit) override {
        std::vector<std::string> keys;
        Query q(*this, expired_.get());
        sqlite3_bind_int64(expired_.get(), 1, now_ms);
        sqlite3_bind_int64(expired_.get(), 2, static_cast<std::int64_t>(limit));
        while (q.row("sweeping")) keys.push_back(q.blob(0));
        return keys;
    }

    std::int64_t next_expiry() override {
        Query q(*this, next_expiry_.get());
        return q.row("reading") ? sqlite3_column_int64(next_expiry_.get(), 0) : 0;
    }

    bool uncommitted() const override { return in_tx_; }
    bool durable() const override { return true; }

    void commit() override {
        if (!in_tx_) return;
        in_tx_ = false;
        if (sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
            std::string why = sqlite3_errmsg(db_.get());
            sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            throw std::runtime_error("store " + path_ + ": commit failed: " + why);
        }
        // As SQLite's own would, once the WAL passes 1000 pages; a failure
        // is a failed commit (the stash stops, and no later sync is trusted).
        if (wal_frames_ >= checkpoint_frames) checkpoint("checkpoint failed");
    }

    // A checkpoint syncs the WAL before it copies it into the database.
    void sync() override { checkpoint("sync failed"); }

private:
    static constexpr int checkpoint_frames = 1000;
    void checkpoint(const char* what) {
        if (sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) != SQLITE_OK)
            throw std::runtime_error("store " + path_ + ": " + what + ": " + sqlite3_errmsg(db_.get()));
        wal_frames_ = 0;
    }

    [[noreturn]] void fail(const std::string& what) {
        throw std::runtime_error("store " + path_ + ": " + what + ": " +
                                 (db_ ? sqlite3_errmsg(db_.get()) : "out of memory"));
    }
    void exec(const char* sql) {
        if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail("unreadable");
    }
    std::int64_t single_int(const char* sql) {
        auto s = prepare(sql);
        if (sqlite3_step(s.get()) != SQLITE_ROW) fail("unreadable");
        return sqlite3_column_int64(s.get(), 0);
    }
    // True for a new (empty) database, which becomes a store; an existing one
    // must be ours, never another program's that happens to be at the path.
    bool ours_or_fresh() {
        auto id = single_int("PRAGMA application_id");
        auto tables = single_int("SELECT count(*) FROM sqlite_schema");
        if (id == stash_application_id) return false;
        if (id != 0 || tables != 0)
            throw std::runtime_error("store " + path_ + " is not a stash's store (application_id " +
                                     std::to_string(id) + ", " + std::to_string(tables) +
                                     " schema objects); refusing to write into it");
        return true;
    }
    // One statement's run: bound, stepped, and always reset after.
    class Query {
    public:
        Query(SqliteStore& store, sqlite3_stmt* s) : store_(store), s_(s) {}
        Query(const Query&) = delete;
        Query& operator=(const Query&) = delete;
        ~Query() {
            sqlite3_reset(s_);
            sqlite3_clear_bindings(s_);
        }
        void bind(int i, std::string_view v) {
            sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        }
        bool row(const char* what) {
            int rc = sqlite3_step(s_);
            if (rc == SQLITE_ROW) return true;
            if (rc != SQLITE_DONE) store_.fail(what);
            return false;
        }
        void done(const char* what) {
            if (sqlite3_step(s_) != SQLITE_DONE) store_.fail(what);
        }
        std::string blob(int column) {
            auto* p = static_cast<const char*>(sqlite3_column_blob(s_, column));
            return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(s_, column)));
        }

    private:
        SqliteStore& store_;
        sqlite3_stmt* s_;
    };

    // Version 2: a number per key for SCAN (the rowid), and its expiry.
    static constexpr int schema_version = 2;
    static constexpr const char* create_kv =
        "CREATE TABLE kv (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, value BLOB NOT NULL, "
        "expires INTEGER NOT NULL DEFAULT 0)";
    // Only keys with a TTL are in it: a write without one never touches it.
    static constexpr const char* create_expiry_index = "CREATE INDEX kv_expires ON kv (expires) WHERE expires > 0";

    void make_store() {
        exec("BEGIN");
        exec(create_kv);
        exec(create_expiry_index);
        exec(("PRAGMA application_id=" + std::to_string(stash_application_id)).c_str());
        exec(("PRAGMA user_version=" + std::to_string(schema_version)).c_str());
        exec("COMMIT");
    }
    // A store of version 1 held (key, value) only: its keys move into the new
    // table in one transaction, so a crash leaves either the old or the new.
    void upgrade() {
        auto version = single_int("PRAGMA user_version");
        if (version == schema_version) return;
        if (version > schema_version)
            throw std::runtime_error("store " + path_ + " has schema version " + std::to_string(version) +
                                     ", newer than this seq-stash knows (" + std::to_string(schema_version) + ")");
        exec("BEGIN");
        exec("ALTER TABLE kv RENAME TO kv_v1");
        exec(create_kv);
        exec(create_expiry_index);
        exec("INSERT INTO kv (key, value) SELECT key, value FROM kv_v1");
        exec("DROP TABLE kv_v1");
        exec(("PRAGMA user_version=" + std::to_string(schema_version)).c_str());
        exec("COMMIT");
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
    void begin() {
        if (in_tx_) return;
        exec("BEGIN");
        in_tx_ = true;
    }

    std::string path_;
    std::unique_ptr<sqlite3, DbCloser> db_;
    Stmt get_, put_, expire_, del_, scan_, count_, expiring_, expired_, next_expiry_;
    bool in_tx_ = false;
    int wal_frames_ = 0;  // in the WAL since its last checkpoint, as its hook last said
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path, Fsync fsync) {
    return std::make_unique<SqliteStore>(path, fsync);
}

}  // namespace seq::stash
