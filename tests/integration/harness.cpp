#include "harness.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef SEQ_BIN_DIR
#error "SEQ_BIN_DIR must name the build's bin dir"
#endif

namespace seqtest {

std::string bin(const std::string& name) { return std::string(SEQ_BIN_DIR) + "/" + name; }

TempDir::TempDir() {
    char tmpl[] = "/tmp/seqtest-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

namespace {

// A supervisor killed with -9 leaves its tree's cgroups (empty once its
// children died) for the next one on its run dir, which no test starts:
// those of the run dirs below `dir` are removed with it, depth first.
void remove_cgroups_below(const std::string& dir) {
    std::string prefix = "seq";
    for (char ch : dir) prefix += ch == '/' ? '-' : ch;
    std::string own;
    for (auto& l : lines_of(slurp("/proc/self/cgroup")))
        if (l.starts_with("0::")) own = l.substr(3);
    for (auto& l : lines_of(slurp("/proc/self/mountinfo"))) {
        auto dash = l.find(" - cgroup2 ");
        if (dash == std::string::npos) continue;
        std::istringstream in(l);
        std::string field, mount;
        for (int i = 0; i < 5 && in >> field; ++i) mount = field;
        std::error_code ec;
        std::filesystem::path base = mount + (own == "/" ? "" : own);
        for (auto& e : std::filesystem::directory_iterator(base, ec)) {
            if (!e.is_directory() || !e.path().filename().string().starts_with(prefix)) continue;
            std::ofstream(e.path() / "cgroup.kill") << "1";
            std::vector<std::filesystem::path> dirs;
            for (auto& d : std::filesystem::recursive_directory_iterator(e.path(), ec))
                if (d.is_directory()) dirs.push_back(d.path());
            std::sort(dirs.rbegin(), dirs.rend());  // deepest first
            dirs.push_back(e.path());
            for (auto& d : dirs) eventually([&] { return rmdir(d.c_str()) == 0 || errno == ENOENT; }, 1000ms);
        }
        break;
    }
}

}  // namespace

TempDir::~TempDir() {
    if (std::getenv("SEQ_KEEP_TMP")) return;  // for a look at the logs after a failure
    remove_cgroups_below(path_);
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

Process::Process(std::vector<std::string> argv, std::string log) : log_(std::move(log)) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int out = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (out < 0) throw std::runtime_error("cannot open " + log_);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        dup2(out, 1);
        dup2(out, 2);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        execv(args[0], args.data());
        _exit(127);
    }
    close(out);
    // glibc 2.36 declares pidfd_open without C linkage for C++, hence the raw syscall.
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
}

Process::~Process() {
    if (!status_) {
        ::kill(pid_, SIGKILL);
        wait_exit(10000ms);
    }
    if (pidfd_ >= 0) close(pidfd_);
}

void Process::signal(int sig) {
    if (!status_) ::kill(pid_, sig);
}

std::optional<int> Process::wait_exit(Ms deadline) {
    if (status_) return status_;
    pollfd p{pidfd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(deadline.count())) <= 0) return std::nullopt;
    int st = 0;
    if (waitpid(pid_, &st, 0) == pid_) status_ = st;
    return status_;
}

int Process::exit_code(Ms deadline) {
    auto st = wait_exit(deadline);
    if (!st || !WIFEXITED(*st)) return -1;
    return WEXITSTATUS(*st);
}

bool Process::running() { return !wait_exit(0ms); }

std::string Process::log() const { return slurp(log_); }

bool eventually(const std::function<bool()>& cond, Ms deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        if (cond()) return true;
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(2ms);  // the interval between checks, not a guess at timing
    }
}

bool alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    auto close_paren = line.rfind(')');
    return close_paren != std::string::npos && close_paren + 2 < line.size() && line[close_paren + 2] != 'Z';
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

