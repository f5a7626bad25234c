// A child's log file: rotation under a fast writer (each line once, in
// order, at most `keep` archives), reopening after an external mv (none
// lost), and a full filesystem (lines dropped and counted, supervision goes
// on, writing resumes once there is room).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace seqtest;

namespace {

// The file's archives, oldest first, then the file: every line it was given.
std::vector<std::string> all_lines(const std::string& file, unsigned* archives = nullptr) {
    unsigned n = 0;
    while (std::filesystem::exists(file + "." + std::to_string(n + 1))) ++n;
    if (archives) *archives = n;
    std::vector<std::string> out;
    for (unsigned k = n; k >= 1; --k)
        for (auto& l : lines_of(slurp(file + "." + std::to_string(k)))) out.push_back(l);
    for (auto& l : lines_of(slurp(file))) out.push_back(l);
    return out;
}

// The numbers of the lines "... name[pid] line N", in the order they are in;
// `whole` is false if one line is not of that form (split, or two run together).
std::vector<long> numbers(const std::vector<std::string>& lines, bool& whole) {
    static const std::regex line_re(
        "^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z out [a-z/]+\\[[0-9]+\\] line ([0-9]+)$");
    std::vector<long> out;
    whole = true;
    for (auto& l : lines) {
        std::smatch m;
        if (std::regex_match(l, m, line_re)) out.push_back(std::stol(m[1]));
        else whole = false;
    }
    return out;
}

bool one_to(const std::vector<long>& got, long n) {
    if (static_cast<long>(got.size()) != n) return false;
    for (long i = 0; i < n; ++i)
        if (got[static_cast<std::size_t>(i)] != i + 1) return false;
    return true;
}

}  // namespace

TEST_CASE("rotation under a child writing fast: each line once and in order across the file and its archives, never more than keep archives") {
    TempDir dir;
    // 60,000 lines as fast as seq(1) writes them, into 64 KiB files: about
    // 60 rotations. `all` keeps every archive; `few` keeps 3.
    std::string writer = "seq -f 'line %.0f' 1 60000; exec sleep 1000";
    TreeSup t(dir,
              "log_dir = \"logs\"\n"
              "[[child]]\nname = \"all\"\ncommand = [\"/bin/sh\", \"-c\", \"" + writer + "\"]\n"
              "log = { max_size = 65536, keep = 1000, stderr = false }\n"
              "[[child]]\nname = \"few\"\ncommand = [\"/bin/sh\", \"-c\", \"" + writer + "\"]\n"
              "log = { max_size = 65536, keep = 3, stderr = false }\n");
    INFO(t.proc->log());
    auto all = dir / "logs/all.log", few = dir / "logs/few.log";
    auto last_line_in = [](const std::string& f) { return slurp(f).find(" line 60000\n") != std::string::npos; };
    REQUIRE(eventually([&] { return last_line_in(all) && last_line_in(few); }, 60000ms));

    unsigned archives = 0;
    bool whole = false;
    auto got = numbers(all_lines(all, &archives), whole);
    CHECK(whole);
    CHECK(archives > 30);
    CHECK(one_to(got, 60000));
    for (unsigned k = 1; k <= archives; ++k)
        CHECK(std::filesystem::file_size(all + "." + std::to_string(k)) <= 65536);

    got = numbers(all_lines(few, &archives), whole);
    CHECK(whole);
    CHECK(archives == 3);
    CHECK_FALSE(std::filesystem::exists(few + ".4"));
    // What is kept is the newest lines, each once, in order, up to the last.
    REQUIRE(!got.empty());
    CHECK(got.back() == 60000);
    for (std::size_t i = 1; i < got.size(); ++i) CHECK(got[i] == got[i - 1] + 1);
    // The supervisor's stderr has none of them (stderr = false).
    CHECK(t.proc->log().find(" line 1\n") == std::string::npos);
}

TEST_CASE("seqctl logs --reopen and SIGUSR1 after an external mv: new lines go to a new file, none is lost, below a nested supervisor too") {
    TempDir dir;
    std::string writer = "i=1; while :; do echo line $i; i=$((i+1)); sleep 0.005; done";
    TreeSup t(dir, "log_dir = \"logs\"\n"
                   "[[child]]\nname = \"job\"\ncommand = [\"/bin/sh\", \"-c\", \"" + writer + "\"]\n"
                   "[[child]]\nname = \"web\"\ntype = \"supervisor\"\n"
                   "[[child.child]]\nname = \"deep\"\ncommand = [\"/bin/sh\", \"-c\", \"" + writer + "\"]\n");
    INFO(t.proc->log());
    auto count = [](const std::string& f) { return lines_of(slurp(f)).size(); };
    std::vector<std::string> files{dir / "logs/job.log", dir / "logs/web.deep.log"};
    for (auto& f : files) REQUIRE(eventually([&] { return count(f) >= 50; }, 10000ms));
    // As logrotate does: move them, then ask for a reopen.
    for (auto& f : files) std::filesystem::rename(f, f + ".moved-1");
    auto reopen = sh(bin("seqctl") + " --run-dir " + t.run + " logs --reopen");
    CHECK(reopen.code == 0);
    for (auto& f : files)
        REQUIRE(eventually([&] { return std::filesystem::exists(f) && count(f) >= 50; }, 10000ms));
    for (auto& f : files) std::filesystem::rename(f, f + ".moved-2");
    REQUIRE(kill(t.proc->pid(), SIGUSR1) == 0);
    for (auto& f : files)
        REQUIRE(eventually([&] { return std::filesystem::exists(f) && count(f) >= 50; }, 10000ms));
    // Stopped, so that what is read is whole: every line once, in order, across the three.
    REQUIRE(sh(bin("seqctl") + " --run-dir " + t.run + " stop").code == 0);
    REQUIRE(t.proc->wait_exit(10000ms));
    for (auto& f : files) {
        CAPTURE(f);
        std::vector<std::string> every;
        for (auto part : {f + ".moved-1", f + ".moved-2", f})
            for (auto& l : lines_of(slurp(part))) every.push_back(l);
        bool whole = false;
        auto got = numbers(every, whole);
        CHECK(whole);
        CHECK(got.size() >= 150);
        CHECK(one_to(got, static_cast<long>(got.size())));
    }
    CHECK(log_has(t, "reopening the log files (seqctl logs --reopen)"));
    CHECK(log_has(t, "SIGUSR1 received: reopening the log files"));
}

