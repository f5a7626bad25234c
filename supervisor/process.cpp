#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <linux/close_range.h>
#include <sched.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <dirent.h>
#include <charconv>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "daemon.hpp"
#include "fd.hpp"
#include "supervisor_variables.hpp"

extern char** environ;

namespace seq::sup {

namespace {

// The calls that take 32-bit ids: on 32-bit x86 and ARM the plain ones take 16.
#ifdef SYS_setresuid32
constexpr long sys_setgroups = SYS_setgroups32, sys_setresgid = SYS_setresgid32, sys_setresuid = SYS_setresuid32;
#else
constexpr long sys_setgroups = SYS_setgroups, sys_setresgid = SYS_setresgid, sys_setresuid = SYS_setresuid;
#endif

// What the child reports on its exec-status pipe when a step before (or the
// exec itself) fails: which step, and errno.
enum class Step : int { setup = 1, fd_limit, cwd, exec, limits, nice, groups, gid, uid, root_again, refused, cgroup };
struct Report {
    Step step;
    int err;
};

void format_uint(char* out, unsigned long v) {
    char tmp[24];
    int n = 0;
    do tmp[n++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0) *out++ = tmp[--n];
    *out = '\0';
}

std::pair<Fd, Fd> cloexec_pipe() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    return {Fd(p[0]), Fd(p[1])};
}

}  // namespace

namespace {

// Everything the child needs, made before it exists: between its start and
// its exec it may only make async-signal-safe calls, so it must not
// allocate, and under CLONE_VM it runs in our memory while we wait.
struct ChildPlan {
    const char* program;
    char* const* argv;
    char* const* envp;
    int* sources;  // fds to lay down at 3, 4, ...: moved in place by the child
    std::size_t source_count;
    int input;  // its stdin
    int output_fd;
    int error_fd;
    const char* cwd;
    pid_t parent;
    bool set_nofile;
    rlimit nofile;
    int report;  // the exec-status pipe's write end
    const std::pair<int, rlimit>* limits;
    std::size_t limit_count;
    bool set_nice;
    int nice;
    int umask;  // -1: as ours
    bool set_ids;
    uid_t uid;
    gid_t gid;
    const gid_t* groups;
    std::size_t group_count;
    const char* refuse;  // not to be run: this says why, after the report
    std::size_t refuse_size;
    char* listen_pid;
    char* watchdog_pid;
    int unshare_below;  // > 0: it shares our fd table, and first copies only the fds below this
    int cgroup_procs;   // -1: none
};

[[noreturn]] void run_child(ChildPlan& p) {
    // Into its cgroup before anything else, while the fd is still in the
    // table it shares with us; a failure is told once there is a report.
    int cgroup_err = 0;
    if (p.cgroup_procs >= 0 && ::write(p.cgroup_procs, "0", 1) != 1) cgroup_err = errno ? errno : EIO;
    // A table of its own, made of our fds below the slots' end alone: what
    // it inherits lies there (SpawnSlots), and no other child's fds are
    // copied into it only to be closed. Our table is not touched.
    // Where that is refused, a copy of the whole table, as a plain vfork has.
    if (p.unshare_below > 0 && close_range(static_cast<unsigned>(p.unshare_below), ~0U, CLOSE_RANGE_UNSHARE) < 0 &&
        unshare(CLONE_FILES) < 0)
        _exit(127);
    // Its report goes above every fd laid down below, where no dup2 reaches
    // it; the exec closes it, which is how the parent learns it succeeded.
    const int report_at = 3 + static_cast<int>(p.source_count);
    int report = fcntl(p.report, F_DUPFD_CLOEXEC, report_at);
    auto fail = [&](Step step) {
        Report r{step, errno};
        [[maybe_unused]] auto n = ::write(report, &r, sizeof r);
        _exit(127);
    };
    if (cgroup_err) {
        errno = cgroup_err;
        fail(Step::cgroup);
    }
    if (p.refuse) {
        // One write, so the parent reads the report and why together.
        Report r{Step::refused, 0};
        iovec parts[2] = {{&r, sizeof r}, {const_cast<char*>(p.refuse), p.refuse_size}};
        [[maybe_unused]] auto n = ::writev(report, parts, 2);
        _exit(127);
    }
    // Die with the supervisor. The parent may already be gone by now, in
    // which case the death signal was never armed: check after arming.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(Step::setup);
    if (getppid() != p.parent) _exit(127);
    // Its own process group: a ^C at the terminal reaches the supervisor
    // alone, which then stops the children in order; and stopping the child
    // signals the group, its own children included.
    setpgid(0, 0);
    // Ignored signals would stay ignored across exec, and the mask too;
    // whatever arrived meanwhile is delivered, with its default action, here.
    // (Its dispositions are its own copy: CLONE_SIGHAND is not shared.)
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);

