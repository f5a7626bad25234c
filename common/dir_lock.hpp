// An exclusive lock on a directory, held for the life of the object: a POSIX
// record lock (this process's alone, never a child's) on DIR/NAME, a file that
// names the holder's pid and is removed on release.
#pragma once

#include <string>

#include "fd.hpp"

namespace seq {

class DirLock {
public:
    // Throws, naming the dir and the pid that holds it, if another process
    // does. `what` names the dir ("run dir"), `holder` the kind of process.
    DirLock(const std::string& dir, const std::string& what, const std::string& name, const std::string& holder);
    ~DirLock();
    DirLock(const DirLock&) = delete;
    DirLock& operator=(const DirLock&) = delete;

private:
    std::string path_;
    Fd fd_;
};

// Creates `dir` (mode 0700) if missing; throws unless it is a directory owned
// by us that no one else may list or write. Then gives it `mode` (0700, or
// one that lets a group, or anyone, enter it: 0710, 0711) and the group
// `gid` (-1: as it is). `what` names it in messages ("run dir").
// With `apply` false, only checks (a dir others may enter passes), changing
// nothing: for a dir whose lock is not held yet.
void ensure_private_dir(const std::string& dir, const std::string& what, unsigned mode = 0700, long gid = -1,
                        bool apply = true);

}  // namespace seq
