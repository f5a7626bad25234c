// LogFile on its own: a write cut short by the file size limit is taken
// back to the last whole line, what is left is counted as dropped, and the
// first write that goes through again ends the failure (the test of a
// full disk without root: RLIMIT_FSIZE instead of a small tmpfs).
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "log_file.hpp"

using namespace seq::sup;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Dir {
    Dir() {
        char tmpl[] = "/tmp/seqlogfile-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        path = tmpl;
    }
    ~Dir() { std::filesystem::remove_all(path); }
    std::string path;
};

}  // namespace

TEST_CASE("a log file past RLIMIT_FSIZE: whole lines only, the rest counted as dropped, and writing resumes") {
    Dir d;
    auto file = d.path + "/sub/job.log";
    rlimit was{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &was) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    {
        LogFile f(file, 1 << 20, 3);
        CHECK(std::filesystem::exists(file));  // made at once, its folder too
        CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::others_read) ==
              std::filesystem::perms::none);
        rlimit small = was;
        small.rlim_cur = 1000;
        REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
        std::string text(40, 'x');
        for (int i = 0; i < 100; ++i) {
            f.add("2026-12-06T14:31:19.812Z", Stream::out, "job", 42, text + std::to_string(i));
            f.flush();
        }
        REQUIRE(setrlimit(RLIMIT_FSIZE, &was) == 0);
        CHECK(f.failing());
        auto kept = slurp(file);
        CHECK(kept.size() <= 1000);
        REQUIRE(!kept.empty());
        CHECK(kept.back() == '\n');
        auto written = static_cast<std::uint64_t>(std::count(kept.begin(), kept.end(), '\n'));
        CHECK(written + f.dropped() == 100);
        CHECK(f.take_new_drops() == f.dropped());
        CHECK(f.take_new_drops() == 0);
        // Many lines in one write, cut in the middle of one: the lines
        // before it stay, the rest are counted.
        std::filesystem::remove(file);
        f.reopen();
        small.rlim_cur = 1000;
        REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
        auto dropped_before = f.dropped();
        for (int i = 0; i < 30; ++i) f.add("2026-12-06T14:31:19.812Z", Stream::out, "job", 42, text + std::to_string(i));
        f.flush();
        REQUIRE(setrlimit(RLIMIT_FSIZE, &was) == 0);
        kept = slurp(file);
        REQUIRE(!kept.empty());
        CHECK(kept.size() <= 1000);
        CHECK(kept.back() == '\n');
        written = static_cast<std::uint64_t>(std::count(kept.begin(), kept.end(), '\n'));
        CHECK(written > 5);
        CHECK(written + f.dropped() - dropped_before == 30);
        CHECK(kept.ends_with(text + std::to_string(written - 1) + "\n"));
        // Room again.
        f.add("2026-12-06T14:31:20.000Z", Stream::err, "job", 42, "back");
        f.flush();
        CHECK_FALSE(f.failing());
        CHECK(slurp(file).ends_with("2026-12-06T14:31:20.000Z err job[42] back\n"));
    }
    std::signal(SIGXFSZ, old_handler);
}

TEST_CASE("rotation at a line's edge: file, file.1 .. file.keep, never a line split, never more than keep") {
    Dir d;
    auto file = d.path + "/r.log";
    LogFile f(file, 4096, 2);
    // Each line is 100 bytes: 40 to a file, and a 41st opens the next.
    std::string pad(100 - std::string("2026-12-06T14:31:19.812Z out r[1] ").size() - 1 - 4, '.');
    for (int i = 0; i < 200; ++i) {
        char n[8];
        std::snprintf(n, sizeof n, "%04d", i);
        f.add("2026-12-06T14:31:19.812Z", Stream::out, "r", 1, pad + n);
    }
    f.flush();
    CHECK(std::filesystem::file_size(file + ".1") == 4000);
    CHECK(std::filesystem::file_size(file + ".2") == 4000);
    CHECK_FALSE(std::filesystem::exists(file + ".3"));
    CHECK(slurp(file).substr(0, 100).ends_with("0160\n"));
    CHECK(slurp(file + ".1").ends_with("0159\n"));
    CHECK(slurp(file + ".2").substr(0, 100).ends_with("0080\n"));
    // A smaller keep (a reload): the archives past it go at the next rotation.
    f.set_bounds(4096, 1);
    for (int i = 0; i < 41; ++i) f.add("2026-12-06T14:31:19.812Z", Stream::out, "r", 1, pad + "xxxx");
    f.flush();
    CHECK(std::filesystem::exists(file + ".1"));
    CHECK_FALSE(std::filesystem::exists(file + ".2"));
    // An external mv, then a reopen: a new file at the path.
    std::filesystem::rename(file, file + ".moved");
    f.reopen();
    f.add("2026-12-06T14:31:19.812Z", Stream::out, "r", 1, "after");
    f.flush();
    CHECK(slurp(file) == "2026-12-06T14:31:19.812Z out r[1] after\n");
}

TEST_CASE("a log file that cannot be opened: its lines are counted as dropped, and it opens once it can") {
    Dir d;
    auto blocker = d.path + "/logs";
    std::ofstream(blocker) << "a file where the folder should be\n";
    auto file = blocker + "/job.log";
    int told = 0;
    LogFile f(file, 1 << 20, 3);
    f.on_state = [&] { ++told; };
    CHECK(f.failing());  // said at once, naming the path, in the log
    for (int i = 0; i < 5; ++i) {
        f.add("2026-12-06T14:31:19.812Z", Stream::out, "job", 42, "lost " + std::to_string(i));
        f.flush();
    }
    CHECK(f.dropped() == 5);
    CHECK(told == 0);  // already failing: no second word
    std::filesystem::remove(blocker);
    f.add("2026-12-06T14:31:20.000Z", Stream::out, "job", 42, "found");
    f.flush();
    CHECK_FALSE(f.failing());
    CHECK(told == 1);  // writing again
    CHECK(slurp(file) == "2026-12-06T14:31:20.000Z out job[42] found\n");
    CHECK(f.dropped() == 5);
}
