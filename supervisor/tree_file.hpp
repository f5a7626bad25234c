// Tree files: TOML in, a Tree out, every mistake reported with its
// file:line:column and key; and a Tree back out as TOML (--print-config, and
// the subtree a nested supervisor is handed).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tree.hpp"

namespace seq::sup {

// Where the loader looks for programs: a bare name beside seq-supervisor
// (`program_dir`), then on `path` ($PATH); a relative path from the tree
// file's own folder, which is also each child's working directory unless
// its `cwd` says otherwise.
// `run_dir`, when known, is where relative socket paths will be bound: each
// socket is then checked to be bindable (its folder exists, its path fits a
// socket address), so that --check refuses what --config would.
struct LoadContext {
    std::string program_dir;
    std::string path;
    std::string run_dir;
    // The subtree a nested supervisor is handed: its top may be a dynamic
    // supervisor's (a [template] and max_children), which a file's may not.
    bool subtree = false;
};

// Every error found in one file, each "FILE:LINE:COLUMN: what, naming the key".
struct TreeFileError : std::runtime_error {
    explicit TreeFileError(std::vector<std::string> errs);
    std::vector<std::string> errors;
};

// Throws TreeFileError: the file cannot be read, is not TOML, or does not
// describe a valid tree.
Tree load_tree_file(const std::string& file, const LoadContext& ctx);
// Every key a tree file may hold, at any level and in any of its tables
// (backoff, log, limits, sockets, health, on_event): what seq-tree(5) must
// name, as its test checks.
std::vector<std::string_view> tree_file_keys();
// The same from text in hand; `file` names it in messages and anchors
// relative paths.
Tree parse_tree(std::string_view text, const std::string& file, const LoadContext& ctx);

// The tree as a TOML file that loads back to the same tree.
std::string write_tree(const Tree& tree, std::string_view header_comment = {});

}  // namespace seq::sup
