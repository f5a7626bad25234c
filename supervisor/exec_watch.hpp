// A child's exec, watched from the loop (process.hpp's exec-status pipe):
// the pipe ends at the exec, and is closed then; or the child wrote what
// failed before it could exec (a missing program, a cwd it cannot enter),
// which its death then reports as a failed start rather than a crash with
// exit status 127.
#pragma once

#include <optional>
#include <string>

#include "fd.hpp"
#include "uv.hpp"

namespace seq::sup {

class ExecWatch {
public:
    ExecWatch(uv_loop_t* loop, Fd status, std::string program, std::string cwd);
    // What failed, if the child said. At its death the report, if any, is
    // already in the pipe (written before its exit), so this reads it then;
    // before its exec, nothing is read and the pipe stays open.
    const std::optional<std::string>& failure();

private:
    void read();

    Fd fd_;
    uv::Poll poll_;
    std::string program_, cwd_;
    std::optional<std::string> failure_;
};

}  // namespace seq::sup
