#include "tree.hpp"

#include <algorithm>
#include <cctype>

namespace seq::sup {

std::optional<ChildType> parse_child_type(std::string_view s) {
    if (s == "worker") return ChildType::worker;
    if (s == "supervisor") return ChildType::supervisor;
    return std::nullopt;
}

std::string_view to_string(ChildType t) { return t == ChildType::supervisor ? "supervisor" : "worker"; }

std::string_view type_name(const ChildSpec& c) {
    return c.type == ChildType::supervisor && c.sub.dynamic() ? "dynamic" : to_string(c.type);
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    if (!std::isalnum(static_cast<unsigned char>(s[0])) && s[0] != '_') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
}

std::optional<AutoShutdown> parse_auto_shutdown(std::string_view s) {
    if (s == "never") return AutoShutdown::never;
    if (s == "any_significant") return AutoShutdown::any_significant;
    if (s == "all_significant") return AutoShutdown::all_significant;
    return std::nullopt;
}

std::string_view to_string(AutoShutdown a) {
    switch (a) {
    case AutoShutdown::never: return "never";
    case AutoShutdown::any_significant: return "any_significant";
    case AutoShutdown::all_significant: return "all_significant";
    }
    return "?";
}

std::optional<Readiness> parse_readiness(std::string_view s) {
    if (s == "none") return Readiness::none;
    if (s == "notify-fd") return Readiness::notify_fd;
    if (s == "sd_notify") return Readiness::sd_notify;
    if (s == "health") return Readiness::health;
    return std::nullopt;
}

std::string_view to_string(Readiness r) {
    switch (r) {
    case Readiness::none: return "none";
    case Readiness::notify_fd: return "notify-fd";
    case Readiness::sd_notify: return "sd_notify";
    case Readiness::health: return "health";
    }
    return "?";
}

std::optional<Update> parse_update(std::string_view s) {
    if (s == "restart") return Update::restart;
    if (s == "rolling") return Update::rolling;
    if (s == "handover") return Update::handover;
    return std::nullopt;
}

std::string_view to_string(Update u) {
    switch (u) {
    case Update::restart: return "restart";
    case Update::rolling: return "rolling";
    case Update::handover: return "handover";
    }
    return "?";
}

bool same_process_spec(const ChildSpec& a, const ChildSpec& b) {
    if (a.generation == b.generation && a.instances == b.instances) return a == b;
    ChildSpec b_as_a = b;
    b_as_a.generation = a.generation;
    b_as_a.instances = a.instances;
    return a == b_as_a;
}

void number_generations(const SupervisorSpec& running, SupervisorSpec& next) {
    auto number = [](const std::vector<ChildSpec>& before, std::vector<ChildSpec>& after) {
        for (auto& c : after) {
            auto was = std::find_if(before.begin(), before.end(),
                                    [&](auto& b) { return b.name == c.name && b.type == c.type; });
            if (was == before.end()) continue;
            // Below first: a subtree's own numbers are part of its spec.
            number_generations(was->sub, c.sub);
            c.generation = same_process_spec(*was, c) ? was->generation : was->generation + 1;
        }
    };
    number(running.children, next.children);
    number(running.child_template, next.child_template);
}

std::optional<std::string> graft(SupervisorSpec& into, const SupervisorSpec& from, std::string_view path) {
    auto slash = path.find('/');
    auto name = path.substr(0, slash);
    auto at = [&](auto& list) {
        return std::find_if(list.begin(), list.end(), [&](auto& c) { return c.name == name; });
    };
    auto mine = at(into.children);
    auto theirs = at(from.children);
    if (slash != std::string_view::npos) {
        if (mine == into.children.end() || theirs == from.children.end() || mine->type != ChildType::supervisor ||
            theirs->type != ChildType::supervisor || mine->sub.dynamic())
            return "no supervisor '" + std::string(name) + "' both in the tree that runs and in the file";
        return graft(mine->sub, theirs->sub, path.substr(slash + 1));
    }
    if (mine == into.children.end() && theirs == from.children.end())
        return "no child '" + std::string(name) + "' in the tree that runs nor in the file";
    if (theirs == from.children.end()) into.children.erase(mine);
    else if (mine == into.children.end()) into.children.push_back(*theirs);
    else *mine = *theirs;
    return std::nullopt;
}

ChildSpec member_spec(const ChildSpec& pool, unsigned k) {
    ChildSpec m = pool;
    m.name = pool.name + "#" + std::to_string(k);
    m.pool = pool.name;
    m.pool_index = k;
    m.instances = 0;
    return m;
}

std::optional<std::pair<std::string_view, unsigned>> split_member(std::string_view name) {
    auto hash = name.rfind('#');
    if (hash == std::string_view::npos || hash == 0 || hash + 1 == name.size() || name.size() - hash > 6)
        return std::nullopt;
    unsigned k = 0;
    for (char ch : name.substr(hash + 1)) {
        if (ch < '0' || ch > '9') return std::nullopt;
        k = k * 10 + static_cast<unsigned>(ch - '0');
    }
    // One spelling only: "web#03" is not "web#3".
    if (name.size() - hash > 2 && name[hash + 1] == '0') return std::nullopt;
    return std::pair{name.substr(0, hash), k};
}

const ChildSpec* find_spec(const SupervisorSpec& s, std::string_view path) {
    const SupervisorSpec* level = &s;
    for (;;) {
        auto slash = path.find('/');
        auto name = path.substr(0, slash);
        const ChildSpec* found = nullptr;
        for (auto& k : level->children)
            if (k.name == name) found = &k;
        // "web#3" below a nested supervisor: an instance of the pool "web"
        // (how many it has now is that supervisor's to say).
        if (auto m = split_member(name); !found && m && slash == std::string_view::npos)
            for (auto& k : level->children)
                if (k.name == m->first && k.instances > 0 && m->second < bounds::instances.hi) found = &k;
        if (!found || slash == std::string_view::npos) return found;
        if (found->type != ChildType::supervisor) return nullptr;
        level = &found->sub;
        path = path.substr(slash + 1);
    }
}

bool below_dynamic(const SupervisorSpec& s, std::string_view path) {
    auto slash = path.rfind('/');
    const SupervisorSpec* parent = &s;
    if (slash != std::string_view::npos) {
        auto* up = find_spec(s, path.substr(0, slash));
        if (!up || up->type != ChildType::supervisor) return false;
        parent = &up->sub;
    }
    return parent->dynamic() && valid_name(path.substr(slash == std::string_view::npos ? 0 : slash + 1));
}

std::vector<SocketSpec> sockets_of(const SupervisorSpec& s) {
    std::vector<SocketSpec> out;
    // A dynamic supervisor's children all take its template's sockets.
    for (auto* list : {&s.children, &s.child_template})
        for (auto& c : *list) {
            out.insert(out.end(), c.sockets.begin(), c.sockets.end());
            auto sub = sockets_of(c.sub);
            out.insert(out.end(), sub.begin(), sub.end());
        }
    return out;
}

DirAccess run_dir_access(const Tree& t) {
    auto& run = t.run_dir_group;
    auto& ctl = t.control_group;
    if (!run && !ctl) return {};
    if (run && ctl && run->gid != ctl->gid) return {0711, run->gid};
    return {0710, (run ? run : ctl)->gid};
}

SocketSpec control_socket_spec(const Tree& t, std::string path) {
    SocketSpec s;
    s.name = "control";
    s.path = std::move(path);
    s.backlog = 1024;
    if (t.control_group) {
        s.mode = 0660;
        s.group = t.control_group->name;
        s.gid = t.control_group->gid;
    }
    return s;
}

}  // namespace seq::sup
