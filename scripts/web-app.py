#!/usr/bin/env python3
"""A small HTTP service to run under seq-supervisor: the app of the example
tree scripts/web-tree.toml, and the server the tests
kill. It serves on the listening socket its supervisor holds (fd 3, from
LISTEN_FDS), so that a connection made while it restarts waits in the
backlog; it says it is ready on $SEQ_NOTIFY_FD; and it keeps its hit counter
in the stash ($SEQ_STASH, INCR over the Redis protocol), so that the count
survives any kill -9 of any instance. With `standby = true` it follows the
standby protocol: started ahead, imports done, idle until activated.

GET /      -> "hits N index I pid P version V generation G"
              (I: $SEQ_INDEX in a pool; V: --version's, 1 by default;
              G: $SEQ_GENERATION, which grows with each new spec of it)
GET /slow  -> the same after 200 ms, for tests that kill a request in flight

--key K keeps the count under K in the stash ("hits" by default): a new
version that renames it runs scripts/web-migrate.py first (seq-tree(5):
DEPLOYING).

--break HOW makes a broken version, for the tests and examples of
rollouts (seq-tree(5): DEPLOYING): "exit" exits 1 at start,
"unready" never says it is ready (nor serves), "crash" exits 1 a second after it is
ready (between requests: what it had taken is answered).

It speaks HTTP/1.1 with keep-alive (not pipelining), and serves one request
at a time: one loop waits on the listening socket and the open connections,
and answers whichever request comes. A connection is taken when this loop
is free, and served at once if its request has come (a client that sends
nothing yet waits its turn, holding nothing up), so a kill -9 loses the
request being served and little else; what waits in the backlog is the
supervisor's socket's, and another instance serves it.

SIGTERM (a stop, a scale down, a restart) is graceful: no new connection is
taken, each keep-alive connection is closed after its next reply (which
says "Connection: close") or once it was idle for 0.1 s, and it exits 0. A
client that sent on a connection just as it was closed sees it closed
before any byte of a reply, and sends again, as HTTP clients do with an
idempotent request.
"""
import os
import select
import selectors
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler


