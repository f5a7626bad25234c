// Dynamic supervisors (type = "dynamic", OTP's DynamicSupervisor): no
// children in the file; each is added at run time from the template
// (seqctl add, ADD on the control socket) and removed the same way. Such a
// supervisor always runs as a nested process: a restart of it starts it
// empty, as in OTP. Above it, a request is routed down the tree; in it,
// adopt() and forget() carry it out, and answer once it is done.
#include <algorithm>

#include "log.hpp"
#include "supervisor.hpp"

namespace seq::sup {

namespace {

std::string shown(std::string_view s) { return "'" + std::string(s.substr(0, 128)) + "'"; }

}  // namespace

std::optional<std::string> Supervisor::to_dynamic(std::string_view path, Child*& via, std::string_view& rest) const {
    if (!has_child(path)) return "ERR no child at " + shown(path) + " (" + children_along(path) + ")";
    auto [c, below] = route(path);
    const ChildSpec* spec = !c ? nullptr : below.empty() ? &c->spec : find_spec(c->spec.sub, below);
    if (!spec || spec->type != ChildType::supervisor || !spec->sub.dynamic())
        return "ERR " + shown(path) + " is not a dynamic supervisor: children are added to, and removed from, "
               "a child of type = \"dynamic\"";
    if (!c->subtree || state_of(*c) != State::running) return "ERR " + c->path + " is not running";
    via = c;
    rest = below;
    return std::nullopt;
}

std::optional<std::string> Supervisor::add_child(std::string_view path, const Addition& a, Reply done) {
    if (shutting_down_) return std::string("ERR the supervisor is stopping: nothing is added");
    if (path.empty()) return adopt(a, std::move(done));
    Child* via = nullptr;
    std::string_view rest;
    if (auto why = to_dynamic(path, via, rest)) return why;
    std::vector<std::string> words{"ADD", std::string(rest)};
    auto more = addition_words(a);
    words.insert(words.end(), more.begin(), more.end());
    std::vector<std::string_view> args(words.begin(), words.end());
    return via->subtree->command(args, std::move(done));
}

std::optional<std::string> Supervisor::remove_child(std::string_view path, std::string_view name, Reply done) {
    if (shutting_down_) return std::string("ERR the supervisor is stopping: nothing is removed");
    if (path.empty()) return forget(name, std::move(done));
    Child* via = nullptr;
    std::string_view rest;
    if (auto why = to_dynamic(path, via, rest)) return why;
    return via->subtree->command({"REMOVE", rest, name}, std::move(done));
}

std::optional<std::string> Supervisor::adopt(const Addition& a, Reply done) {
    const std::string here = env_.path.empty() ? "this supervisor" : env_.path;
    if (!options_.dynamic()) return "ERR " + here + " is not a dynamic supervisor: it has no template to add from";
    if (find(a.name))
        return "ERR " + here + " has a child named " + shown(a.name) + " already: remove it first, or pick another name";
    // One path, one process: a name comes back once its last holder is gone.
    if (std::any_of(children_.begin(), children_.end(), [&](auto& c) { return c->spec.name == a.name; }))
        return "ERR " + here + "'s child " + shown(a.name) + " is still stopping: add it again once it is gone";
    auto live = static_cast<std::size_t>(
        std::count_if(children_.begin(), children_.end(), [](auto& c) { return c->goal != Goal::removed; }));
    if (options_.max_children && live >= options_.max_children)
        return "ERR " + here + " has " + std::to_string(live) + " children, its max_children: remove one first";
    auto c = make_child(dynamic_child_spec(options_.child_template.front(), a));
    c->addition = a;
    c->on_started = std::move(done);
    c->index = children_.size();
    std::string extra;
    for (auto& arg : a.args) extra += " " + arg;
    // One log line, whatever the arguments hold.
    for (auto& ch : extra)
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
    log("%s: added from the template%s%s", c->path.c_str(), extra.empty() ? "" : ", with arguments", extra.c_str());
    children_.push_back(std::move(c));
    touch(*children_.back());
    step();
    return std::nullopt;
}

std::optional<std::string> Supervisor::forget(std::string_view name, Reply done) {
    const std::string here = env_.path.empty() ? "this supervisor" : env_.path;
    if (!options_.dynamic()) return "ERR " + here + " is not a dynamic supervisor: its children are in the tree file";
    auto* c = find(name);
    // Its children are not listed: a dynamic supervisor may have thousands.
    if (!c) return "ERR " + here + " has no child named " + shown(name);
    log("%s: removed, as requested", c->path.c_str());
    c->on_gone = std::move(done);
    want(*c, Goal::removed);
    step();
    return std::nullopt;
}

bool Supervisor::first_start_failed(Child& c, const std::string& how, bool asked) {
    if (!c.on_started) return false;
    if (asked) {
        // Stopped by us (a request, a reload, the tree stopping): the child
        // is what was asked of it now, and its ADD hears so.
        std::exchange(c.on_started, nullptr)("ERR " + c.path + " was stopped before it was ready (" +
                                             (shutting_down_ ? "the supervisor is stopping" : "as requested") + ")");
        return false;
    }
    log("%s: did not start (%s); not kept", c.path.c_str(), how.c_str());
    auto done = std::exchange(c.on_started, nullptr);
    auto why = "ERR " + c.path + " did not start: " + how;
    // Forgotten first, so that what is sent with the answer no longer shows it.
    want(c, Goal::removed);
    step();
    done(why);
    return true;
}

std::vector<ChildSpec> Supervisor::dynamic_children(const ChildSpec& tmpl) const {
    std::vector<ChildSpec> out;
    for (auto& c : children_)
        if (c->goal != Goal::removed) out.push_back(dynamic_child_spec(tmpl, c->addition));
    return out;
}

}  // namespace seq::sup
