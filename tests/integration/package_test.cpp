// The Debian package, made by cpack from this build: what it holds, what it
// declares it needs, and that its programs run from a throwaway root.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include "harness.hpp"

using namespace seqtest;

#ifndef SEQ_BUILD_DIR
#error "SEQ_BUILD_DIR must name the build tree"
#endif

TEST_CASE("cpack -G DEB: programs, units, man pages and the example, its dependencies declared, and it runs unpacked") {
    TempDir dir;
    auto made = sh("cpack -G DEB --config " SEQ_BUILD_DIR "/CPackConfig.cmake -B " + (dir / "out") + " 2>&1");
    INFO("cpack:\n", made.out);
    REQUIRE(made.code == 0);
    auto deb = sh("ls " + (dir / "out") + "/sequence_*.deb").out;
    REQUIRE(!deb.empty());
    deb.pop_back();  // the newline
    auto depends = sh("dpkg-deb -f " + deb + " Depends").out;
    CHECK(depends.find("libc6") != std::string::npos);
    CHECK(depends.find("libsqlite3-0") != std::string::npos);
    auto files = sh("dpkg-deb -c " + deb).out;
    for (auto f : {"./usr/bin/seq-supervisor", "./usr/bin/seqctl", "./usr/bin/seq-stash", "./usr/bin/seq-worker",
                   "./usr/lib/systemd/user/sequence.service", "./usr/lib/systemd/user/sequence.socket",
                   "./usr/lib/systemd/user/sequence@.service", "./usr/lib/systemd/system/sequence@.service",
                   "./usr/share/man/man1/seq-supervisor.1", "./usr/share/man/man1/seqctl.1",
                   "./usr/share/man/man1/seq-stash.1", "./usr/share/man/man1/seq-worker.1",
                   "./usr/share/man/man5/seq-tree.5", "./usr/share/man/man7/sequence-protocol.7",
                   "./usr/share/doc/sequence/examples/counter-tree.toml"}) {
        CAPTURE(f);
        CHECK(files.find(std::string(f) + "\n") != std::string::npos);
    }
    // Unpacked into a throwaway root: the unit names where the program is,
    // the man pages render cleanly, and the tree runs from there.
    std::string root = dir / "root";
    REQUIRE(sh("dpkg-deb -x " + deb + " " + root).code == 0);
    auto service = slurp(root + "/usr/lib/systemd/user/sequence.service");
    CHECK(service.find("\nExecStart=/usr/bin/seq-supervisor --run-dir %t/sequence\n") != std::string::npos);
    // Your own tree's unit, the same file for the system and a user.
    auto own = slurp(root + "/usr/lib/systemd/system/sequence@.service");
    CHECK(own == slurp(root + "/usr/lib/systemd/user/sequence@.service"));
    CHECK(own.find("\nExecStart=/usr/bin/seq-supervisor --run-dir %t/sequence-%i --config %E/sequence/%i.toml\n") !=
          std::string::npos);
    CHECK(own.find("\nExecReload=/usr/bin/seqctl --run-dir %t/sequence-%i reload\n") != std::string::npos);
    for (auto page : {"/usr/share/man/man1/seq-supervisor.1", "/usr/share/man/man1/seqctl.1",
                      "/usr/share/man/man1/seq-stash.1", "/usr/share/man/man1/seq-worker.1",
                      "/usr/share/man/man5/seq-tree.5", "/usr/share/man/man7/sequence-protocol.7"}) {
        CAPTURE(page);
        auto r = sh("groff -man -ww -z " + root + page + " 2>&1");
        CHECK(r.code == 0);
        CHECK(r.out.empty());
    }
    std::string run = dir / "run";
    Process sup({root + "/usr/bin/seq-supervisor", "--run-dir", run}, dir / "supervisor.log");
    INFO("supervisor log:\n", sup.log());
    REQUIRE(tree_running(run));
    auto next = sh(root + "/usr/bin/seqctl --run-dir " + run + " next");
    CHECK(next.code == 0);
    CHECK(next.out == "0\n");
    sup.signal(SIGTERM);
    CHECK(sup.exit_code() == 0);
}
