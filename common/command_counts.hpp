// Calls of each command a daemon knows, by name, for INFO's commandstats
// section (as Redis writes it: "cmdstat_get:calls=3"), which the
// supervisor reads into seq_stash_commands_total. Only the daemon's own
// table's names are counted: a client sending made-up names cannot grow it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace seq {

class CommandCounts {
public:
    template <class Names>
    explicit CommandCounts(const Names& names) {
        for (const auto& n : names) calls_.emplace(std::string(n), 0);
    }
    void count(std::string_view name) {
        std::array<char, 32> lower{};
        if (name.size() > lower.size()) return;
        std::transform(name.begin(), name.end(), lower.begin(),
                       [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
        if (auto it = calls_.find(std::string_view(lower.data(), name.size())); it != calls_.end()) ++it->second;
    }
    // "cmdstat_NAME:calls=N\r\n" for each called at least once, by name.
    void append_info(std::string& out) const {
        for (auto& [name, n] : calls_)
            if (n) out += "cmdstat_" + name + ":calls=" + std::to_string(n) + "\r\n";
    }
    std::uint64_t of(std::string_view name) const {
        auto it = calls_.find(name);
        return it == calls_.end() ? 0 : it->second;
    }

private:
    std::map<std::string, std::uint64_t, std::less<>> calls_;
};

}  // namespace seq
