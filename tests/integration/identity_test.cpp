// Whom a child runs as, and within what: user, group, supplementary_groups,
// umask, nice and limits, as /proc shows them of the running child; and a
// supervisor that is not root refused another user by --check.
#include <doctest/doctest.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/stat.h>
#include <string>

#include "harness.hpp"

using namespace seqtest;

namespace {

// The line of /proc/PID/status (or limits) that begins with `key`, squeezed.
std::string proc_line(pid_t pid, const std::string& file, const std::string& key) {
    for (auto& l : lines_of(slurp("/proc/" + std::to_string(pid) + "/" + file)))
        if (l.starts_with(key)) return std::regex_replace(l, std::regex("[ \t]+"), " ");
    return "";
}

// Whether `pid` has exec'd sleep: what it was given is set before then
// (under a fork, the supervisor may see it running a moment before).
bool execd_sleep(pid_t pid) {
    return eventually([&] {
        std::error_code ec;
        return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename() == "sleep";
    });
}

}  // namespace

TEST_CASE("limits, umask and nice: the running child has them, as /proc shows") {
    TempDir dir;
    // Nicer than the suite runs at, which no one is refused.
    auto nice = std::to_string(std::min(19, std::max(7, getpriority(PRIO_PROCESS, 0) + 1)));
    TreeSup t(dir, "[[child]]\nname = \"job\"\ncommand = [\"/bin/sleep\", \"1000\"]\numask = \"0027\"\nnice = " + nice +
                       "\nlimits = { nofile = 1000, core = 0, stack = { soft = 4194304, hard = 8388608 } }\n");
    INFO(t.proc->log());
    auto pid = t.child("job").pid;
    REQUIRE(execd_sleep(pid));
    CHECK(proc_line(pid, "limits", "Max open files") == "Max open files 1000 1000 files ");
    CHECK(proc_line(pid, "limits", "Max core file size") == "Max core file size 0 0 bytes ");
    CHECK(proc_line(pid, "limits", "Max stack size") == "Max stack size 4194304 8388608 bytes ");
    CHECK(proc_line(pid, "status", "Umask:") == "Umask: 0027");
    auto stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto fields = stat.substr(stat.rfind(')') + 2);
    std::istringstream in(fields);
    std::string f;
    for (int i = 0; i < 17; ++i) in >> f;  // field 19 of stat is nice; fields here start at 3
    CHECK(f == nice);
}

TEST_CASE("user, group and supplementary_groups: the child's ids as /proc shows them, its death signal armed again") {
    if (geteuid() != 0) {
        MESSAGE("SKIPPED: running a child as another user needs a root supervisor");
        return;
    }
    passwd* nobody = getpwnam("nobody");
    REQUIRE(nobody);
    group* primary = getgrgid(nobody->pw_gid);
    REQUIRE(primary);
    const std::string uid = std::to_string(nobody->pw_uid), gid = std::to_string(nobody->pw_gid);
    const std::string gname = primary->gr_name;
    TempDir dir;
    // Its working folder is the tree file's, which nobody must be able to enter.
    REQUIRE(chmod(dir.path().c_str(), 0755) == 0);
    TreeSup t(dir, "[[child]]\nname = \"plain\"\ncommand = [\"/bin/sleep\", \"1000\"]\nuser = \"nobody\"\n"
                   "[[child]]\nname = \"named\"\ncommand = [\"/bin/sleep\", \"1000\"]\nuser = \"nobody\"\n"
                   "group = \"root\"\nsupplementary_groups = [\"" + gname + "\", \"root\"]\n");
    INFO(t.proc->log());
    auto plain = t.child("plain").pid, named = t.child("named").pid;
    REQUIRE(execd_sleep(plain));
    REQUIRE(execd_sleep(named));
    CHECK(proc_line(plain, "status", "Uid:") == "Uid: " + uid + " " + uid + " " + uid + " " + uid);
    CHECK(proc_line(plain, "status", "Gid:") == "Gid: " + gid + " " + gid + " " + gid + " " + gid);
    CHECK(proc_line(plain, "status", "Groups:") == "Groups: " + gid + " ");  // as initgroups gives them
    CHECK(proc_line(named, "status", "Uid:") == "Uid: " + uid + " " + uid + " " + uid + " " + uid);
    CHECK(proc_line(named, "status", "Gid:") == "Gid: 0 0 0 0");
    auto groups = proc_line(named, "status", "Groups:");
    CHECK(groups.find(" 0") != std::string::npos);
    CHECK(groups.find(" " + gid) != std::string::npos);
    // No capability left: it cannot become root again.
    CHECK(proc_line(plain, "status", "CapEff:") == "CapEff: 0000000000000000");
    // kill -9 of the supervisor takes the child with it: its death signal
    // was armed again after the change of user.
    REQUIRE(kill(t.proc->pid(), SIGKILL) == 0);
    CHECK(eventually([&] {
        auto state = proc_line(plain, "status", "State:");
        return state.empty() || state.find("Z") != std::string::npos;
    }));
}

