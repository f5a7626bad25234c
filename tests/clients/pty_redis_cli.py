#!/usr/bin/env python3
"""redis-cli as a person uses it: interactive, in a terminal (a pty, 80x24,
TERM=xterm, so linenoise edits the line as it does at a real prompt), driven by
tests/integration/real_clients_test.cpp.

    pty_redis_cli.py SOCKET

It types at the prompt, reads what redis-cli shows, and prints one line per
answer, "<context> <COMMAND> <answer>" ("plain NEXT (integer) 0"; a
transaction's EXEC answers each command on a line of its own, "1) (integer)
15", printed as "multi NEXT (integer) 15"); then "resp N" from CLIENT INFO,
then "ready", and waits for "go" on stdin: meanwhile the test kills the worker
with -9 and starts another. Then it types again; the first command after the
kill finds the connection gone ("not connected>"), and it types it again, as
a person would: redis-cli reconnects. Then "done"; on the next line or end of
stdin it types exit and waits for redis-cli to leave.

What went on in the terminal goes to stderr (the test's log of this client).
"""
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
PROMPT = re.compile(r"^(redis \S+?( ?\(TX\))?|not connected)> $")


def log(*what):
    print(*what, file=sys.stderr, flush=True)


def out(line):
    print(line, flush=True)


class Cli:
    def __init__(self, socket):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            env = dict(os.environ, TERM="xterm", REDISCLI_HISTFILE="/dev/null", REDISCLI_RCFILE="/dev/null")
            os.execvpe("redis-cli", ["redis-cli", "-s", socket], env)
        # A terminal's size, as a real one has: linenoise asks the kernel for it.
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.prompt = self.read_screen()[-1]

    def read_screen(self, answered=False, deadline=10.0):
        """What redis-cli shows until it prompts again: its lines, escapes
        taken out, the prompt last; once `answered`, a prompt on a line of
        its own, after the line being edited."""
        raw = b""
        until = time.monotonic() + deadline
        while True:
            text = ESCAPE.sub(b"", raw).decode(errors="replace")
            lines = text.split("\r\n")
            if (len(lines) > 1 or not answered) and PROMPT.match(lines[-1].split("\r")[-1]):
                log(repr(raw))
                lines[-1] = lines[-1].split("\r")[-1]
                return lines
            left = until - time.monotonic()
            if left <= 0:
                log(repr(raw))
                raise TimeoutError("no prompt from redis-cli; it showed: %r" % text)
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise EOFError("redis-cli ended; it showed: %r" % text)
                raw += chunk

    def type(self, command):
        """Types `command` and Enter; returns the answer's lines."""
        os.write(self.fd, command.encode() + b"\r")
        lines = self.read_screen(answered=True)
        self.prompt = lines[-1]
        # lines[0] is the line being edited, Enter included; the answer follows.
        return lines[1:-1]

    def type_until_connected(self, command):
        """As type(), typed again while redis-cli says it is not connected."""
        for _ in range(5):
            answer = self.type(command)
            if not self.prompt.startswith("not connected"):
                return answer
            log("not connected after %r: %r; typing it again" % (command, answer))
        raise RuntimeError("redis-cli stays not connected")


def main():
    if len(sys.argv) != 2:
        print("usage: pty_redis_cli.py SOCKET", file=sys.stderr)
        return 2
    cli = Cli(sys.argv[1])

    def plain(command, name=None, until_connected=False):
        answer = (cli.type_until_connected if until_connected else cli.type)(command)
        out("plain %s %s" % (name or command, " | ".join(answer)))

    plain("NEXT")
    plain("NEXT")
    plain("INCREMENT 5", "INCREMENT")
    plain("GET")
    queued = [cli.type(c) for c in ("MULTI", "NEXT", "INCREMENT 5", "GET")]
    if queued != [["OK"], ["QUEUED"], ["QUEUED"], ["QUEUED"]]:
        out("multi queued %r" % queued)
    answer = cli.type("EXEC")
    names = ["NEXT", "INCREMENT", "GET"]
    if len(answer) == len(names) and all(a.startswith("%d) " % (i + 1)) for i, a in enumerate(answer)):
        for name, a in zip(names, answer):
            out("multi %s %s" % (name, a.split(") ", 1)[1]))
    else:
        out("multi EXEC %s" % " | ".join(answer))
    info = " ".join(cli.type("CLIENT INFO"))
    m = re.search(r"\bresp=(\d)", info)
    out("resp %s" % (m.group(1) if m else info))
    out("ready")
    if sys.stdin.readline().strip() != "go":
        return 0
    plain("NEXT", until_connected=True)
    plain("INCREMENT 5", "INCREMENT")
    plain("GET")
    out("done")
    sys.stdin.readline()
    os.write(cli.fd, b"exit\r")
    _, status = os.waitpid(cli.pid, 0)
    return 0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
