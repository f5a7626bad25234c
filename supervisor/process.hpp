// Starting a child process the way a supervisor must: by fork and exec of an
// argv (never a shell), in a process group of its own, with its listening
// sockets at fds 3.. (systemd's LISTEN_FDS convention) and any further fds
// after them, stdin on /dev/null, and a death signal that ties its life to
// the supervisor's. Also what a subreaper needs: the processes it adopted.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <set>
#include <string_view>
#include <string>
#include <utility>
#include <cstdint>
#include <vector>

#include "fd.hpp"

namespace seq::sup {

struct SpawnArgs {
    std::string program;                                  // the file to exec; empty: argv[0]
    std::vector<std::string> argv;                        // as the child sees it, argv[0] included
    std::vector<std::pair<std::string, int>> listen_fds;  // name, fd in the supervisor
    std::vector<int> extra_fds;                           // laid after the sockets: see child_fd
    std::vector<std::string> env;                         // "NAME=value", over the supervisor's own
    std::string cwd;                                      // empty: the supervisor's
    int input_fd = -1;                                    // the child's stdin; -1: /dev/null
    int output_fd = -1;                                   // the child's stdout (and stderr); -1: ours
    int error_fd = -1;                                    // the child's stderr apart; -1: output_fd's
    bool watchdog_pid = false;                            // set WATCHDOG_PID to the child's own pid
    std::optional<rlim_t> nofile;                         // RLIMIT_NOFILE's soft limit for the child
    // Set in the child before its exec, in this order: limits, nice,
    // umask, then groups, gid and uid (after which it must not be able to
    // become root again), then its cwd, as that user.
    std::vector<std::pair<int, rlimit>> limits;           // RLIMIT_*, soft and hard (over `nofile`)
    std::optional<int> nice;
    std::optional<mode_t> umask;
    struct Identity {
        uid_t uid;
        gid_t gid;
        std::vector<gid_t> groups;
    };
    std::optional<Identity> identity;
    // Its cgroup: the child joins it (writes "0" to this fd, on the
    // cgroup's cgroup.procs) first of all, before anything it could fork
    // and before it changes its user. -1: ours.
    int cgroup_procs = -1;
    std::string cgroup;  // that cgroup's dir, for the record
    // Not to be run: why (an env_file that cannot be read). The child
    // reports it as a failed start, as it would a failed exec.
    std::string refuse;
};

// The fd number at which the child finds extra_fds[i].
inline int child_fd(const SpawnArgs& a, std::size_t i) {
    return 3 + static_cast<int>(a.listen_fds.size() + i);
}

// A child just forked: its pid, which is also its process group, and the
// read end (non-blocking) of a close-on-exec pipe: it reads as the end of
// file once the exec is done, or holds the child's report of what failed
// before it (the exec, its cwd), written just before it exits 127.
struct Spawned {
    pid_t pid = 0;
    Fd exec_status;
    Fd pidfd;  // readable once it has died: its death, known without a look at every child; -1 where unsupported
};

// A few fds held from the start, at low numbers: each spawn lays what the
// child is to inherit on them for the time of its start, and the child
// copies our fd table only up to them (close_range's CLOSE_RANGE_UNSHARE).
// Without them it copies every fd we hold, one per other child at least,
// and closes them all again: with thousands of children, most of a
// restart's time.
class SpawnSlots {
public:
    static constexpr int count = 16;
    SpawnSlots();

private:
    friend Spawned spawn(const SpawnArgs&, SpawnSlots*);
    Fd placeholder_;  // /dev/null: what a slot holds between spawns
    std::vector<Fd> slots_;
    int end_ = 0;  // above every slot
};

// Starts the child and execs. Throws if a pipe or the clone (fork) fails.
// With `slots`, and no more to inherit than they hold, its start does not
// grow with the fds we hold.
Spawned spawn(const SpawnArgs& args, SpawnSlots* slots = nullptr);

// What failed in the child, from `exec_status`, as "cannot exec /srv/app:
// Permission denied"; nullopt if it has said nothing (yet). `program` and
// `cwd` are what it was spawned with, to name the file or folder.
std::optional<std::string> read_exec_failure(int exec_status, const std::string& program, const std::string& cwd);

// Raises our RLIMIT_NOFILE's soft limit to its hard limit (every child
// costs the supervisor fds); returns the soft limit it had, which children
// get back (a select() loop breaks past 1024 fds), or nullopt if unchanged.
std::optional<rlim_t> raise_fd_limit();

// The signals a child may be sent on request (seqctl signal, as s6-svc and
// supervisorctl signal): HUP, INT, QUIT, KILL, USR1, USR2 and TERM, by name
// (with or without SIG, in any case) or by number; nullopt for any other.
std::optional<int> parse_child_signal(std::string_view s);

// "exit status 3", "killed by SIGKILL", "killed by SIGSEGV (core dumped)".
std::string describe_exit(int wait_status);
bool is_normal_exit(int wait_status);

// Our child processes that are not in `known`: grandchildren we adopted as a
// subreaper after their parent died.
// `known`: null, or whether a pid is one we know (then it is left out).
std::vector<pid_t> adopted_children(const std::function<bool(pid_t)>& known);
// What we read of /proc/PID/stat, parsed in one place: nullopt if it is gone.
struct ProcStat {
    char state = 0;  // 'Z' a zombie, 'X' dead
    pid_t ppid = 0, pgrp = 0;
    unsigned long long cpu_ticks = 0;  // utime + stime + cutime + cstime
    long long rss_pages = 0;
};
std::optional<ProcStat> proc_stat(pid_t pid);
// One /proc/PID/stat line's fields; nullopt if it is not one.
std::optional<ProcStat> parse_proc_stat(std::string_view line);
// Every process's pid, from one listing of /proc.
std::vector<pid_t> all_pids();
// A process's group, or -1 if it is gone or a zombie (then only its reaping is left).
pid_t live_process_group(pid_t pid);
// Its command name, for a log line ("?" if gone).
std::string process_name(pid_t pid);
// A /proc file whole ("" if it cannot be read), by plain reads: no stream,
// whose checks under UBSan need fds of their own, which a supervisor short
// of fds does not have.
std::string read_proc(const std::string& path);
// A variable of its environment as it was at its exec, if it has it.
// A process's environment as /proc shows it: nullopt while it reads empty,
// as it does for a moment in the middle of an execve (the new image's is
// not laid out yet), or for a process that cleared its own.
std::optional<std::string> process_environ(pid_t pid);
// NAME's value in such an environment.
std::optional<std::string> env_value(const std::string& environ, std::string_view name);

}  // namespace seq::sup
