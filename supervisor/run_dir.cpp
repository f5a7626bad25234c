#include "run_dir.hpp"

namespace seq::sup {

namespace {

std::string trimmed(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

}  // namespace

// Checked, locked, and only then given its mode and group: a second
// supervisor started on a live run dir changes nothing of it.
RunDir::RunDir(std::string path, DirAccess access)
    : path_((ensure_private_dir(trimmed(path), "run dir", 0700, -1, false), trimmed(path))),
      lock_(path_, "run dir", "supervisor.lock", "supervisor") {
    allow(access);
}

void RunDir::allow(DirAccess access) const {
    ensure_private_dir(path_, "run dir", access.mode, access.gid ? static_cast<long>(*access.gid) : -1);
}

}  // namespace seq::sup
