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
        exec("PRAGMA wal_autocheckpoint=1000");
        if (fresh) make_store();
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
    bool durable() const override { return true; }

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
    void make_store() {
        exec("BEGIN");
        exec("CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID");
        exec(("PRAGMA application_id=" + std::to_string(stash_application_id)).c_str());
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
