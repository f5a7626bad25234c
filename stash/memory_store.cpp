#include "store.hpp"

namespace seq::stash {

std::optional<Entry> MemoryStore::get(std::string_view key) {
    auto it = map_.find(std::string(key));
    if (it == map_.end()) return std::nullopt;
    return Entry{it->second.value, it->second.expires_ms};
}

void MemoryStore::index_expiry(const std::string& key, std::int64_t from, std::int64_t to) {
    if (from == to) return;
    if (from) by_expiry_.erase({from, key});
    if (to) by_expiry_.emplace(to, key);
}

void MemoryStore::put(std::string_view key, std::string_view value, std::int64_t expires_ms) {
    auto [it, fresh] = map_.try_emplace(std::string(key));
    auto& slot = it->second;
    if (fresh) {
        slot.number = next_number_++;
        by_number_.emplace(slot.number, &it->first);
    }
    slot.value.assign(value);
    index_expiry(it->first, slot.expires_ms, expires_ms);
    slot.expires_ms = expires_ms;
}

bool MemoryStore::set_expiry(std::string_view key, std::int64_t expires_ms) {
    auto it = map_.find(std::string(key));
    if (it == map_.end()) return false;
    index_expiry(it->first, it->second.expires_ms, expires_ms);
    it->second.expires_ms = expires_ms;
    return true;
}

bool MemoryStore::del(std::string_view key) {
    auto it = map_.find(std::string(key));
    if (it == map_.end()) return false;
    index_expiry(it->first, it->second.expires_ms, 0);
    by_number_.erase(it->second.number);
    map_.erase(it);
    return true;
}

ScanPage MemoryStore::scan(std::uint64_t cursor, std::size_t count) {
    ScanPage page;
    auto it = by_number_.lower_bound(cursor);
    for (; it != by_number_.end() && page.keys.size() < count; ++it)
        page.keys.emplace_back(*it->second, map_.find(*it->second)->second.expires_ms);
    page.next = it == by_number_.end() ? 0 : it->first;
    return page;
}

void MemoryStore::clear() {
    by_expiry_.clear();
    by_number_.clear();
    map_.clear();
}

std::vector<std::string> MemoryStore::expired(std::int64_t now_ms, std::size_t limit) {
    std::vector<std::string> keys;
    for (auto it = by_expiry_.begin(); it != by_expiry_.end() && it->first <= now_ms && keys.size() < limit; ++it)
        keys.push_back(it->second);
    return keys;
}

}  // namespace seq::stash
