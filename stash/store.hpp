// Where the stash keeps its keys: in memory, or in SQLite on disk.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace seq::stash {

class Store {
public:
    virtual ~Store() = default;
    virtual std::optional<std::string> get(std::string_view key) = 0;
    virtual void set(std::string_view key, std::string_view value) = 0;
    virtual bool del(std::string_view key) = 0;
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
    std::optional<std::string> get(std::string_view key) override {
        auto it = map_.find(std::string(key));
        if (it == map_.end()) return std::nullopt;
        return it->second;
    }
    void set(std::string_view key, std::string_view value) override { map_[std::string(key)] = value; }
    bool del(std::string_view key) override { return map_.erase(std::string(key)) > 0; }

private:
    std::unordered_map<std::string, std::string> map_;
};

// As Redis's appendfsync: fsync at every commit, about once a second, or never.
enum class Fsync { always, everysec, no };

// Keys in an SQLite database in WAL mode, DIR/stash.db. Writes between two
// commit() calls form one transaction (group commit); a commit reaches the
// operating system (write) under every policy, and the disk (fsync) at
// once under `always`. Throws at open if the file is corrupt or unreadable,
// naming it: the stash never silently starts over.
std::unique_ptr<Store> open_sqlite_store(const std::string& path, Fsync fsync);

}  // namespace seq::stash