    // Standard streams first: every source below is at 3 or above.
    if (p.input >= 0) dup2(p.input, 0);
    if (p.output_fd >= 0) {
        dup2(p.output_fd, 1);
        dup2(p.error_fd >= 0 ? p.error_fd : p.output_fd, 2);
    }
    // Move the sources out of the way first, so that no dup2 overwrites a
    // source not yet moved, then lay them down at 3, 4, ...
    // Parked at or above the last target, the lowest free fds there, so no
    // parked fd is a target and no fixed number can exceed RLIMIT_NOFILE.
    for (std::size_t i = 0; i < p.source_count; ++i) {
        int moved = fcntl(p.sources[i], F_DUPFD_CLOEXEC, report_at);
        if (moved < 0) fail(Step::setup);
        p.sources[i] = moved;
    }
    for (std::size_t i = 0; i < p.source_count; ++i)
        if (dup2(p.sources[i], 3 + static_cast<int>(i)) < 0) fail(Step::setup);
    // The report moves down to the first fd past the sources (the parked
    // copies there are no longer needed), and everything above it goes.
    if (report != report_at) {
        if (dup3(report, report_at, O_CLOEXEC) < 0) fail(Step::setup);
        report = report_at;
    }
    close_range(static_cast<unsigned>(report_at) + 1, ~0U, 0);
    if (p.set_nofile && setrlimit(RLIMIT_NOFILE, &p.nofile) < 0) fail(Step::fd_limit);
    for (std::size_t i = 0; i < p.limit_count; ++i)
        if (setrlimit(static_cast<__rlimit_resource>(p.limits[i].first), &p.limits[i].second) < 0) fail(Step::limits);
    if (p.set_nice && setpriority(PRIO_PROCESS, 0, p.nice) < 0) fail(Step::nice);
    if (p.umask >= 0) umask(static_cast<mode_t>(p.umask));
    if (p.set_ids) {
        // Raw system calls: glibc's wrappers would change the credentials of
        // every thread of "the process", which under CLONE_VM is ours.
        // Groups first: only root may set them, and after setuid it is not.
        if (syscall(sys_setgroups, p.group_count, p.groups) < 0) fail(Step::groups);
        if (syscall(sys_setresgid, p.gid, p.gid, p.gid) < 0) fail(Step::gid);
        if (syscall(sys_setresuid, p.uid, p.uid, p.uid) < 0) fail(Step::uid);
        if (p.uid != 0 && (syscall(sys_setresuid, 0, 0, 0) == 0 || syscall(sys_setresuid, -1, 0, -1) == 0)) {
            errno = EPERM;
            fail(Step::root_again);
        }
        // A change of credentials clears the death signal: armed again.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(Step::setup);
        if (getppid() != p.parent) _exit(127);
    }
    if (p.cwd && chdir(p.cwd) < 0) fail(Step::cwd);
    if (p.listen_pid) format_uint(p.listen_pid + 11, static_cast<unsigned long>(getpid()));
    if (p.watchdog_pid) format_uint(p.watchdog_pid + 13, static_cast<unsigned long>(getpid()));
    execve(p.program, p.argv, p.envp);
    fail(Step::exec);
    _exit(127);
}

// A new process that shares our memory and runs `run_child` on a stack of
// its own while we are suspended until its exec (or its exit): what glibc's
// posix_spawn does. A fork would copy our page tables first, which takes
// longer the more children we hold: with thousands, several times longer.
// Under AddressSanitizer the child's instrumented code on a foreign stack
// is not to be trusted, so there it is a fork.
#if defined(__SANITIZE_ADDRESS__)
#define SEQ_SPAWN_FORK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEQ_SPAWN_FORK 1
#endif
#endif

