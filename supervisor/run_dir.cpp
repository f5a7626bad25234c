#include "run_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "socket.hpp"

namespace seq::sup {

RunDir::RunDir(std::string path) : path_(std::move(path)) {
    while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
    if (mkdir(path_.c_str(), 0700) < 0 && errno != EEXIST) throw SystemError("creating run dir " + path_, errno);
    struct stat st{};
    if (lstat(path_.c_str(), &st) < 0) throw SystemError("run dir " + path_, errno);
    if (!S_ISDIR(st.st_mode)) throw std::runtime_error("run dir " + path_ + " is not a directory");
    if (st.st_uid != geteuid())
        throw std::runtime_error("run dir " + path_ + " is owned by uid " + std::to_string(st.st_uid) +
                                 ", not by us (uid " + std::to_string(geteuid()) + "); refusing it");
    if (st.st_mode & 077) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw std::runtime_error("run dir " + path_ + " has mode " + mode +
                                 ", open to other users; refusing it (chmod 700 it)");
    }
    auto lock_path = file("supervisor.lock");
    // The lock file is removed by the supervisor that leaves: if it went
    // between our open and our flock, ours is a dead inode, so open again.
    for (;;) {
        lock_ = Fd(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!lock_) throw SystemError("opening " + lock_path, errno);
        if (flock(lock_.get(), LOCK_EX | LOCK_NB) < 0) {
            if (errno != EWOULDBLOCK) throw SystemError("locking " + lock_path, errno);
            char buf[32] = {};
            auto n = pread(lock_.get(), buf, sizeof buf - 1, 0);
            std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
            throw std::runtime_error("run dir " + path_ + " is in use by another supervisor (pid " + pid + ")");
        }
        struct stat held{}, named{};
        if (fstat(lock_.get(), &held) == 0 && stat(lock_path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
            held.st_dev == named.st_dev)
            break;
    }
    auto me = std::to_string(getpid()) + "\n";
    if (ftruncate(lock_.get(), 0) < 0 || pwrite(lock_.get(), me.data(), me.size(), 0) < 0)
        throw SystemError("writing " + lock_path, errno);
}

RunDir::~RunDir() {
    // Removed while still locked: a supervisor that opens the path after
    // this creates a fresh file and is not blocked by ours.
    unlink(file("supervisor.lock").c_str());
}

}  // namespace seq::sup
