#include "dir_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "socket.hpp"

namespace seq {

void ensure_private_dir(const std::string& dir, const std::string& what, unsigned mode, long gid, bool apply) {
    struct stat st{};
    // An existing dir in a parent we may not write to fails with EACCES, not
    // EEXIST: then what is wrong is said by the checks below.
    if (mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) {
        int err = errno;
        if (lstat(dir.c_str(), &st) < 0) throw SystemError("creating " + what + " " + dir, err);
    }
    if (lstat(dir.c_str(), &st) < 0) throw SystemError(what + " " + dir, errno);
    if (!S_ISDIR(st.st_mode)) throw std::runtime_error(what + " " + dir + " is not a directory");
    if (st.st_uid != geteuid())
        throw std::runtime_error(what + " " + dir + " is owned by uid " + std::to_string(st.st_uid) +
                                 ", not by us (uid " + std::to_string(geteuid()) + "); refusing it");
    // Leave to enter (the x bits) is what a tree may give, and take back: a
    // dir others could list or write is someone else's business.
    if (st.st_mode & 077 & ~((apply ? mode : 0700) | 011)) {
        char m[8];
        std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw std::runtime_error(what + " " + dir + " has mode " + m +
                                 ", open to other users; refusing it (chmod 700 it)");
    }
    if (!apply) return;
    // The group first, while the mode still keeps it out.
    if (gid >= 0 && st.st_gid != static_cast<gid_t>(gid) && chown(dir.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(gid)) < 0)
        throw SystemError("giving " + what + " " + dir + " to group " + std::to_string(gid), errno);
    if ((st.st_mode & 07777) != mode && chmod(dir.c_str(), mode) < 0) throw SystemError("chmod " + what + " " + dir, errno);
}

DirLock::DirLock(const std::string& dir, const std::string& what, const std::string& name, const std::string& holder)
    : path_(dir + "/" + name) {
    // The lock file is removed by the holder that leaves: if it went between
    // our open and our lock, ours is a dead inode, so open again.
    for (;;) {
        fd_ = Fd(open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd_) throw SystemError("opening " + path_, errno);
        // A POSIX record lock, not an flock: it belongs to this process, so a
        // child forked at the moment we die does not hold it on (an flock
        // goes with the open file, which the child shares until its exec).
        struct flock whole{};
        whole.l_type = F_WRLCK;
        whole.l_whence = SEEK_SET;
        if (fcntl(fd_.get(), F_SETLK, &whole) < 0) {
            if (errno != EACCES && errno != EAGAIN) throw SystemError("locking " + path_, errno);
            struct flock who{};
            who.l_type = F_WRLCK;
            who.l_whence = SEEK_SET;
            std::string pid = fcntl(fd_.get(), F_GETLK, &who) == 0 && who.l_type != F_UNLCK
                                  ? std::to_string(who.l_pid)
                                  : "unknown";
            throw std::runtime_error(what + " " + dir + " is in use by another " + holder + " (pid " + pid + ")");
        }
        struct stat held{}, named{};
        if (fstat(fd_.get(), &held) == 0 && stat(path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
            held.st_dev == named.st_dev)
            break;
    }
    auto me = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_.get(), 0) < 0 || pwrite(fd_.get(), me.data(), me.size(), 0) < 0)
        throw SystemError("writing " + path_, errno);
}

DirLock::~DirLock() {
    // Removed while still locked: whoever opens the path after this creates a
    // fresh file, and is not blocked by ours.
    unlink(path_.c_str());
}

}  // namespace seq
