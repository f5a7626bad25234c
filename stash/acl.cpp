#include "acl.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>

#include "fd.hpp"
#include "glob.hpp"
#include "log.hpp"

namespace seq {

KeyGrants::KeyGrants(std::vector<std::string> given) : patterns(std::move(given)) {
    for (auto& p : patterns) {
        auto special = p.find_first_of("*?[\\");
        if (p == "*") all = true;
        else if (special == p.size() - 1 && p.back() == '*') prefixes_.push_back(p.substr(0, special));
        else globs_.push_back(p);
    }
}

bool KeyGrants::may(std::string_view key) const {
    if (all) return true;
    for (auto& p : prefixes_)
        if (key.starts_with(p)) return true;
    return std::any_of(globs_.begin(), globs_.end(), [&](const std::string& p) { return stash::glob_match(p, key); });
}

}  // namespace seq

namespace seq::stash {

namespace {

constexpr std::size_t max_file = 4 << 20;  // bytes read of one file; a tree's users fit in far less

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> w;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        auto start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (i > start) w.push_back(line.substr(start, i - start));
    }
    return w;
}

// Equal, taking as long whatever the first difference: a client cannot
// find a password a byte at a time by timing the refusals.
bool same_secret(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

// Its text; throws, unless it is gone (a supervisor replaced it between
// the listing and the open): then nullopt.
std::optional<std::string> read_file(const std::string& path) {
    // Non-blocking: a fifo named *.acl must not stop the stash.
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd && errno == ENOENT) return std::nullopt;
    if (!fd) throw std::runtime_error(path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode)) throw std::runtime_error(path + ": not a regular file");
    std::string text;
    char buf[16 << 10];
    for (;;) {
        auto n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > max_file) throw std::runtime_error(path + ": larger than 4 MiB");
    }
    return text;
}

}  // namespace

std::vector<AclUser> parse_acl(std::string_view text, std::vector<std::string>& errors) {
    std::vector<AclUser> users;
    std::size_t number = 0;
    while (!text.empty()) {
        auto end = text.find('\n');
        auto line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        ++number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto w = words(line);
        if (w.empty() || w[0].starts_with('#')) continue;
        auto bad = [&](const std::string& why) { errors.push_back(std::to_string(number) + ": " + why); };
        if (w[0] != "user" || w.size() < 2) {
            bad("not a user line (user NAME >PASSWORD ~PATTERN ...)");
            continue;
        }
        AclUser u;
        u.name = w[1];
        std::vector<std::string> patterns;
        bool ok = true;
        for (auto rule : std::span(w).subspan(2)) {
            if (rule.starts_with('>') && rule.size() > 1) {
                u.passwords.emplace_back(rule.substr(1));
            } else if (rule.starts_with('~') && rule.size() > 1) {
                patterns.emplace_back(rule.substr(1));
            } else if (rule != "on") {
                bad("user " + u.name + ": not a rule this stash takes: " + std::string(rule.substr(0, 64)));
                ok = false;
                break;
            }
        }
        if (!ok) continue;
        if (u.passwords.empty()) {
            bad("user " + u.name + " has no password (>PASSWORD)");
            continue;
        }
        u.grants = std::make_shared<const KeyGrants>(std::move(patterns));
        users.push_back(std::move(u));
    }
    return users;
}

AccessList::AccessList(std::string dir) : dir_(std::move(dir)) {
    struct stat st {};
    if (::stat(dir_.c_str(), &st) < 0)
        throw std::runtime_error("the ACL directory " + dir_ + ": " + std::strerror(errno));
    // Whoever may write there may make themselves any user.
    if (!S_ISDIR(st.st_mode)) throw std::runtime_error("the ACL directory " + dir_ + ": not a directory");
    if (st.st_uid != ::geteuid() || (st.st_mode & 022)) {
        char why[96];
        std::snprintf(why, sizeof why, " is uid %u's, mode %03o: it must be ours, and no one else's to write",
                      static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_mode & 0777));
        throw std::runtime_error("the ACL directory " + dir_ + why);
    }
    watch_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (watch_ && ::inotify_add_watch(watch_.get(), dir_.c_str(),
                                      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                                          IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0)
        watch_.reset();
    if (!watch_) log("ACL: cannot watch %s (%s): it is read again at every unknown login", dir_.c_str(), std::strerror(errno));
    load();
}

bool AccessList::refresh() {
    bool changed = !watch_;
    if (watch_) {
        alignas(inotify_event) char buf[4096];
        while (::read(watch_.get(), buf, sizeof buf) > 0) changed = true;
    }
    if (!changed) return false;
    try {
        load();
    } catch (const std::exception& e) {
        log("ACL: %s; keeping the users read before", e.what());
    }
    return true;
}

std::shared_ptr<const KeyGrants> AccessList::grants_of(std::string_view user) const {
    auto it = users_.find(user);
    return it == users_.end() ? nullptr : it->second.grants;
}

void AccessList::load() {
    DIR* d = ::opendir(dir_.c_str());
    if (!d) throw std::runtime_error("the ACL directory " + dir_ + ": " + std::strerror(errno));
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n.size() > 4 && n.ends_with(".acl") && n[0] != '.') names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    std::map<std::string, AclUser, std::less<>> users;
    std::vector<std::string> problems;
    for (auto& n : names) {
        auto path = dir_ + "/" + n;
        std::optional<std::string> text;
        try {
            text = read_file(path);
        } catch (const std::exception& e) {
            problems.push_back(std::string(e.what()) + "; its users are left out");
        }
        if (!text) continue;
        std::vector<std::string> errors;
        for (auto& u : parse_acl(*text, errors)) {
            auto name = u.name;
            if (!users.emplace(name, std::move(u)).second)
                problems.push_back(path + ": user " + name + " is in an earlier file too; this one is left out");
        }
        for (auto& e : errors) problems.push_back(path + ":" + e);
    }
    users_ = std::move(users);
    // Said once, not at every wrong password that reads the files again.
    if (problems != problems_)
        for (auto& p : problems) log("ACL: %s", p.c_str());
    problems_ = std::move(problems);
}

const AclUser* AccessList::find(std::string_view user, std::string_view password) const {
    auto it = users_.find(user);
    if (it == users_.end()) return nullptr;
    bool match = false;
    for (auto& p : it->second.passwords) match = same_secret(p, password) || match;
    return match ? &it->second : nullptr;
}

std::shared_ptr<const KeyGrants> AccessList::authenticate(std::string_view user, std::string_view password) const {
    auto* u = find(user, password);
    return u ? u->grants : nullptr;
}

}  // namespace seq::stash
