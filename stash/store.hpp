// Where the stash keeps its keys.
#pragma once

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
    virtual std::size_t size() const = 0;
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
    std::size_t size() const override { return map_.size(); }

private:
    std::unordered_map<std::string, std::string> map_;
};

}  // namespace seq::stash