TEST_CASE("a log file on a full filesystem: lines are dropped and counted, supervision goes on, writing resumes once there is room") {
    if (geteuid() != 0) {
        MESSAGE("SKIPPED: mounting a small tmpfs for a full filesystem needs root");
        return;
    }
    TempDir dir;
    auto disk = dir / "disk";
    std::filesystem::create_directory(disk);
    if (mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=256k") != 0) {
        MESSAGE("SKIPPED: this machine refuses a tmpfs mount: " << std::strerror(errno));
        return;
    }
    struct Unmount {
        std::string at;
        ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
    } unmount{disk};
    // Ballast fills it but for a few KiB.
    {
        std::ofstream ballast(disk + "/ballast", std::ios::binary);
        std::string block(4096, 'x');
        while (ballast.write(block.data(), static_cast<std::streamsize>(block.size())) && ballast.flush()) {
        }
    }
    // Each line runs after the one before has been read and written: the
    // count of what it wrote is exact.
    std::string writer = "i=1; while :; do echo line $i; i=$((i+1)); sleep 0.002; done";
    TreeSup t(dir, "max_restarts = 100\n"
                   "[[child]]\nname = \"job\"\ncommand = [\"/bin/sh\", \"-c\", \"" + writer +
                       "\"]\nlog = { file = \"disk/job.log\", stderr = false }\n"
                   "[[child]]\nname = \"other\"\ncommand = [\"/bin/sleep\", \"1000\"]\n"
                   "[[child]]\nname = \"web\"\ntype = \"supervisor\"\n"
                   "[[child.child]]\nname = \"deep\"\ncommand = [\"/bin/sh\", \"-c\", \"" + writer +
                       "\"]\nlog = { file = \"disk/deep.log\", stderr = false }\n");
    INFO(t.proc->log());
    auto file = disk + "/job.log";
    auto dropped = [&] { return t.child("job").log_dropped; };
    REQUIRE(eventually([&] { return dropped() > 100; }, 20000ms));
    // Below a nested supervisor, its status says so too.
    CHECK(eventually([&] { return t.child("web/deep").log_dropped > 0; }, 10000ms));
    CHECK(log_has(t, "log file " + file + ": cannot write: No space left on device"));
    auto status = sh(bin("seqctl") + " --run-dir " + t.run + " status");
    CHECK(status.out.find("lines dropped, the disk being full or failing: " + file) != std::string::npos);
    // Supervision goes on: another child restarts as ever.
    auto other = t.child("other").pid;
    CHECK(sh(bin("seqctl") + " --run-dir " + t.run + " restart other").code == 0);
    CHECK(t.child("other").pid != other);
    // Room again: it writes again, and says how many were lost.
    std::filesystem::remove(disk + "/ballast");
    REQUIRE(log_has(t, "log file " + file + ": writing again, after ", 10000ms));
    auto before = lines_of(slurp(file)).size();
    REQUIRE(eventually([&] { return lines_of(slurp(file)).size() > before + 50; }, 10000ms));
    // Whole lines only, in order; the gap is what was dropped.
    bool whole = false;
    auto got = numbers(lines_of(slurp(file)), whole);
    CHECK(whole);
    REQUIRE(got.size() > 2);
    long gaps = got.front() - 1;  // the disk was full from the first line on
    for (std::size_t i = 1; i < got.size(); ++i) {
        CHECK(got[i] > got[i - 1]);
        gaps += got[i] - got[i - 1] - 1;
    }
    CHECK(gaps > 0);
    CHECK(gaps == dropped());
}

TEST_CASE("binary output and an overlong line reach the file split into pieces, none dropped") {
    TempDir dir;
    // A NUL and a byte that is not UTF-8, then 2,000 bytes with no newline
    // at all before the child waits.
    TreeSup t(dir, "[[child]]\nname = \"bin\"\ncommand = [\"/bin/sh\", \"-c\", "
                   "'printf \"a\\\\000b\\\\377c\\\\n\"; head -c 2000 /dev/zero | tr \"\\\\000\" y; echo; exec sleep 1000']\n"
                   "log = { file = \"bin.log\" }\n");
    INFO(t.proc->log());
    auto file = dir / "bin.log";
    REQUIRE(eventually([&] { return lines_of(slurp(file)).size() >= 4; }));
    auto lines = lines_of(slurp(file));
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].ends_with(std::string("] a\0b\377c", 7)));
    std::size_t ys = 0;
    for (std::size_t i = 1; i < 4; ++i) {
        auto text = lines[i].substr(lines[i].find("] ") + 2);
        CHECK(text.find_first_not_of('y') == std::string::npos);
        ys += text.size();
    }
    CHECK(ys == 2000);  // 900 + 900 + 200
}
