// The supervisor's run dir: private to its user (0700) unless the tree lets
// a group in (run_dir_group, control_group), and held by at most one
// supervisor at a time.
#pragma once

#include <string>

#include "dir_lock.hpp"
#include "tree.hpp"

namespace seq::sup {

class RunDir {
public:
    // Creates or checks `path` and takes its lock. Throws with a message that
    // names the dir (and the pid holding it, when that is the trouble).
    explicit RunDir(std::string path, DirAccess access = {});
    // Its mode and group as a reloaded tree wants them; throws as above.
    void allow(DirAccess access) const;

    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
    DirLock lock_;
};

}  // namespace seq::sup