seq::resp::Value call(const std::string& socket, std::initializer_list<std::string_view> args, Ms timeout) {
    // Replies as large as a big tree's STATUS.
    seq::Client c(socket, timeout, seq::resp::tree_state_limits());
    auto v = c.call(args);
    // A stash under a tree's stash_acl: again as its operator, whose
    // password the supervisor wrote in the run dir, beside the socket.
    if (v.is_error() && v.str.starts_with("NOAUTH")) {
        auto slash = socket.rfind('/');
        auto password = operator_password(slash == std::string::npos ? "." : socket.substr(0, slash));
        if (password.empty()) return v;
        if (auto a = c.call({"AUTH", password}); a.is_error()) return a;
        v = c.call(args);
    }
    return v;
}

std::string operator_password(const std::string& run_dir) {
    std::ifstream in(run_dir + "/stash.password");
    std::string password;
    std::getline(in, password);
    return password;
}

std::int64_t call_int(const std::string& socket, std::initializer_list<std::string_view> args) {
    auto v = call(socket, args);
    if (v.type != seq::resp::Value::Type::integer)
        throw std::runtime_error("expected an integer, got " + std::string(seq::resp::type_name(v.type)) + " " + v.str);
    return v.integer;
}

std::string info_field(const std::string& socket, const std::string& name) {
    auto info = call(socket, {"INFO"}).str;
    auto at = info.find("\r\n" + name + ":");
    if (at == std::string::npos) return "";
    at += name.size() + 3;
    return info.substr(at, info.find("\r\n", at) - at);
}

bool answers(const std::string& socket) {
    try {
        auto v = call(socket, {"PING"}, 1000ms);
        return v.type == seq::resp::Value::Type::simple && v.str == "PONG";
    } catch (const std::exception&) {
        return false;
    }
}

Standalone::Standalone(const TempDir& d, std::vector<std::string> wargs)
    : stash_sock(d / "stash.sock"), worker_sock(d / "sequence.sock"), dir(d), worker_args(std::move(wargs)) {
    start_stash();
    start_worker();
}

void Standalone::start_stash() {
    stash.reset();
    stash.emplace(std::vector<std::string>{bin("seq-stash"), "--socket", stash_sock}, dir / "stash.log");
    if (!eventually([&] { return answers(stash_sock); })) throw std::runtime_error("stash did not come up");
}

void Standalone::start_worker() {
    worker.reset();
    std::vector<std::string> argv{bin("seq-worker"), "--socket", worker_sock, "--stash", stash_sock};
    argv.insert(argv.end(), worker_args.begin(), worker_args.end());
    worker.emplace(argv, dir / "worker.log");
    if (!eventually([&] { return answers(worker_sock); })) throw std::runtime_error("worker did not come up");
}

namespace {
// Each child by its path in the tree, nested supervisors' children included.
void collect(const seq::resp::Value& children, const std::string& prefix, std::map<std::string, ChildStatus>& out) {
    for (const auto& c : children.elems) {
        ChildStatus s;
        std::string name;
        const seq::resp::Value* below = nullptr;
        const seq::resp::Value* instances = nullptr;
        for (std::size_t i = 0; i + 1 < c.elems.size(); i += 2) {
            const auto& k = c.elems[i].str;
            const auto& val = c.elems[i + 1];
            if (k == "name") name = val.str;
            if (k == "pid") s.pid = static_cast<pid_t>(val.integer);
            if (k == "state") s.state = val.str;
            if (k == "restarts") s.restarts = val.integer;
            if (k == "last_exit") s.last_exit = val.str;
            if (k == "stopped_by") s.stopped_by = val.str;
            if (k == "last_start") s.last_start = val.str;
            if (k == "restarts_in_window") s.restarts_in_window = val.integer;
            if (k == "log_dropped") s.log_dropped = val.integer;
            if (k == "memory_bytes") s.memory_bytes = val.integer;
            if (k == "cpu_ms") s.cpu_ms = val.integer;
            if (k == "memory_max") s.memory_max = val.integer;
            if (k == "cgroup") s.cgroup = val.str;
            if (k == "children") below = &val;
            if (k == "instances") instances = &val;
            if (k == "sockets")
                for (auto& so : val.elems) {
                    auto* n = seq::resp::field(so, "name");
                    auto* a = seq::resp::field(so, "address");
                    if (n && a) s.sockets[n->str] = a->str;
                }
        }
        out[prefix + name] = s;
        if (below) collect(*below, prefix + name + "/", out);
        if (instances) collect(*instances, prefix, out);  // "web#0", beside the pool "web"
    }
}
}  // namespace

