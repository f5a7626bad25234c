// Where the stash keeps its keys: in memory, or in SQLite on disk.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace seq::stash {

// A key's value and when it expires, in Unix milliseconds (0: never). The
// time is absolute, as Redis keeps it, so that a TTL set before a restart
// still ends when it was meant to.
struct Entry {
    std::string value;
    std::int64_t expires_ms = 0;
};

// The keys as SCAN walks them: each key has a number that stays while the
// key lives, and new keys get higher ones, so a walk in that order sees
// every key that is there from its start to its end exactly once.
struct ScanPage {
    std::vector<std::pair<std::string, std::int64_t>> keys;  // key, expires_ms
    std::uint64_t next = 0;  // the cursor to go on from; 0 once the walk is done
};

class Store {
public:
    virtual ~Store() = default;
    // Expired keys are returned too: what has expired is the caller's rule.
    virtual std::optional<Entry> get(std::string_view key) = 0;
    virtual void put(std::string_view key, std::string_view value, std::int64_t expires_ms) = 0;
    // A new expiry for a key that exists; false if it does not.
    virtual bool set_expiry(std::string_view key, std::int64_t expires_ms) = 0;
    virtual bool del(std::string_view key) = 0;
    virtual std::size_t size() = 0;
    virtual std::size_t expiring() = 0;  // keys with a TTL
    // Up to `count` keys whose number is at least `cursor`, in that order.
    virtual ScanPage scan(std::uint64_t cursor, std::size_t count) = 0;
    virtual void clear() = 0;
    // Up to `limit` keys that expired at or before `now_ms`, soonest first.
    virtual std::vector<std::string> expired(std::int64_t now_ms, std::size_t limit) = 0;
    // The soonest expiry of any key, or 0 if none has one.
    virtual std::int64_t next_expiry() = 0;

    // Whether writes wait for commit() before they may be acknowledged.
    virtual bool uncommitted() const { return false; }
    // Makes every write so far durable as the store promises; throws on failure.
    virtual void commit() {}
    // Pushes committed writes to the disk (fsync); for the everysec policy.
    virtual void sync() {}
    // Whether what it holds outlives the process (INFO, CONFIG GET appendonly).
    virtual bool durable() const { return false; }
};

class MemoryStore final : public Store {
public:
    std::optional<Entry> get(std::string_view key) override;
    void put(std::string_view key, std::string_view value, std::int64_t expires_ms) override;
    bool set_expiry(std::string_view key, std::int64_t expires_ms) override;
    bool del(std::string_view key) override;
    std::size_t size() override { return map_.size(); }
    std::size_t expiring() override { return by_expiry_.size(); }
    ScanPage scan(std::uint64_t cursor, std::size_t count) override;
    void clear() override;
    std::vector<std::string> expired(std::int64_t now_ms, std::size_t limit) override;
    std::int64_t next_expiry() override { return by_expiry_.empty() ? 0 : by_expiry_.begin()->first; }

private:
    struct Slot {
        std::string value;
        std::int64_t expires_ms = 0;
        std::uint64_t number = 0;  // SCAN's order
    };
    // Keys with a TTL, soonest first, for the sweep; the rest cost nothing here.
    void index_expiry(const std::string& key, std::int64_t from, std::int64_t to);

    std::unordered_map<std::string, Slot> map_;
    std::map<std::uint64_t, const std::string*> by_number_;  // points at map_'s keys, which do not move
    std::set<std::pair<std::int64_t, std::string>> by_expiry_;
    std::uint64_t next_number_ = 1;
};

// As Redis's appendfsync: fsync at every commit, about once a second, or never.
enum class Fsync { always, everysec, no };

// Keys in an SQLite database in WAL mode, DIR/stash.db. Writes between two
// commit() calls form one transaction (group commit); a commit reaches the
// operating system (write) under every policy, and the disk (fsync) at
// once under `always`. Throws at open if the file is corrupt or unreadable,
// naming it: the stash never silently starts over. A store written by an
// earlier version (keys and values only) is upgraded in place, in one
// transaction.
std::unique_ptr<Store> open_sqlite_store(const std::string& path, Fsync fsync);

}  // namespace seq::stash
