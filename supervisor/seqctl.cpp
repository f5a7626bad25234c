// seqctl: the command line for people and shell scripts.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "client.hpp"
#include "socket.hpp"

namespace {

namespace code {
constexpr int ok = 0;
constexpr int server_error = 1;
constexpr int usage = 2;
constexpr int connect = 3;
constexpr int io = 4;
}  // namespace code

const char* const exit_codes_help = R"(Exit codes:
  0  success
  1  the server replied with an error (printed on stderr)
  2  bad command line
  3  cannot connect (the message names the socket)
  4  the connection failed mid-call (closed, or no reply within --timeout))";

// Prints a reply for people and scripts: numbers and strings bare, one per line.
void print(const seq::resp::Value& v) {
    using T = seq::resp::Value::Type;
    switch (v.type) {
    case T::integer: std::printf("%lld\n", static_cast<long long>(v.integer)); break;
    case T::simple:
    case T::bulk: {
        std::string s = v.str;
        for (std::size_t i; (i = s.find("\r\n")) != std::string::npos;) s.erase(i, 1);
        std::fputs(s.c_str(), stdout);
        if (s.empty() || s.back() != '\n') std::fputc('\n', stdout);
        break;
    }
    case T::nil: std::puts("(nil)"); break;
    case T::array:
        for (const auto& e : v.elems) print(e);
        break;
    case T::error: std::fprintf(stderr, "%s\n", v.str.c_str()); break;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"seqctl: talk to a sequence tree (worker and supervisor) from a shell."};
    app.footer(exit_codes_help);
    app.require_subcommand(1);
    std::string run_dir;
    std::string socket;
    int timeout_ms = 5000;
    auto* rd = app.add_option("--run-dir", run_dir,
                              "the tree's run dir (default: $SEQUENCE_RUN_DIR, else $XDG_RUNTIME_DIR/sequence, "
                              "else /tmp/sequence-$UID)");
    app.add_option("--socket", socket, "the worker's socket, instead of <run dir>/sequence.sock")->excludes(rd);
    app.add_option("--timeout", timeout_ms, "milliseconds to wait for a reply")->capture_default_str()->check(
        CLI::PositiveNumber);

    std::vector<std::string> request;
    auto* next = app.add_subcommand("next", "hand out the current number and advance (prints it)");
    std::string delta;
    auto* increment = app.add_subcommand("increment", "add N to the sequence (prints the new current number)");
    increment->add_option("N", delta, "a non-negative integer")->required();
    auto* get = app.add_subcommand("get", "print the current number without changing it");
    auto* ping = app.add_subcommand("ping", "check that the worker answers");
    auto* info = app.add_subcommand("info", "the worker's state as key:value lines");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? code::ok : code::usage;
    }
    if (socket.empty()) socket = (run_dir.empty() ? seq::default_run_dir() : run_dir) + "/sequence.sock";

    if (*next) request = {"NEXT"};
    if (*increment) request = {"INCREMENT", delta};
    if (*get) request = {"GET"};
    if (*ping) request = {"PING"};
    if (*info) request = {"INFO"};

    try {
        seq::Client client(socket, std::chrono::milliseconds(timeout_ms));
        std::vector<std::string_view> args(request.begin(), request.end());
        auto reply = client.call(args);
        if (reply.is_error()) {
            std::fprintf(stderr, "seqctl: %s\n", reply.str.c_str());
            return code::server_error;
        }
        print(reply);
        return code::ok;
    } catch (const seq::ConnectError& e) {
        std::fprintf(stderr, "seqctl: cannot connect: %s\n", e.what());
        return code::connect;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "seqctl: %s\n", e.what());
        return code::io;
    }
}