std::map<std::string, ChildStatus> tree_status(const std::string& run_dir) {
    auto v = call(run_dir + "/control.sock", {"STATUS"});
    std::map<std::string, ChildStatus> out;
    if (v.type != seq::resp::Value::Type::array || v.elems.size() != 2) throw std::runtime_error("bad STATUS reply");
    collect(v.elems[1], "", out);
    return out;
}

bool tree_running(const std::string& run_dir, Ms deadline) {
    return eventually(
        [&] {
            try {
                auto st = tree_status(run_dir);
                if (st.empty()) return false;
                for (auto& [name, c] : st)
                    if (c.state != "running") return false;
                return true;
            } catch (const std::exception&) {
                return false;
            }
        },
        deadline);
}

TreeSup::TreeSup(const TempDir& dir, const std::string& text, bool wait_running, std::vector<std::string> env,
                 Ms deadline, std::vector<std::string> args)
    : run(dir / "run"), file(dir / "tree.toml"), log(dir / "supervisor.log") {
    std::ofstream(file) << text;
    std::vector<std::string> argv{"/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {bin("seq-supervisor"), "--run-dir", run, "--config", file});
    argv.insert(argv.end(), args.begin(), args.end());
    proc.emplace(argv, log);
    if (wait_running && !tree_running(run, deadline))
        throw std::runtime_error("the tree did not come up:\n" + proc->log());
}

// An orderly stop: a kill -9 of the supervisor would leave what its
// children started running (nothing is left to stop it).
TreeSup::~TreeSup() {
    if (proc && proc->running()) {
        proc->signal(SIGTERM);
        proc->wait_exit(10000ms);
    }
}

std::int64_t TreeSup::restarts_in_window() const {
    auto v = call(run + "/control.sock", {"STATUS"});
    auto* n = v.elems.empty() ? nullptr : seq::resp::field(v.elems[0], "restarts_in_window");
    return n ? n->integer : -1;
}

bool log_has(const TreeSup& t, const std::string& text, Ms deadline) {
    return eventually([&] { return t.proc->log().find(text) != std::string::npos; }, deadline);
}

std::string sh_child(const std::string& name, const std::string& script, const std::string& more) {
    return "[[child]]\nname = \"" + name + "\"\ncommand = [\"/bin/sh\", \"-c\", '''" + script + "''']\n" + more + "\n";
}

Shell sh(const std::string& command) {
    Shell r{-1, {}};
    FILE* p = popen(command.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

DurableTree::DurableTree(const TempDir& dir, std::vector<std::string> extra)
    : run(dir / "run"), data(dir / "data"), log(dir / "supervisor.log") {
    std::vector<std::string> argv{bin("seq-supervisor"), "--run-dir", run, "--data-dir", data};
    argv.insert(argv.end(), extra.begin(), extra.end());
    sup.emplace(argv, log);
    if (!tree_running(run)) throw std::runtime_error("the tree did not come up: see " + log);
}

// The standby's pid from STATUS, once it is idle and may be activated.
std::optional<pid_t> standby_of(const std::string& run, const std::string& name) {
    auto st = call(run + "/control.sock", {"STATUS"});
    for (auto& child : st.elems.at(1).elems) {
        const seq::resp::Value* n = nullptr;
        const seq::resp::Value* sb = nullptr;
        for (std::size_t i = 0; i + 1 < child.elems.size(); i += 2) {
            if (child.elems[i].str == "name") n = &child.elems[i + 1];
            if (child.elems[i].str == "standby") sb = &child.elems[i + 1];
        }
        if (n && n->str == name && sb && sb->type == seq::resp::Value::Type::integer)
            return static_cast<pid_t>(sb->integer);
    }
    return std::nullopt;
}

pid_t pid_of(const std::string& run_dir, const std::string& name) {
    // Never 0, as STATUS gives a child that is down: kill(0, SIGKILL) would
    // take the test's own process group, ctest and the shell above it too.
    pid_t pid = 0;
    eventually([&] {
        try {
            pid = tree_status(run_dir).at(name).pid;
        } catch (const std::exception&) {
            pid = 0;
        }
        return pid > 0;
    });
    if (pid <= 0) throw std::runtime_error(name + " in " + run_dir + " has had no pid for 5 s");
    return pid;
}

bool restarted(const std::string& run_dir, const std::string& name, pid_t old, Ms deadline) {
    return eventually(
        [&] {
            try {
                auto st = tree_status(run_dir);
                for (auto& [n, c] : st)
                    if (c.state != "running") return false;
                return st.at(name).pid != old;
            } catch (const std::exception&) {
                return false;
            }
        },
        deadline);
}

namespace {

// A socket connected to `address` (HOST:PORT or [V6]:PORT), or none and
// why in `failure`.
struct Dialed {
    seq::Fd fd;
    HttpResult failure;
};

Dialed dial(const std::string& address, Ms timeout) {
    Dialed d;
    auto colon = address.rfind(':');
    std::string host = address.substr(0, colon), port = address.substr(colon + 1);
    if (host.starts_with("[")) host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* ai = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &ai) != 0) throw std::runtime_error("bad address " + address);
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(ai, freeaddrinfo);
    seq::Fd fd(socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) < 0) {
        d.failure.outcome = errno == ECONNREFUSED ? HttpResult::refused : HttpResult::failed;
        d.failure.why = std::string("connect: ") + std::strerror(errno);
        return d;
    }
    d.fd = std::move(fd);
    return d;
}

// One GET on an open connection, and its one reply: to Content-Length, or
// to the close. `keep` says whether the connection may carry the next
// request (HTTP/1.1 and no "Connection: close"); `got`, how many bytes of
// reply came (none: the server closed it before taking the request).
HttpResult exchange(int fd, const std::string& address, const std::string& path, bool keep_alive, bool& keep,
                    std::size_t& got) {
    HttpResult r;
    keep = false;
    got = 0;
    std::string req = "GET " + path + (keep_alive ? " HTTP/1.1" : " HTTP/1.0") + "\r\nHost: " + address + "\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
        r.why = std::string("send: ") + std::strerror(errno);
        return r;
    }
    std::string reply;
    std::size_t head_end = std::string::npos, want = std::string::npos;  // the whole reply's size, once known
    char buf[4096];
    while (reply.size() < want) {
        auto n = recv(fd, buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            got = reply.size();
            r.why = std::string("recv: ") + std::strerror(errno) + " after " + std::to_string(reply.size()) + " bytes";
            return r;
        }
        reply.append(buf, static_cast<std::size_t>(n));
        if (head_end == std::string::npos && (head_end = reply.find("\r\n\r\n")) != std::string::npos) {
            auto cl = reply.find("Content-Length: ");
            if (cl != std::string::npos && cl < head_end)
                want = head_end + 4 + static_cast<std::size_t>(std::atol(reply.c_str() + cl + 16));
            keep = keep_alive && reply.starts_with("HTTP/1.1") && want != std::string::npos &&
                   reply.substr(0, head_end).find("Connection: close") == std::string::npos;
        }
    }
    got = reply.size();
    if (!reply.starts_with("HTTP/1.") || head_end == std::string::npos || reply.size() < 12) {
        keep = false;
        r.why = "no whole reply (" + std::to_string(reply.size()) + " bytes)";
        return r;
    }
    r.status = std::atoi(reply.c_str() + 9);
    r.body = reply.substr(head_end + 4);
    if (want != std::string::npos && reply.size() != want) {
        keep = false;
        r.why = "a body cut short";
        return r;
    }
    r.outcome = HttpResult::ok;
    return r;
}

}  // namespace

