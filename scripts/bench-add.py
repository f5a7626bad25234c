#!/usr/bin/env python3
"""bench-add.py SOCKET PATH N CONNECTIONS: adds N children to the dynamic
supervisor at PATH through the control socket SOCKET (ADD PATH cK, on
CONNECTIONS connections, each with its requests pipelined), and prints the
microseconds from the first request to the last answer: every ADD answers
once its child runs. Exits 1 if any ADD is refused."""
import socket
import sys
import time


def command(*words):
    out = "*%d\r\n" % len(words)
    for w in words:
        out += "$%d\r\n%s\r\n" % (len(w.encode()), w)
    return out.encode()


def main():
    sock, path, n, conns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    links = []
    for _ in range(conns):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        links.append(s)
    start = time.monotonic()
    for k, s in enumerate(links):
        s.sendall(b"".join(command("ADD", path, "c%d" % i) for i in range(k, n, conns)))
    for k, s in enumerate(links):
        want, got = len(range(k, n, conns)), b""
        while got.count(b"\r\n") < want:
            more = s.recv(1 << 16)
            if not more:
                sys.exit("bench-add: the control socket closed with answers missing")
            got += more
        if got.count(b"+OK\r\n") != want:
            sys.exit("bench-add: refused: " + got.decode(errors="replace").split("\r\n")[0])
    print(int((time.monotonic() - start) * 1e6))


main()