class Stash:
    """INCR on the stash's Unix socket; reconnects after the stash restarts.
    Under the tree's stash_acl it logs in as the user the supervisor gave it
    ($SEQ_STASH_USER, $SEQ_STASH_PASSWORD), and its keys are its own: each
    one begins with that user's name and a colon (web:hits)."""

    def __init__(self, path):
        self.path, self.sock = path, None
        self.user = os.environ.get("SEQ_STASH_USER", "")
        self.password = os.environ.get("SEQ_STASH_PASSWORD", "")

    def login(self):
        u, p = self.user.encode(), self.password.encode()
        self.sock.sendall(b"*3\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(u), u, len(p), p))
        line = self.reader.readline()
        if not line.startswith(b"+OK"):
            raise OSError("the stash refused our login: %r" % line)

    def incr(self, key):
        for attempt in (1, 2):
            try:
                if self.sock is None:
                    self.sock = socket.socket(socket.AF_UNIX)
                    self.sock.connect(self.path)
                    self.reader = self.sock.makefile("rb")
                    if self.user:
                        self.login()
                k = (self.user + ":" + key if self.user else key).encode()
                self.sock.sendall(b"*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n" % (len(k), k))
                line = self.reader.readline()
                if line.startswith(b":"):
                    return int(line[1:])
                raise OSError("stash replied %r" % line)
            except OSError:
                self.sock = None
                if attempt == 2:
                    raise


class Handler(BaseHTTPRequestHandler):
    """One connection. The constructor answers its first request; the loop
    in serve() calls handle_one_request() for each one after it."""
    protocol_version = "HTTP/1.1"  # keep-alive, unless the client says otherwise
    # The head and the body are two writes: with Nagle's algorithm the body
    # would wait for the client's delayed ACK of the head (40 ms).
    disable_nagle_algorithm = True
    timeout = 1  # a client that stops halfway through its request is let go (the loop waits on it)

    def handle(self):
        self.close_connection = True
        self.handle_one_request()

    def finish(self):
        pass  # the connection outlives its first request: serve() closes it

    def end_headers(self):
        if self.server.stopping:
            self.send_header("Connection", "close")  # sets close_connection too
        super().end_headers()

    def do_GET(self):
        if self.path == "/slow":
            time.sleep(0.2)
        try:
            hits = self.server.stash.incr(self.server.key) if self.server.stash else self.server.count + 1
            self.server.count = hits
        except OSError as e:
            self.send_error(503, "stash unreachable: %s" % e)
            return
        body = ("hits %d index %s pid %d version %s generation %s\n" % (
            hits, os.environ.get("SEQ_INDEX", "-"), os.getpid(), self.server.version,
            os.environ.get("SEQ_GENERATION", "-"))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass  # one line per request would drown the supervisor's log


def standby(notify_fd):
    """The standby protocol (sequence-protocol(7)): idle until activated, then the
    listening socket comes in the activation message. None: told to stop."""
    channel = socket.socket(fileno=int(os.environ.pop("SEQ_STANDBY_FD")))
    os.write(notify_fd, b"standby\n")
    names, ancillary, _, _ = channel.recvmsg(4096, socket.CMSG_SPACE(64 * 4))
    fds = []
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += list(memoryview(data).cast("i"))
    if not names or not fds:
        return None
    return fds[0]


def option(name, default):
    """--name VALUE from the command line, else `default`."""
    args = sys.argv[1:]
    for i in range(len(args) - 1):
        if args[i] == name:
            return args[i + 1]
    return default


def main():
    notify_fd = int(os.environ.pop("SEQ_NOTIFY_FD", "-1"))
    broken = option("--break", None)
    if broken == "exit":
        sys.exit("web-app: broken on purpose (--break exit)")
    if "SEQ_STANDBY_FD" in os.environ:
        fd = standby(notify_fd)
        if fd is None:
            return
    elif os.environ.get("LISTEN_PID") == str(os.getpid()) and int(os.environ.get("LISTEN_FDS", "0")) >= 1:
        fd = 3
    elif option("--port", None):
        # For a supervisor that holds no socket (scripts/bench runs it under
        # supervisord): bound here, and gone with each death.
        own = socket.socket()
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        own.bind(("127.0.0.1", int(option("--port", None))))
        own.listen(4096)
        fd = own.detach()
    else:
        sys.exit("web-app: no listening socket handed over (LISTEN_FDS): run it under seq-supervisor "
                 "(or give --port N to bind 127.0.0.1:N itself)")
    listener = socket.socket(fileno=fd)
    # Another instance may take the connection the loop saw: the accept then
    # fails at once (and is let go) instead of waiting for the next one.
    listener.setblocking(False)
    app = App(listener)
    signal.signal(signal.SIGTERM, lambda *_: setattr(app, "stopping", True))
    if notify_fd >= 0 and broken != "unready":
        os.write(notify_fd, b"\n")
        os.close(notify_fd)
    while broken == "unready" and not app.stopping:
        time.sleep(0.1)  # stuck before it serves: it takes no connection
    crash_at = time.monotonic() + 1.0 if broken == "crash" else None
    app.serve(crash_at)
    if crash_at is not None and time.monotonic() >= crash_at:
        sys.exit("web-app: crashing on purpose, a second after it was ready (--break crash)")


class App:
    """The state the requests share, and the loop that serves them."""

    def __init__(self, listener):
        self.listener, self.stopping, self.count = listener, False, 0
        stash = os.environ.get("SEQ_STASH")
        self.stash = Stash(stash) if stash else None
        self.version = option("--version", "1")
        self.key = option("--key", "hits")  # where the count is kept in the stash
        self.selector = selectors.DefaultSelector()

    def serve(self, until):
        """Until SIGTERM (or `until`, a time.monotonic()): a new connection's
        first request, or the next request of an open one, one at a time."""
        self.selector.register(self.listener, selectors.EVENT_READ)
        while not self.stopping and (until is None or time.monotonic() < until):
            for key, _ in self.selector.select(0.1):  # 0.1 s: how soon a SIGTERM is seen
                self.step(key)
        self.selector.unregister(self.listener)
        # Each open connection closes after its next reply (which says so),
        # or once it was idle for 0.1 s: a busy client is told, not raced.
        self.stopping = True
        while self.selector.get_map():
            ready = self.selector.select(0.1)
            if not ready:
                break
            for key, _ in ready:
                self.step(key)
        for key in list(self.selector.get_map().values()):
            if isinstance(key.data, Handler):
                self.close(key.data)
            else:  # taken, and silent since
                self.selector.unregister(key.fileobj)
                key.fileobj.close()

    def step(self, key):
        if key.fileobj is self.listener:
            try:
                connection, peer = self.listener.accept()
            except OSError:
                return
            connection.setblocking(True)
            if not select.select([connection], [], [], 0.05)[0]:
                self.selector.register(connection, selectors.EVENT_READ, peer)  # served when it speaks
                return
            self.first(connection, peer)
            return
        if not isinstance(key.data, Handler):
            self.selector.unregister(key.fileobj)
            self.first(key.fileobj, key.data)
            return
        handler = key.data
        try:
            handler.handle_one_request()
        except OSError:
            handler.close_connection = True
        if handler.close_connection:
            self.close(handler)

    def first(self, connection, peer):
        """A new connection's first request (the Handler answers it as it is made)."""
        try:
            handler = Handler(connection, peer, self)
        except OSError:  # the client went away mid-request
            connection.close()
            return
        if handler.close_connection:
            self.close(handler)
        else:
            self.selector.register(connection, selectors.EVENT_READ, handler)

    def close(self, handler):
        try:
            self.selector.unregister(handler.connection)
        except (KeyError, ValueError):
            pass
        try:
            handler.wfile.flush()
        except OSError:
            pass
        handler.connection.close()

if __name__ == "__main__":
    main()
