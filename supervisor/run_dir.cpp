#include "run_dir.hpp"

namespace seq::sup {

std::string RunDir::checked(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    ensure_private_dir(path, "run dir");
    return path;
}

RunDir::RunDir(std::string path) : path_(checked(std::move(path))), lock_(path_, "run dir", "supervisor.lock", "supervisor") {}

}  // namespace seq::sup
