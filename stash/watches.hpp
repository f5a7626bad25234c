// WATCH: which connections watch which keys, and whose transaction a write
// has spoiled since. EXEC of a spoiled transaction runs nothing (check-and-set).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace seq::stash {

class Watches {
public:
    bool empty() const { return by_key_.empty(); }
    // `expires_ms`: the key's expiry when watched; a key that expires
    // before EXEC spoils the transaction too, as in Redis 6.0.9 and later.
    void watch(std::uint64_t client, std::string_view key, std::int64_t expires_ms) {
        auto& w = clients_[client];
        for (auto& k : w.keys)
            if (k.first == key) return;
        w.keys.emplace_back(std::string(key), expires_ms);
        by_key_[std::string(key)].push_back(client);
    }
    void unwatch(std::uint64_t client) {
        auto it = clients_.find(client);
        if (it == clients_.end()) return;
        for (auto& k : it->second.keys) {
            auto w = by_key_.find(k.first);
            if (w == by_key_.end()) continue;
            std::erase(w->second, client);
            if (w->second.empty()) by_key_.erase(w);
        }
        clients_.erase(it);
    }
    // A write to `key`: every transaction watching it is spoiled.
    void touch(std::string_view key) {
        if (by_key_.empty()) return;
        auto it = by_key_.find(std::string(key));
        if (it == by_key_.end()) return;
        for (auto client : it->second) clients_[client].spoiled = true;
    }
    void touch_all() {
        for (auto& [client, w] : clients_) w.spoiled = true;
    }
    bool spoiled(std::uint64_t client, std::int64_t now_ms) const {
        auto it = clients_.find(client);
        if (it == clients_.end()) return false;
        return it->second.spoiled ||
               std::any_of(it->second.keys.begin(), it->second.keys.end(),
                           [now_ms](auto& k) { return k.second > 0 && k.second <= now_ms; });
    }

private:
    struct Client {
        std::vector<std::pair<std::string, std::int64_t>> keys;
        bool spoiled = false;
    };
    std::unordered_map<std::uint64_t, Client> clients_;
    std::unordered_map<std::string, std::vector<std::uint64_t>> by_key_;
};

}  // namespace seq::stash
