#include "dir_lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "socket.hpp"

namespace seq {

namespace {

// The pid a holder wrote into the lock file; 0 if none can be read.
pid_t recorded_holder(int fd, std::string& text) {
    char buf[32] = {};
    auto n = pread(fd, buf, sizeof buf - 1, 0);
    text = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    char* end = nullptr;
    long pid = std::strtol(text.c_str(), &end, 10);
    return end && *end == '\0' && pid > 1 ? static_cast<pid_t>(pid) : 0;
}

// The holder is gone, yet its lock is held: by a child it was forking when it
// died, which holds a copy of the fd until its exec closes it, and dies with
// it (PR_SET_PDEATHSIG) within milliseconds. Waits for that, a second at most:
// a blocking flock, which SIGALRM interrupts.
bool wait_for_dying_holder(int fd) {
    struct sigaction quiet{}, before{};
    quiet.sa_handler = [](int) {};
    sigemptyset(&quiet.sa_mask);
    quiet.sa_flags = 0;  // no SA_RESTART: the alarm ends the wait
    if (sigaction(SIGALRM, &quiet, &before) < 0) return false;
    itimerval second{}, off{};
    second.it_value.tv_sec = 1;
    setitimer(ITIMER_REAL, &second, nullptr);
    int rc = flock(fd, LOCK_EX);
    setitimer(ITIMER_REAL, &off, nullptr);
    sigaction(SIGALRM, &before, nullptr);
    return rc == 0;
}

}  // namespace

void ensure_private_dir(const std::string& dir, const std::string& what) {
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
    if (st.st_mode & 077) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw std::runtime_error(what + " " + dir + " has mode " + mode +
                                 ", open to other users; refusing it (chmod 700 it)");
    }
}

DirLock::DirLock(const std::string& dir, const std::string& what, const std::string& name, const std::string& holder)
    : path_(dir + "/" + name) {
    // The lock file is removed by the holder that leaves: if it went between
    // our open and our flock, ours is a dead inode, so open again.
    for (;;) {
        fd_ = Fd(open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd_) throw SystemError("opening " + path_, errno);
        if (flock(fd_.get(), LOCK_EX | LOCK_NB) < 0) {
            if (errno != EWOULDBLOCK) throw SystemError("locking " + path_, errno);
            std::string pid;
            auto holder_pid = recorded_holder(fd_.get(), pid);
            bool gone = holder_pid > 0 && kill(holder_pid, 0) < 0 && errno == ESRCH;
            if (!gone || !wait_for_dying_holder(fd_.get()))
                throw std::runtime_error(what + " " + dir + " is in use by another " + holder + " (pid " + pid +
                                         (gone ? ", gone, but what it started still holds the lock)" : ")"));
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
