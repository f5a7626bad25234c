#include "usage_history.hpp"

#include <functional>

namespace seq::sup {

void UsageHistory::add(const TreeReport& r, std::uint64_t now_ms) {
    std::function<void(const std::vector<ChildReport>&, const std::string&)> walk =
        [&](const std::vector<ChildReport>& children, const std::string& prefix) {
            for (auto& c : children) {
                const auto path = prefix + c.name;
                for (auto& i : c.instances) walk({i}, prefix);
                if (!c.pool) {
                    auto& k = kept_[path];
                    Sample s;
                    s.memory_bytes = c.memory_bytes.value_or(0);
                    const auto cpu = c.cpu_ms.value_or(0);
                    const auto pid = c.pid.value_or(0);
                    // A new process starts its CPU time again: no rate across it.
                    if (k.last_cpu_ms >= 0 && pid == k.last_pid && now_ms > k.last_ms && cpu >= k.last_cpu_ms)
                        s.cpu_permille = (cpu - k.last_cpu_ms) * 1000 / static_cast<std::int64_t>(now_ms - k.last_ms);
                    k.last_cpu_ms = cpu;
                    k.last_pid = pid;
                    k.last_ms = now_ms;
                    k.samples.push_back(s);
                    if (k.samples.size() > keep) k.samples.pop_front();
                }
                walk(c.children, path + "/");
            }
        };
    walk(r.children, "");
    // Children gone for longer than the window are forgotten.
    std::erase_if(kept_, [&](const auto& e) { return now_ms - e.second.last_ms > every_ms * keep; });
}

const std::deque<UsageHistory::Sample>& UsageHistory::of(std::string_view path) const {
    static const std::deque<Sample> none;
    auto it = kept_.find(path);
    return it == kept_.end() ? none : it->second.samples;
}

}  // namespace seq::sup
