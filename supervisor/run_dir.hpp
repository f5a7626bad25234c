// The supervisor's run dir: private to its user (0700), and held by at most
// one supervisor at a time (an flock on its lock file, which names the pid).
#pragma once

#include <string>

#include "fd.hpp"

namespace seq::sup {

class RunDir {
public:
    // Creates or checks `path` and takes its lock. Throws with a message that
    // names the dir (and the pid holding it, when that is the trouble).
    explicit RunDir(std::string path);
    ~RunDir();
    RunDir(const RunDir&) = delete;
    RunDir& operator=(const RunDir&) = delete;

    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
    Fd lock_;
};

}  // namespace seq::sup