TEST_CASE("a supervisor that is not root may not run a child as another user: --check says so, naming the key") {
    TempDir dir;
    auto file = dir / "tree.toml";
    std::ofstream(file) << "[[child]]\nname = \"job\"\ncommand = [\"/bin/sleep\", \"1000\"]\nuser = \"root\"\n";
    std::ofstream(dir / "self.toml") << "[[child]]\nname = \"job\"\ncommand = [\"/bin/sleep\", \"1000\"]\nuser = \"nobody\"\n";
    // As root, the check runs as nobody (setpriv); as anyone else, as that one.
    // (A copy of the program in the test's own folder, which nobody may
    // read: the build's may lie where nobody cannot.)
    std::string as, program = bin("seq-supervisor");
    if (geteuid() == 0) {
        passwd* nobody = getpwnam("nobody");
        REQUIRE(nobody);
        as = "setpriv --reuid=" + std::to_string(nobody->pw_uid) + " --regid=" + std::to_string(nobody->pw_gid) +
             " --clear-groups ";
        program = dir / "seq-supervisor";
        std::filesystem::copy_file(bin("seq-supervisor"), program);
        REQUIRE(chmod(program.c_str(), 0755) == 0);
        REQUIRE(chmod(dir.path().c_str(), 0755) == 0);
        REQUIRE(chmod(file.c_str(), 0644) == 0);
        REQUIRE(chmod((dir / "self.toml").c_str(), 0644) == 0);
    }
    auto out = sh(as + program + " --check " + file + " 2>&1");
    CHECK(out.code == 2);
    CHECK(out.out.find("tree.toml:4:8: child \"job\", key \"user\": only a supervisor running as root may run a "
                       "child as another user or group") != std::string::npos);
    // Naming itself is fine.
    if (geteuid() == 0) CHECK(sh(as + program + " --check " + (dir / "self.toml")).code == 0);
}

TEST_CASE("env_file: read at each start (a changed value is seen after a restart), env wins, a missing optional file is fine, and a broken one fails the start naming file and line") {
    TempDir dir;
    std::ofstream(dir / "app.env") << "# the app's\nGREETING=\"hello there\"\nWHO=file\n";
    TreeSup t(dir, "max_restarts = 100\n[[child]]\nname = \"job\"\n"
                   "command = [\"/bin/sh\", \"-c\", 'echo \"$GREETING from $WHO\"; exec sleep 1000']\n"
                   "env_file = [\"app.env\", \"-missing.env\"]\nenv = { WHO = \"env\" }\n");
    INFO(t.proc->log());
    auto ctl = bin("seqctl") + " --run-dir " + t.run + " ";
    CHECK(log_has(t, "hello there from env"));
    std::ofstream(dir / "app.env") << "GREETING='good day'\n";
    REQUIRE(sh(ctl + "restart job").code == 0);
    CHECK(log_has(t, "good day from env"));
    // Broken: the next start fails, saying where.
    std::ofstream(dir / "app.env") << "GREETING=fine\n1BAD=x\n";
    sh(ctl + "restart job");
    CHECK(log_has(t, "env_file " + dir / "app.env" + ":2: not a variable's name"));
    CHECK(eventually([&] { return t.child("job").last_exit.find("env_file " + dir / "app.env" + ":2:") != std::string::npos; }));
    // Mended: it starts again by itself.
    std::ofstream(dir / "app.env") << "GREETING=mended\n";
    CHECK(log_has(t, "mended from env", 15000ms));
}