pid_t start_child(ChildPlan& plan) {
#ifdef SEQ_SPAWN_FORK
    plan.unshare_below = 0;  // a fork copies the whole table; the slots still hold what it needs
    pid_t pid = fork();
    if (pid == 0) run_child(plan);
    return pid;
#else
    constexpr std::size_t stack_size = 64 << 10;
    // Not zeroed: the child writes before it reads, and this is every restart's path.
    auto stack = std::make_unique_for_overwrite<unsigned char[]>(stack_size);
    auto* top = stack.get() + stack_size;  // it grows down; clone aligns it
    auto entry = [](void* arg) -> int { run_child(*static_cast<ChildPlan*>(arg)); };
    pid_t pid = clone(entry, top, CLONE_VM | CLONE_VFORK | (plan.unshare_below > 0 ? CLONE_FILES : 0) | SIGCHLD, &plan);
    // Refused (a kernel or sandbox that does not take these flags): then the
    // child copies our whole table, slots included.
    if (pid < 0 && errno == EINVAL && plan.unshare_below > 0) {
        plan.unshare_below = 0;
        pid = clone(entry, top, CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
    }
    return pid;
#endif
}

}  // namespace

SpawnSlots::SpawnSlots() {
    // Under a low limit, fds are scarce, and so few that copying them all
    // costs nothing: no slots.
    rlimit l{};
    if (getrlimit(RLIMIT_NOFILE, &l) < 0 || l.rlim_cur < 1024) return;
    // Valgrind knows a vfork and a thread, and ends the program at a vfork
    // that shares its fd table (a clone it does not emulate): under it, no
    // slots, so a plain vfork. It is known by the preload it puts in.
    if (const char* preload = std::getenv("LD_PRELOAD"); preload && std::strstr(preload, "/vgpreload_")) return;
    placeholder_ = Fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    for (int i = 0; i < count && placeholder_; ++i) {
        Fd slot(fcntl(placeholder_.get(), F_DUPFD_CLOEXEC, 3));
        if (!slot) break;
        end_ = std::max(end_, slot.get() + 1);
        slots_.push_back(std::move(slot));
    }
}

Spawned spawn(const SpawnArgs& a, SpawnSlots* slots) {
    // Everything the child needs is built here, before it starts.
    auto overridden = [&](const char* e) {
        std::string_view var(e);
        if (is_supervisor_variable(var.substr(0, var.find('=')))) return true;
        for (const auto& kv : a.env)
            if (auto eq = kv.find('='); std::strncmp(e, kv.c_str(), eq + 1) == 0) return true;
        return false;
    };
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e)
        if (!overridden(*e)) env_store.emplace_back(*e);
    env_store.insert(env_store.end(), a.env.begin(), a.env.end());
    std::string names;
    for (const auto& [name, fd] : a.listen_fds) names += (names.empty() ? "" : ":") + name;
    if (!a.listen_fds.empty()) {
        env_store.push_back("LISTEN_FDS=" + std::to_string(a.listen_fds.size()));
        env_store.push_back("LISTEN_FDNAMES=" + names);
    }
    std::vector<char*> envp;
    for (auto& s : env_store) envp.push_back(s.data());
    char listen_pid[40] = "LISTEN_PID=";
    if (!a.listen_fds.empty()) envp.push_back(listen_pid);
    char watchdog_pid[40] = "WATCHDOG_PID=";
    if (a.watchdog_pid) envp.push_back(watchdog_pid);
    envp.push_back(nullptr);
    std::vector<std::string> argv_store = a.argv;
    std::vector<char*> argv;
    for (auto& s : argv_store) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<int> sources;
    for (const auto& lf : a.listen_fds) sources.push_back(lf.second);
    sources.insert(sources.end(), a.extra_fds.begin(), a.extra_fds.end());
    Fd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto [status_read, status_write] = cloexec_pipe();
    fcntl(status_read.get(), F_SETFL, O_NONBLOCK);
    ChildPlan plan{};
    plan.program = a.program.empty() ? argv[0] : a.program.c_str();
    plan.argv = argv.data();
    plan.envp = envp.data();
    plan.sources = sources.data();
    plan.source_count = sources.size();
    plan.input = a.input_fd >= 0 ? a.input_fd : devnull.get();
    plan.output_fd = a.output_fd;
    plan.error_fd = a.error_fd;
    plan.cwd = a.cwd.empty() ? nullptr : a.cwd.c_str();
    plan.parent = getpid();
    plan.refuse = a.refuse.empty() ? nullptr : a.refuse.c_str();
    plan.cgroup_procs = a.cgroup_procs;
    plan.refuse_size = std::min<std::size_t>(a.refuse.size(), 1024);
    plan.limits = a.limits.data();
    plan.limit_count = a.limits.size();
    plan.set_nice = a.nice.has_value();
    plan.nice = a.nice.value_or(0);
    plan.umask = a.umask ? static_cast<int>(*a.umask) : -1;
    plan.set_ids = a.identity.has_value();
    if (a.identity) {
        plan.uid = a.identity->uid;
        plan.gid = a.identity->gid;
        plan.groups = a.identity->groups.data();
        plan.group_count = a.identity->groups.size();
    }
    plan.set_nofile = a.nofile && getrlimit(RLIMIT_NOFILE, &plan.nofile) == 0;
    if (plan.set_nofile) plan.nofile.rlim_cur = std::min(*a.nofile, plan.nofile.rlim_max);
    plan.report = status_write.get();
    plan.listen_pid = a.listen_fds.empty() ? nullptr : listen_pid;
    plan.watchdog_pid = a.watchdog_pid ? watchdog_pid : nullptr;
    // What it inherits, laid on the slots for the time of its start; the
    // placeholders go back once it has its own table (or has exec'd).
    std::vector<int*> inherited{&plan.input, &plan.report};
    if (plan.output_fd >= 0) inherited.push_back(&plan.output_fd);
    if (plan.error_fd >= 0) inherited.push_back(&plan.error_fd);
    for (auto& s : sources) inherited.push_back(&s);
    std::size_t used = 0;
    if (slots && inherited.size() <= slots->slots_.size()) {
        for (; used < inherited.size(); ++used) {
            int slot = slots->slots_[used].get();
            if (dup3(*inherited[used], slot, O_CLOEXEC) < 0) break;
            *inherited[used] = slot;
        }
        if (used == inherited.size()) plan.unshare_below = slots->end_;
    }
    struct Restore {
        SpawnSlots* slots;
        std::size_t used;
        ~Restore() {
            for (std::size_t i = 0; i < used; ++i) dup3(slots->placeholder_.get(), slots->slots_[i].get(), O_CLOEXEC);
        }
    } restore{slots, used};

    // Until the child has reset every disposition, a signal sent to it would
    // run the supervisor's handler there; libuv's writes to a pipe the child
    // shares with us, so we would take the child's SIGTERM for our own and the
    // child would never see it. So the child starts with every signal blocked.
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    pid_t pid = start_child(plan);
    int start_errno = errno;
    // Its group exists as soon as we go on, so that a signal to the group at
    // once cannot miss (the child does the same: whichever runs first wins,
    // and the other's call changes nothing).
    if (pid > 0) setpgid(pid, pid);
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(start_errno));
    // Ours and not yet reaped, so the pid cannot name anyone else.
    Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    return {pid, std::move(status_read), std::move(pidfd)};
}