HttpResult http_get(const std::string& address, const std::string& path, Ms timeout) {
    auto d = dial(address, timeout);
    if (!d.fd) return d.failure;
    bool keep = false;
    std::size_t got = 0;
    return exchange(d.fd.get(), address, path, false, keep, got);
}

KeptAlive::Result KeptAlive::get(const std::string& path) {
    Result out;
    for (int attempt = 1;; ++attempt) {
        bool reused = static_cast<bool>(fd_);
        if (!reused) {
            auto d = dial(address_, 5000ms);
            if (!d.fd) {
                out.http = std::move(d.failure);
                return out;
            }
            fd_ = std::move(d.fd);
        }
        out.reused = out.reused || reused;
        bool keep = false;
        std::size_t got = 0;
        out.http = exchange(fd_.get(), address_, path, true, keep, got);
        if (!keep) fd_ = seq::Fd();
        // Closed before any byte of a reply, on a connection that had
        // carried one: the server let it go as it was idle, and did not take
        // this request. Sent again once, as HTTP clients do with a GET.
        if (out.http.outcome != HttpResult::ok && reused && got == 0 && attempt == 1) {
            out.retried = true;
            continue;
        }
        return out;
    }
}

struct HttpLoad::State {
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::uint64_t epoch = 0;  // take_bodies() calls so far; each body is kept with the epoch it was sent in
    std::vector<std::pair<std::uint64_t, std::string>> bodies;
    std::vector<std::string> problems;
    std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
};

