#include "cgroups.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>

#include "log.hpp"
#include "process.hpp"

namespace seq::sup {

namespace {

constexpr const char* self_leaf = ".self";  // no child may have this name: it starts with '.'

// The cgroup v2 mount, from our mountinfo: "... MOUNTPOINT ... - cgroup2 ...".
std::string cgroup2_mount() {
    auto info = read_proc("/proc/self/mountinfo");
    for (std::size_t at = 0; at < info.size();) {
        auto end = info.find('\n', at);
        std::string line = info.substr(at, end == std::string::npos ? std::string::npos : end - at);
        at = end == std::string::npos ? info.size() : end + 1;
        auto dash = line.find(" - cgroup2 ");
        if (dash == std::string::npos) continue;
        // id parent dev root mountpoint: the fifth field.
        std::size_t from = 0;
        for (int field = 0; field < 4 && from != std::string::npos; ++field) from = line.find(' ', from + 1);
        if (from == std::string::npos) continue;
        auto to = line.find(' ', from + 1);
        return line.substr(from + 1, to - from - 1);
    }
    return "";
}

// A process's cgroup v2 path ("/seq-x/web/3"), from /proc/PID/cgroup's "0::" line.
std::string cgroup_of(const std::string& pid) {
    auto text = read_proc("/proc/" + pid + "/cgroup");
    for (std::size_t at = 0; at < text.size();) {
        auto end = text.find('\n', at);
        std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
        at = end == std::string::npos ? text.size() : end + 1;
        if (line.starts_with("0::")) return line.substr(3);
    }
    return "";
}

bool write_file(const std::string& path, const char* text) {
    Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    return fd && ::write(fd.get(), text, std::strlen(text)) == static_cast<ssize_t>(std::strlen(text));
}

bool populated(const std::string& dir) { return read_proc(dir + "/cgroup.events").find("populated 1") != std::string::npos; }

// Waits, by poll on cgroup.events (never a loop of looks), until `dir`
// holds no process or `ms` pass.
bool wait_empty(const std::string& dir, int ms) {
    Fd events(open((dir + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
    if (!events) return !populated(dir);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
        char buf[256];
        auto n = pread(events.get(), buf, sizeof buf - 1, 0);
        if (n < 0) return false;
        buf[n] = 0;
        if (!std::strstr(buf, "populated 1")) return true;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{events.get(), POLLPRI, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) return false;
    }
}

}  // namespace

namespace {

constexpr const char* controllers[] = {"memory", "cpu", "pids", "io"};

bool has_word(const std::string& list, std::string_view word) {
    for (std::size_t at = 0; at < list.size();) {
        auto end = list.find_first_of(" \n", at);
        if (end == std::string::npos) end = list.size();
        if (std::string_view(list).substr(at, end - at) == word) return true;
        at = end + 1;
    }
    return false;
}

// `controller` enabled in `dir`'s children; whether it is.
bool enable(const std::string& dir, const std::string& controller) {
    if (has_word(read_proc(dir + "/cgroup.subtree_control"), controller)) return true;
    return write_file(dir + "/cgroup.subtree_control", ("+" + controller).c_str());
}

}  // namespace

// The path, as a person reads it, then a hash of it as it is (FNV-1a, the
// same on every build): /a-b and /a/b read alike, and differ by it.
std::string tree_cgroup_name(const std::string& run_dir) {
    std::string name = "seq";
    for (char ch : run_dir) name += (ch == '/' || ch == '\n' || ch == ' ') ? '-' : ch;
    if (name.size() > 200) name.resize(200);
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char ch : run_dir) h = (h ^ ch) * 1099511628211ull;
    char hex[24];
    std::snprintf(hex, sizeof hex, "-%016llx", static_cast<unsigned long long>(h));
    return name + hex;
}

Cgroups::Cgroups(const std::string& tree, const std::string& given) {
    const auto mount = cgroup2_mount();
    if (mount.empty()) {
        why_not_ = "no cgroup v2 hierarchy is mounted";
        return;
    }
    mount_ = mount;
    auto own = cgroup_of("self");
    if (own.empty()) {
        why_not_ = "this process is in no cgroup v2";
        return;
    }
    own_ = mount + (own == "/" ? "" : own);
    if (tree.empty()) {
        // Nested: its parent made its cgroup, and said so.
        if (given.empty() || given != own_) {
            why_not_ = "its parent gave it no cgroup of its own";
            return;
        }
        base_ = own_;
        return;
    }
    if (access(own_.c_str(), W_OK | X_OK) != 0) {
        why_not_ = "cannot make cgroups below " + own_ + ": " + std::strerror(errno) +
                   " (run as root, or under systemd with Delegate=yes)";
        return;
    }
    base_ = own_ + "/" + tree;
}

bool Cgroups::holds(pid_t pid) const {
    if (!on() || mount_.empty()) return false;
    auto path = cgroup_of(std::to_string(pid));
    auto rel = base_.substr(mount_.size());
    return !path.empty() && (path == rel || path.starts_with(rel + "/"));
}

void Cgroups::take() {
    if (!on()) return;
    auto off = [this](const std::string& why) {
        why_not_ = why;
        base_.clear();
    };
    if (own_ != base_) {
        // What a supervisor killed here left: killed, waited for, removed.
        struct stat st{};
        if (stat(base_.c_str(), &st) == 0) {
            if (populated(base_)) {
                kill(base_);
                if (!wait_empty(base_, 5000)) log("cgroup %s: still holds processes 5 s after cgroup.kill", base_.c_str());
            }
            remove_tree(base_);
        }
        if (mkdir(base_.c_str(), 0755) < 0 && errno != EEXIST)
            return off("cannot make " + base_ + ": " + std::strerror(errno));
    }
    if (access((base_ + "/cgroup.kill").c_str(), W_OK) != 0)
        return off("the kernel has no cgroup.kill (Linux 5.14 or later)");
    auto self = base_ + "/" + self_leaf;
    if (mkdir(self.c_str(), 0755) < 0 && errno != EEXIST) return off("cannot make " + self + ": " + std::strerror(errno));
    if (!write_file(self + "/cgroup.procs", "0")) return off("cannot move into " + self + ": " + std::strerror(errno));
    // Out of our own cgroup now: under systemd's Delegate=yes it is empty,
    // and its controllers may be enabled for the tree below it (where
    // another process is still in it, they cannot, and limits that need
    // them are refused, saying so).
    if (own_ != base_) {
        auto have = read_proc(own_ + "/cgroup.controllers");
        for (auto c : controllers)
            if (has_word(have, c)) enable(own_, c);
    }
}

std::optional<Cgroups::Leaf> Cgroups::leaf(const std::string& name) {
    if (!on()) return std::nullopt;
    auto dir = base_ + "/" + name;
    std::string leaf;
    int err = 0;
    if (mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) err = errno;
    // One left from before (still dying) keeps its number: the next is taken.
    for (int tries = 0; !err; ++tries) {
        leaf = dir + "/" + std::to_string(++serial_);
        if (mkdir(leaf.c_str(), 0755) == 0) break;
        if (errno != EEXIST || tries == 100) err = errno;
    }
    Fd procs;
    if (!err) {
        procs = Fd(open((leaf + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
        if (!procs) err = errno, rmdir(leaf.c_str());
    }
    if (err) {
        if (!std::exchange(said_, true))
            log("cannot make a cgroup for %s (%s): %s; it runs in ours", name.c_str(), leaf.c_str(), std::strerror(err));
        return std::nullopt;
    }
    return Leaf{leaf, std::move(procs)};
}

bool Cgroups::kill(const std::string& dir) { return write_file(dir + "/cgroup.kill", "1"); }


void Cgroups::open_controllers(const std::string& name) {
    if (!on()) return;
    auto here = read_proc(base_ + "/cgroup.controllers");
    for (auto c : controllers)
        if (has_word(here, c) && enable(base_, c)) enable(base_ + "/" + name, c);
}

std::optional<std::string> Cgroups::limit(const Leaf& leaf, const std::string& name, const Limits& l) {
    struct Want {
        const char* key;
        const char* controller;
        const char* file;
        std::string value;
    };
    std::vector<Want> wants;
    if (l.memory_max) wants.push_back({"memory_max", "memory", "memory.max", std::to_string(*l.memory_max)});
    if (l.memory_high) wants.push_back({"memory_high", "memory", "memory.high", std::to_string(*l.memory_high)});
    if (!l.cpu_max.empty()) wants.push_back({"cpu_max", "cpu", "cpu.max", l.cpu_max});
    if (l.pids_max) wants.push_back({"pids_max", "pids", "pids.max", std::to_string(*l.pids_max)});
    if (l.io_weight) wants.push_back({"io_weight", "io", "io.weight", "default " + std::to_string(*l.io_weight)});
    if (wants.empty()) return std::nullopt;
    const auto here = read_proc(base_ + "/cgroup.controllers");
    for (auto& w : wants) {
        const bool there = has_word(here, w.controller);
        if (!there && std::string_view(w.key) == "memory_max") continue;  // watched by the supervisor instead
        if (!there)
            return std::string(w.key) + " needs the " + w.controller + " controller, which " + base_ +
                   " does not have (it has: " + (here.empty() || here == "\n" ? std::string("none") : here.substr(0, here.find('\n'))) +
                   "; on a host with cgroup v1 for it, or without delegation of it, it cannot be held)";
        if (!enable(base_, w.controller) || !enable(base_ + "/" + name, w.controller))
            return std::string(w.key) + ": cannot enable the " + w.controller + " controller below " + base_ + ": " +
                   std::strerror(errno);
        if (!write_file(leaf.dir + "/" + w.file, w.value.c_str()))
            return std::string(w.key) + ": cannot write " + w.value + " to " + leaf.dir + "/" + w.file + ": " +
                   std::strerror(errno);
        // Past memory_max it is to be killed, not swapped out without end.
        if (std::string_view(w.key) == "memory_max" && access((leaf.dir + "/memory.swap.max").c_str(), F_OK) == 0)
            write_file(leaf.dir + "/memory.swap.max", "0");
    }
    return std::nullopt;
}

long long Cgroups::oom_kills(const std::string& leaf) {
    auto events = read_proc(leaf + "/memory.events");
    auto at = events.find("oom_kill ");
    return at == std::string::npos ? 0 : std::atoll(events.c_str() + at + 9);
}

namespace {

// The cgroups directly below `dir`, by name ("." and ".." left out).
std::vector<std::string> subdirs(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (auto* e = readdir(d))
            if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
                out.emplace_back(e->d_name);
        closedir(d);
    }
    return out;
}

// Each process in `dir` and below, said before it is killed.
void say_killed(const std::string& dir) {
    auto procs = read_proc(dir + "/cgroup.procs");
    for (std::size_t at = 0; at < procs.size();) {
        auto end = procs.find('\n', at);
        auto pid = static_cast<pid_t>(std::atoi(procs.c_str() + at));
        at = end == std::string::npos ? procs.size() : end + 1;
        if (pid > 0) log("killing pid %d (%s), left behind by a child that is gone", pid, process_name(pid).c_str());
    }
    for (auto& sub : subdirs(dir))
        if (sub[0] != '.') say_killed(dir + "/" + sub);
}

}  // namespace

void Cgroups::release(const std::string& dir) {
    if (dir.empty()) return;
    if (populated(dir)) {
        say_killed(dir);
        kill(dir);
    }
    if (!remove_tree(dir)) pending_.push_back(dir);
    // The child's own dir, once its last process is gone (a dynamic child
    // removed for good leaves nothing); busy while another is in it.
    else if (auto up = dir.substr(0, dir.rfind('/')); up.size() > base_.size()) rmdir(up.c_str());
}

bool Cgroups::retry() {
    std::erase_if(pending_, [this](const std::string& dir) {
        if (!remove_tree(dir)) return false;
        if (auto up = dir.substr(0, dir.rfind('/')); up.size() > base_.size()) rmdir(up.c_str());
        return true;
    });
    return !pending_.empty();
}

void Cgroups::leave() {
    if (!on() || own_ == base_) return;
    // What is left below us (nothing, after an orderly stop), but never
    // .self, where we are until the move back is done.
    for (auto& sub : subdirs(base_))
        if (sub[0] != '.') release(base_ + "/" + sub);
    // Back where we were started, if our own cgroup takes a process (one
    // with controllers on for its children does not, unless it is the
    // root): then the tree goes, else the next supervisor here removes it.
    if (write_file(own_ + "/cgroup.procs", "0")) {
        for (auto& dir : pending_) wait_empty(dir, 1000);
        retry();
        remove_tree(base_);
    }
}

bool Cgroups::remove_tree(const std::string& dir) {
    bool done = true;
    for (auto& sub : subdirs(dir)) done = remove_tree(dir + "/" + sub) && done;
    if (rmdir(dir.c_str()) == 0 || errno == ENOENT) return done;
    return false;
}

}  // namespace seq::sup