std::optional<std::string> read_exec_failure(int fd, const std::string& program, const std::string& cwd) {
    Report r{};
    ssize_t n;
    do n = ::read(fd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof r)) return std::nullopt;
    std::string why = std::strerror(r.err);
    switch (r.step) {
    case Step::exec: return "cannot exec " + program + ": " + why;
    case Step::cwd: return "cannot enter its cwd " + cwd + ": " + why;
    case Step::fd_limit: return "cannot set its fd limit: " + why;
    case Step::limits: return "cannot set its limits: " + why;
    case Step::nice: return "cannot set its nice value: " + why;
    case Step::groups: return "cannot set its groups: " + why;
    case Step::gid: return "cannot set its group id: " + why;
    case Step::uid: return "cannot set its user id: " + why;
    case Step::root_again: return "could become root again after setuid: not started";
    case Step::cgroup: return "cannot join its cgroup: " + why;
    case Step::refused: {
        char why_not[1024];
        ssize_t m;
        do m = ::read(fd, why_not, sizeof why_not);
        while (m < 0 && errno == EINTR);
        return m > 0 ? std::string(why_not, static_cast<std::size_t>(m)) : std::string("not started");
    }
    case Step::setup: break;
    }
    return "cannot set up its process: " + why;
}

std::optional<rlim_t> raise_fd_limit() {
    rlimit l{};
    if (getrlimit(RLIMIT_NOFILE, &l) < 0 || l.rlim_cur >= l.rlim_max) return std::nullopt;
    auto before = l.rlim_cur;
    l.rlim_cur = l.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &l) < 0) return std::nullopt;
    return before;
}

std::optional<int> parse_child_signal(std::string_view s) {
    static constexpr std::pair<std::string_view, int> allowed[] = {
        {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM},
    };
    std::string name;
    for (char ch : s.substr(0, 16)) name += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (name.size() != s.size()) return std::nullopt;
    if (name.starts_with("SIG")) name.erase(0, 3);
    for (auto [n, sig] : allowed)
        if (name == n || name == std::to_string(sig)) return sig;
    return std::nullopt;
}