HttpLoad::HttpLoad(std::string address, int clients, std::string path, Ms pause, int kept_alive)
    : state_(std::make_shared<State>()) {
    for (int i = 0; i < clients; ++i)
        threads_.emplace_back([this, address, path, pause, keep = i < kept_alive] {
            KeptAlive connection(address);
            for (bool first = true; !state_->stop; first = false) {
                if (!first) std::this_thread::sleep_for(pause);
                std::uint64_t sent_in = 0;
                {
                    std::lock_guard lock(state_->mu);
                    sent_in = state_->epoch;
                }
                HttpResult r;
                if (keep) {
                    auto kept = connection.get(path);
                    r = std::move(kept.http);
                    reused_ += kept.reused;
                    retried_ += kept.retried;
                } else {
                    r = http_get(address, path);
                }
                if (r.outcome == HttpResult::ok && r.status == 200) {
                    ++ok_;
                    std::lock_guard lock(state_->mu);
                    state_->bodies.emplace_back(sent_in, r.body);
                    continue;
                }
                ++(r.outcome == HttpResult::refused ? refused_ : failed_);
                auto ms = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - state_->since).count();
                std::lock_guard lock(state_->mu);
                state_->problems.push_back(std::to_string(ms) + " ms: " +
                                           (r.outcome == HttpResult::refused ? "refused, " : "failed, ") +
                                           (r.why.empty() ? "status " + std::to_string(r.status) : r.why));
            }
        });
}

HttpLoad::~HttpLoad() { stop(); }

void HttpLoad::stop() {
    state_->stop = true;
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

std::vector<std::string> HttpLoad::take_bodies() {
    std::lock_guard lock(state_->mu);
    std::vector<std::string> out;
    for (auto& [sent_in, body] : state_->bodies)
        if (sent_in == state_->epoch) out.push_back(std::move(body));
    state_->bodies.clear();
    ++state_->epoch;
    return out;
}

std::string HttpLoad::report() const {
    std::lock_guard lock(state_->mu);
    std::string r = std::to_string(ok_) + " ok, " + std::to_string(refused_) + " refused, " +
                    std::to_string(failed_) + " failed, " + std::to_string(retried_) + " sent again";
    for (std::size_t i = 0; i < state_->problems.size() && i < 20; ++i) r += "\n  " + state_->problems[i];
    return r;
}

std::string http_of(const TreeSup& t) {
    const std::string said = "http: /metrics, /livez and /readyz on ";
    std::string address;
    eventually([&] {
        auto log = t.proc->log();
        auto at = log.find(said);
        if (at == std::string::npos) return false;
        at += said.size();
        address = log.substr(at, log.find('\n', at) - at);
        return true;
    });
    return address;
}

int free_port() {
    seq::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
        getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) < 0)
        throw std::runtime_error("free_port: cannot bind 127.0.0.1:0");
    return ntohs(a.sin_port);
}

bool has_ipv6_loopback() {
    seq::Fd fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    return bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

}  // namespace seqtest
