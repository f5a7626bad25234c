#!/usr/bin/env python3
"""bench-rate.py RATE ADDRESS...: HTTP load at a fixed rate, for scripts/bench's
upgrade row.

Eight clients share RATE requests per second, each on its own schedule:
four keep one keep-alive connection each (HTTP/1.1), four open a fresh
connection for every request. Several ADDRESSes (HOST:PORT) are spread over
the clients, one address per keep-alive client and in turn for the others.

A request's latency runs from the moment the schedule said to send it, not
from when it was sent, so a stall counts in full for every request it held
back (no coordinated omission). The clients never give up on the schedule:
after a stall they send what they owe at once.

On a reused keep-alive connection that is closed before any byte of a reply
(the server closed it while idle, as a server that stops does), the request
is sent again once on a new connection, as HTTP clients do with an
idempotent request; that counts as "retried", and the new attempt's outcome
is the request's.

It runs until stdin closes, then prints one line:
  OK REFUSED FAILED RETRIED P50_US P99_US MAX_US
answered (200 with a body), refused (nothing listening), failed (anything
else: cut, reset after a byte of reply, not 200, or 10 s without a reply),
retried, and the latencies of the answered requests in microseconds.
"""
import socket
import sys
import threading
import time

TIMEOUT = 10.0
lock = threading.Lock()
counts = {"ok": 0, "refused": 0, "failed": 0, "retried": 0}
latencies = []
stop = threading.Event()


class Cut(Exception):
    """The connection ended before a whole reply; `started` if any byte came."""

    def __init__(self, started):
        super().__init__("cut")
        self.started = started


def exchange(sock, reader):
    """One GET on an open connection: (ok, keep). Raises Cut or OSError."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    status = reader.readline()
    if not status:
        raise Cut(False)
    length, keep = None, True
    while True:
        line = reader.readline()
        if not line.endswith(b"\n"):
            raise Cut(True)
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value == b"close":
            keep = False
    if length is None:
        body, keep = reader.read(), False  # HTTP/1.0 style: to the close
    else:
        body = reader.read(length)
        if len(body) != length:
            raise Cut(True)
    fields = status.split()
    ok = len(fields) >= 2 and fields[0].startswith(b"HTTP/1.") and fields[1] == b"200" and len(body) > 0
    return ok, keep and status.startswith(b"HTTP/1.1")


class Client:
    def __init__(self, address, keep_alive):
        self.address, self.keep_alive = address, keep_alive
        self.sock = self.reader = None

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = self.reader = None

    def request(self, address):
        """One request's outcome: "ok", "refused" or "failed"."""
        for attempt in (1, 2):
            reused = self.sock is not None
            if not reused:
                try:
                    self.sock = socket.create_connection(address, timeout=TIMEOUT)
                except ConnectionRefusedError:
                    return "refused"
                except OSError:
                    return "failed"
                self.reader = self.sock.makefile("rb")
            try:
                ok, keep = exchange(self.sock, self.reader)
            except (Cut, OSError) as e:
                self.close()
                started = e.started if isinstance(e, Cut) else False
                if reused and not started and attempt == 1 and not isinstance(e, TimeoutError):
                    with lock:
                        counts["retried"] += 1
                    continue
                return "failed"
            if not (keep and self.keep_alive):
                self.close()
            return "ok" if ok else "failed"
        return "failed"


def run(k, clients, rate, addresses):
    keep_alive = k < clients // 2
    client = Client(addresses[k % len(addresses)], keep_alive)
    interval = clients / rate
    due = time.monotonic() + interval * k / clients  # the clients' sends interleave
    turn = k
    while not stop.is_set():
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        address = client.address if keep_alive else addresses[turn % len(addresses)]
        turn += 1
        outcome = client.request(address)
        took = time.monotonic() - due
        with lock:
            counts[outcome] += 1
            if outcome == "ok":
                latencies.append(took)
        due += interval
    client.close()


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: bench-rate.py RATE HOST:PORT...")
    rate = float(sys.argv[1])
    addresses = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in sys.argv[2:]]
    clients = 8
    threads = [threading.Thread(target=run, args=(k, clients, rate, addresses)) for k in range(clients)]
    for t in threads:
        t.start()
    sys.stdin.read()
    stop.set()
    for t in threads:
        t.join()
    us = sorted(int(x * 1e6) for x in latencies) or [0]
    pick = lambda p: us[min(len(us) - 1, max(0, -(-len(us) * p // 100) - 1))]
    print(counts["ok"], counts["refused"], counts["failed"], counts["retried"], pick(50), pick(99), us[-1], flush=True)


if __name__ == "__main__":
    main()