std::string describe_exit(int st) {
    if (WIFEXITED(st)) return "exit status " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st))
        return "killed by " + signal_name(WTERMSIG(st)) + (WCOREDUMP(st) ? " (core dumped)" : "");
    return "status " + std::to_string(st);
}

bool is_normal_exit(int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 0; }

std::string read_proc(const std::string& path) {
    std::string out;
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

std::vector<pid_t> adopted_children(const std::function<bool(pid_t)>& known) {
    std::vector<pid_t> out;
    // Each task lists the children it parented; orphans come to the one
    // that is the subreaper, but a look at every task costs little.
    DIR* tasks = opendir("/proc/self/task");
    if (!tasks) return out;
    while (auto* t = readdir(tasks)) {
        if (t->d_name[0] == '.') continue;
        auto list = read_proc(std::string("/proc/self/task/") + t->d_name + "/children");
        const char* at = list.data();
        const char* end = at + list.size();
        while (at < end) {
            pid_t pid = 0;
            auto [next, ec] = std::from_chars(at, end, pid);
            if (ec != std::errc()) {
                ++at;  // the space between two pids
                continue;
            }
            if (!known || !known(pid)) out.push_back(pid);
            at = next;
        }
    }
    closedir(tasks);
    return out;
}

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
    // pid (comm) state ppid pgrp ... utime(14) stime cutime cstime ... rss(24):
    // comm may hold spaces and parentheses, so fields count from the last ')'.
    auto close = line.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    ProcStat s;
    long long field[25] = {};
    std::size_t at = close + 1;
    for (int k = 3; k <= 24; ++k) {
        if (at >= line.size() || line[at] != ' ') return std::nullopt;
        ++at;
        // Fields go on past rss: one not followed by a space was cut short.
        auto end = line.find(' ', at);
        if (end == std::string_view::npos) return std::nullopt;
        if (k == 3) {
            if (end != at + 1) return std::nullopt;
            s.state = line[at];
        } else {
            auto [p, ec] = std::from_chars(line.data() + at, line.data() + end, field[k]);
            if (ec != std::errc() || p != line.data() + end) return std::nullopt;
        }
        at = end;
    }
    s.ppid = static_cast<pid_t>(field[4]);
    s.pgrp = static_cast<pid_t>(field[5]);
    s.cpu_ticks = static_cast<unsigned long long>(std::max(field[14], 0LL) + std::max(field[15], 0LL) +
                                                  std::max(field[16], 0LL) + std::max(field[17], 0LL));
    s.rss_pages = field[24];
    return s;
}

std::optional<ProcStat> proc_stat(pid_t pid) {
    // No allocation, and one read, which /proc answers whole.
    char path[32] = "/proc/";
    auto [end, ec] = std::to_chars(path + 6, path + sizeof path - 6, pid);
    if (ec != std::errc()) return std::nullopt;
    std::memcpy(end, "/stat", 6);
    Fd fd(open(path, O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    char line[2048];
    ssize_t n;
    do n = ::read(fd.get(), line, sizeof line);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return std::nullopt;
    return parse_proc_stat({line, static_cast<std::size_t>(n)});
}

std::vector<pid_t> all_pids() {
    std::vector<pid_t> out;
    DIR* proc = opendir("/proc");
    if (!proc) return out;
    while (auto* e = readdir(proc)) {
        char* end = nullptr;
        long n = std::strtol(e->d_name, &end, 10);
        if (!*end && n > 0) out.push_back(static_cast<pid_t>(n));
    }
    closedir(proc);
    return out;
}

pid_t live_process_group(pid_t pid) {
    auto s = proc_stat(pid);
    if (!s || s->state == 'Z' || s->state == 'X') return -1;
    return s->pgrp;
}

std::optional<std::string> process_environ(pid_t pid) {
    auto env = read_proc("/proc/" + std::to_string(pid) + "/environ");
    if (env.empty()) return std::nullopt;
    return env;
}

std::optional<std::string> env_value(const std::string& env, std::string_view name) {
    std::string prefix = std::string(name) + "=";
    for (std::size_t at = 0; at < env.size();) {
        auto end = env.find('\0', at);
        if (end == std::string::npos) end = env.size();
        if (env.compare(at, prefix.size(), prefix) == 0) return env.substr(at + prefix.size(), end - at - prefix.size());
        at = end + 1;
    }
    return std::nullopt;
}

std::string process_name(pid_t pid) {
    auto name = read_proc("/proc/" + std::to_string(pid) + "/comm");
    if (!name.empty() && name.back() == '\n') name.pop_back();
    return name.empty() ? "?" : name;
}

}  // namespace seq::sup
