#!/usr/bin/env python3
"""The migration of scripts/web-app.py's count from one key of the stash to
another, as a rollout runs it (`migrate = [...]` in the tree file; seq-tree(5):
DEPLOYING): run once, with $SEQ_STASH, before the new
version's first instance starts. It copies, so that the old version still
finds its count if the rollout is rolled back.

    web-migrate.py FROM TO    copy FROM to TO, unless TO is there already

Exit 0 once TO holds the count; 1, with why, otherwise (nothing replaced).
"""
import os
import socket
import sys


def call(sock, reader, *args):
    frame = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    sock.sendall(frame)
    line = reader.readline()
    if line.startswith(b"$-1"):
        return None
    if line.startswith(b"$"):
        return reader.read(int(line[1:]) + 2)[:-2]
    if line.startswith(b"-"):
        sys.exit("web-migrate: the stash said %s" % line.decode().strip())
    return line[1:].strip()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: web-migrate.py FROM TO")
    # Under the tree's stash_acl, as the child it migrates: its user, and
    # its keys, which begin with that user's name and a colon.
    user = os.environ.get("SEQ_STASH_USER", "")
    source, target = ((user + ":" + a if user else a).encode() for a in sys.argv[1:])
    path = os.environ.get("SEQ_STASH")
    if not path:
        sys.exit("web-migrate: no $SEQ_STASH: the tree names no stash")
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    reader = sock.makefile("rb")
    if user:
        call(sock, reader, b"AUTH", user.encode(), os.environ.get("SEQ_STASH_PASSWORD", "").encode())
    value = call(sock, reader, b"GET", source)
    if value is not None:
        call(sock, reader, b"SETNX", target, value)
    print("copied %s=%s to %s (generation %s)" % (
        sys.argv[1], value.decode() if value else "(none)", sys.argv[2],
        os.environ.get("SEQ_GENERATION", "?")))


if __name__ == "__main__":
    main()