namespace {

// `setpriv` running a command as nobody with group `gid`, and `also` as
// its only supplementary group (or none).
std::string as_nobody(gid_t gid, std::optional<gid_t> also = std::nullopt) {
    passwd* nobody = getpwnam("nobody");
    return nobody ? "setpriv --reuid=" + std::to_string(nobody->pw_uid) + " --regid=" + std::to_string(gid) +
                        (also ? " --groups=" + std::to_string(*also) + " " : " --clear-groups ")
                  : "";
}

std::string mode_of(const std::string& path) {
    struct stat st{};
    if (stat(path.c_str(), &st) < 0) return "missing";
    char m[8];
    std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return m + std::string(" ") + std::to_string(st.st_gid);
}

}  // namespace

TEST_CASE("run_dir_group: a child of another user reaches the stash, one outside the group is refused, and control_group lets the operators' group use seqctl") {
    if (geteuid() != 0) {
        MESSAGE("SKIPPED: running a child as another user needs a root supervisor");
        return;
    }
    passwd* nobody = getpwnam("nobody");
    REQUIRE(nobody);
    group* app = getgrgid(nobody->pw_gid);
    group* ops = getgrnam("adm");
    REQUIRE(app);
    if (!ops) {
        MESSAGE("SKIPPED: no group \"adm\" to make the operators' group");
        return;
    }
    const std::string app_gid = std::to_string(app->gr_gid), ops_gid = std::to_string(ops->gr_gid);
    TempDir dir;
    REQUIRE(chmod(dir.path().c_str(), 0755) == 0);  // the tree file's folder, the children's cwd
    // Each child says what AUTH as its stash user, then PING, on $SEQ_STASH
    // got it, or why it got nothing.
    const std::string ping =
        "import os, socket, sys\\n"
        "try:\\n"
        "    s = socket.socket(socket.AF_UNIX)\\n"
        "    s.connect(os.environ['SEQ_STASH'])\\n"
        "    u, p = (os.environ[k].encode() for k in ('SEQ_STASH_USER', 'SEQ_STASH_PASSWORD'))\\n"
        "    s.sendall(b'*3\\\\r\\\\n$4\\\\r\\\\nAUTH\\\\r\\\\n$%d\\\\r\\\\n%s\\\\r\\\\n$%d\\\\r\\\\n%s\\\\r\\\\n'\\n"
        "              b'*1\\\\r\\\\n$4\\\\r\\\\nPING\\\\r\\\\n' % (len(u), u, len(p), p))\\n"
        "    got = b''\\n"
        "    while got.count(b'\\\\n') < 2 and (more := s.recv(100)): got += more\\n"
        "    print(sys.argv[1], 'got', ' '.join(got.decode().split()), flush=True)\\n"
        "except OSError as e:\\n"
        "    print(sys.argv[1], 'refused:', e.strerror, flush=True)\\n"
        "os.execv('/bin/sleep', ['sleep', '1000'])\\n";
    auto child = [&](const std::string& name, const std::string& more) {
        return "[[child]]\nname = \"" + name + "\"\nuser = \"nobody\"\n" + more +
               "command = [\"/usr/bin/python3\", \"-c\", \"" + ping + "\", \"" + name + "\"]\n";
    };
    TreeSup t(dir, "run_dir_group = \"" + std::string(app->gr_name) + "\"\ncontrol_group = \"adm\"\nstash = \"stash\"\n"
                   "[[child]]\nname = \"stash\"\ncommand = [\"seq-stash\"]\nreadiness = \"notify-fd\"\nsockets = [\"stash\"]\n" +
                   child("member", "") +
                   child("outsider", "group = \"adm\"\nsupplementary_groups = []\n"));
    INFO(t.proc->log());
    CHECK(log_has(t, "member got +OK +PONG"));
    CHECK(log_has(t, "outsider refused: Permission denied"));
    // Two groups: the run dir may be entered by anyone, listed by no one;
    // each socket's mode and group say who connects.
    CHECK(mode_of(t.run) == "0711 " + app_gid);
    CHECK(mode_of(t.run + "/stash.sock") == "0660 " + app_gid);
    CHECK(mode_of(t.run + "/control.sock") == "0660 " + ops_gid);
    CHECK(mode_of(t.run + "/supervisor.lock").starts_with("0600 "));

    // seqctl as nobody: in the operators' group it may; in its own, not.
    auto seqctl = dir / "seqctl";  // a copy nobody can read
    std::filesystem::copy_file(bin("seqctl"), seqctl);
    REQUIRE(chmod(seqctl.c_str(), 0755) == 0);
    auto ok = sh(as_nobody(ops->gr_gid) + seqctl + " --run-dir " + t.run + " status 2>&1");
    CHECK(ok.code == 0);
    CHECK(ok.out.find("member") != std::string::npos);
    // As a supplementary group, which the supervisor learns by SO_PEERGROUPS.
    auto also = sh(as_nobody(app->gr_gid, ops->gr_gid) + seqctl + " --run-dir " + t.run + " status 2>&1");
    CHECK(also.code == 0);
    CHECK(also.out.find("member") != std::string::npos);
    auto no = sh(as_nobody(app->gr_gid) + seqctl + " --run-dir " + t.run + " status 2>&1");
    CHECK(no.code != 0);
    CHECK(no.out.find("Permission denied") != std::string::npos);

    // A reload without the groups closes it all again.
    std::ofstream(t.file) << "stash = \"stash\"\n[[child]]\nname = \"stash\"\ncommand = [\"seq-stash\"]\n"
                             "readiness = \"notify-fd\"\nsockets = [\"stash\"]\n";
    REQUIRE(sh(bin("seqctl") + " --run-dir " + t.run + " reload").code == 0);
    CHECK(mode_of(t.run).starts_with("0700 "));
    CHECK(mode_of(t.run + "/stash.sock").starts_with("0600 "));
    CHECK(mode_of(t.run + "/control.sock").starts_with("0600 "));
}

