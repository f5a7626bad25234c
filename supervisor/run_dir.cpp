#include "run_dir.hpp"

namespace seq::sup {

std::string RunDir::checked(std::string path, DirAccess access) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    ensure_private_dir(path, "run dir", access.mode, access.gid ? static_cast<long>(*access.gid) : -1);
    return path;
}

void RunDir::allow(DirAccess access) const { checked(path_, access); }

RunDir::RunDir(std::string path, DirAccess access) : path_(checked(std::move(path), access)), lock_(path_, "run dir", "supervisor.lock", "supervisor") {}

}  // namespace seq::sup
