#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <algorithm>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "daemon.hpp"
#include "fd.hpp"
#include "supervisor_variables.hpp"

extern char** environ;

namespace seq::sup {

namespace {

// What the child reports on its exec-status pipe when a step before (or the
// exec itself) fails: which step, and errno.
enum class Step : int { setup = 1, fd_limit, cwd, exec };
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

Spawned spawn(const SpawnArgs& a) {
    // Everything the child needs is built here, before fork: the child may
    // only make async-signal-safe calls, so it must not allocate.
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
    const char* program = a.program.empty() ? argv[0] : a.program.c_str();
    std::vector<int> sources;
    for (const auto& lf : a.listen_fds) sources.push_back(lf.second);
    sources.insert(sources.end(), a.extra_fds.begin(), a.extra_fds.end());
    Fd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
    const char* cwd = a.cwd.empty() ? nullptr : a.cwd.c_str();
    const pid_t parent = getpid();
    rlimit nofile{};
    const bool set_nofile = a.nofile && getrlimit(RLIMIT_NOFILE, &nofile) == 0;
    if (set_nofile) nofile.rlim_cur = std::min(*a.nofile, nofile.rlim_max);
    auto [status_read, status_write] = cloexec_pipe();
    fcntl(status_read.get(), F_SETFL, O_NONBLOCK);

    // Until the child has reset every disposition, a signal sent to it would
    // run the supervisor's handler there; libuv's writes to a pipe the child
    // shares with us, so we would take the child's SIGTERM for our own and the
    // child would never see it. So the child starts with every signal blocked.
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    pid_t pid = fork();
    if (pid != 0) {
        int fork_errno = errno;
        // Its group exists as soon as fork returns, so that a signal to the
        // group at once cannot miss (the child does the same: whichever runs
        // first wins, and the other's call changes nothing).
        if (pid > 0) setpgid(pid, pid);
        pthread_sigmask(SIG_SETMASK, &before, nullptr);
        if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(fork_errno));
        return {pid, std::move(status_read)};
    }

    // --- the child ---
    // Its report goes above every fd laid down below, where no dup2 reaches
    // it; the exec closes it, which is how the parent learns it succeeded.
    const int report_at = 3 + static_cast<int>(sources.size());
    int report = fcntl(status_write.get(), F_DUPFD_CLOEXEC, report_at);
    auto fail = [&](Step step) {
        Report r{step, errno};
        [[maybe_unused]] auto n = ::write(report, &r, sizeof r);
        _exit(127);
    };
    // Die with the supervisor. The parent may already be gone by now, in
    // which case the death signal was never armed: check after arming.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(Step::setup);
    if (getppid() != parent) _exit(127);
    // Its own process group: a ^C at the terminal reaches the supervisor
    // alone, which then stops the children in order; and stopping the child
    // signals the group, its own children included.
    setpgid(0, 0);
    // Ignored signals would stay ignored across exec, and the mask too;
    // whatever arrived meanwhile is delivered, with its default action, here.
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);

    // Standard streams first: every source below is at 3 or above.
    if (devnull) dup2(devnull.get(), 0);
    if (a.output_fd >= 0) {
        dup2(a.output_fd, 1);
        dup2(a.output_fd, 2);
    }
    // Move the sources out of the way first, so that no dup2 overwrites a
    // source not yet moved, then lay them down at 3, 4, ...
    // Parked at or above the last target, the lowest free fds there, so no
    // parked fd is a target and no fixed number can exceed RLIMIT_NOFILE.
    for (std::size_t i = 0; i < sources.size(); ++i) {
        int moved = fcntl(sources[i], F_DUPFD_CLOEXEC, report_at);
        if (moved < 0) fail(Step::setup);
        sources[i] = moved;
    }
    for (std::size_t i = 0; i < sources.size(); ++i)
        if (dup2(sources[i], 3 + static_cast<int>(i)) < 0) fail(Step::setup);
    // The report moves down to the first fd past the sources (the parked
    // copies there are no longer needed), and everything above it goes.
    if (report != report_at) {
        if (dup3(report, report_at, O_CLOEXEC) < 0) fail(Step::setup);
        report = report_at;
    }
    close_range(static_cast<unsigned>(report_at) + 1, ~0U, 0);
    if (set_nofile && setrlimit(RLIMIT_NOFILE, &nofile) < 0) fail(Step::fd_limit);
    if (cwd && chdir(cwd) < 0) fail(Step::cwd);
    if (!a.listen_fds.empty()) format_uint(listen_pid + 11, static_cast<unsigned long>(getpid()));
    if (a.watchdog_pid) format_uint(watchdog_pid + 13, static_cast<unsigned long>(getpid()));
    execve(program, argv.data(), envp.data());
    fail(Step::exec);
    _exit(127);
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

std::vector<pid_t> adopted_children(const std::set<pid_t>& known) {
    std::vector<pid_t> out;
    // Each task lists the children it parented; orphans come to the one
    // that is the subreaper, but a look at every task costs little.
    DIR* tasks = opendir("/proc/self/task");
    if (!tasks) return out;
    while (auto* t = readdir(tasks)) {
        if (t->d_name[0] == '.') continue;
        std::ifstream f(std::string("/proc/self/task/") + t->d_name + "/children");
        for (long pid; f >> pid;)
            if (!known.count(static_cast<pid_t>(pid))) out.push_back(static_cast<pid_t>(pid));
    }
    closedir(tasks);
    return out;
}

pid_t live_process_group(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return -1;
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    auto close = line.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    long ppid = 0, pgrp = -1;
    if (!(rest >> state >> ppid >> pgrp) || state == 'Z' || state == 'X') return -1;
    return static_cast<pid_t>(pgrp);
}

std::optional<std::string> process_env(pid_t pid, std::string_view name) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string prefix = std::string(name) + "=";
    for (std::string var; std::getline(f, var, '\0');)
        if (var.compare(0, prefix.size(), prefix) == 0) return var.substr(prefix.size());
    return std::nullopt;
}

std::string process_name(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    if (!std::getline(f, name)) return "?";
    return name;
}

}  // namespace seq::sup