TEST_CASE("memory_max without a cgroup: a child that allocates past it is stopped and restarted with the reason, one below it is left alone, and status shows each one's memory and CPU") {
    TempDir dir;
    // 64 MiB written (so resident), then it waits; or 1 MiB, well below.
    auto hog = [](const std::string& name, int mib) {
        return "[[child]]\nname = \"" + name + "\"\nmemory_max = \"32M\"\nshutdown = 1000\n"
               "command = [\"/usr/bin/python3\", \"-c\", \"import time\\nx = b'x' * (" + std::to_string(mib) +
               " << 20)\\nprint('allocated', flush=True)\\ntime.sleep(1000)\\n\"]\n";
    };
    TreeSup t(dir, "max_restarts = 100\nmax_seconds = 60\n" + hog("hog", 64) + hog("calm", 1));
    INFO(t.proc->log());
    CHECK(log_has(t, "hog (pid "));
    std::string reason;
    REQUIRE(eventually([&] {
        auto s = t.child("hog");
        reason = s.last_exit;
        return s.restarts >= 1 && !reason.empty();
    }, 10000ms));
    CHECK(std::regex_search(reason, std::regex("^memory limit: [0-9.]+ MiB > 32 MiB, killed by SIGTERM$")));
    CHECK(log_has(t, "> 32 MiB; stopping it"));
    auto why = sh(bin("seqctl") + " --run-dir " + t.run + " why hog");
    CHECK(why.out.find("memory limit: ") != std::string::npos);
    // Below its limit: never touched; and status says what each uses.
    auto calm = t.child("calm");
    CHECK(calm.restarts == 0);
    CHECK(calm.memory_max == 32 << 20);
    CHECK(eventually([&] {
        auto s = t.child("calm");
        return s.memory_bytes > (1 << 20) && s.memory_bytes < (32 << 20) && s.cpu_ms >= 0;
    }));
    auto table = sh(bin("seqctl") + " --run-dir " + t.run + " status").out;
    CHECK(table.find("CPU") != std::string::npos);
    CHECK(table.find("/32.0M") != std::string::npos);
}
