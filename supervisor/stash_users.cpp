#include "stash_users.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "fd.hpp"

namespace seq::sup {

namespace {

std::runtime_error failure(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

// `text` into `path`, whole or not at all: a file beside it, renamed over it.
void replace_file(const std::string& path, const std::string& text) {
    auto slash = path.rfind('/');
    auto tmp = path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".new";
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw failure("cannot write " + tmp);
    std::size_t done = 0;
    while (done < text.size()) {
        auto n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            auto e = failure("cannot write " + tmp);
            ::unlink(tmp.c_str());
            throw e;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        auto e = failure("cannot rename " + tmp + " to " + path);
        ::unlink(tmp.c_str());
        throw e;
    }
}

}  // namespace

std::string new_password() {
    unsigned char bytes[16];
    std::size_t got = 0;
    while (got < sizeof bytes) {
        auto n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw failure("getrandom");
        got += static_cast<std::size_t>(n);
    }
    static const char hex[] = "0123456789abcdef";
    std::string s;
    for (auto b : bytes) s += hex[b >> 4], s += hex[b & 15];
    return s;
}

std::string stash_users_file(std::string_view path) {
    if (path.empty()) return "-top.acl";
    std::string s(path);
    std::replace(s.begin(), s.end(), '/', '+');
    return s + ".acl";
}

std::string stash_url(std::string_view user, std::string_view password, std::string_view socket) {
    std::string u;
    for (char ch : user) u += ch == '/' ? std::string("%2F") : std::string(1, ch);
    return "unix://" + u + ":" + std::string(password) + "@" + std::string(socket);
}

StashAcl open_stash_acl(const std::string& run_dir) {
    StashAcl acl;
    acl.dir = run_dir + "/stash.acl";
    if (::mkdir(acl.dir.c_str(), 0700) < 0 && errno != EEXIST) throw failure("cannot make " + acl.dir);
    struct stat st {};
    if (::lstat(acl.dir.c_str(), &st) < 0) throw failure(acl.dir);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        throw std::runtime_error(acl.dir + " is not a directory of ours: the stash's users cannot be kept there");
    if ((st.st_mode & 077) && ::chmod(acl.dir.c_str(), 0700) < 0) throw failure("cannot chmod " + acl.dir);
    // What a supervisor killed here left: its users are no one's now.
    if (DIR* d = ::opendir(acl.dir.c_str())) {
        std::vector<std::string> old;
        while (auto* e = ::readdir(d))
            if (std::string_view n = e->d_name; n != "." && n != "..") old.emplace_back(n);
        ::closedir(d);
        for (auto& n : old) ::unlink((acl.dir + "/" + n).c_str());
    }
    acl.operator_password = new_password();
    replace_file(run_dir + "/stash.password", acl.operator_password + "\n");
    return acl;
}

StashUsers::StashUsers(std::string dir, std::string_view supervisor_path, std::string operator_password)
    : dir_(std::move(dir)), file_(dir_ + "/" + stash_users_file(supervisor_path)),
      operator_password_(std::move(operator_password)) {}

StashUsers::~StashUsers() {
    // Its children are gone with it; a later start writes them anew.
    if (!written_.empty()) ::unlink(file_.c_str());
}

void StashUsers::sync(const std::map<std::string, std::vector<std::string>>& wanted) {
    std::map<std::string, User> next;
    for (auto& [name, patterns] : wanted) {
        auto it = users_.find(name);
        next[name] = User{patterns, it != users_.end() ? it->second.password : new_password()};
    }
    std::string text = "# The stash's users of " +
                       std::string(operator_password_.empty() ? "a nested supervisor's children" : "the tree's top") +
                       ", written by seq-supervisor: a line each, user NAME >PASSWORD ~PATTERN...\n";
    if (!operator_password_.empty()) text += "user default >" + operator_password_ + " ~*\n";
    for (auto& [name, u] : next) {
        text += "user " + name + " >" + u.password;
        for (auto& p : u.patterns) text += " ~" + p;
        text += "\n";
    }
    if (text != written_) {
        replace_file(file_, text);
        written_ = std::move(text);
    }
    users_ = std::move(next);
}

std::optional<std::string> StashUsers::password(const std::string& user, const std::vector<std::string>& patterns) const {
    auto it = users_.find(user);
    if (it == users_.end()) return std::nullopt;
    for (auto& p : patterns)
        if (std::find(it->second.patterns.begin(), it->second.patterns.end(), p) == it->second.patterns.end())
            return std::nullopt;
    return it->second.password;
}

}  // namespace seq::sup
