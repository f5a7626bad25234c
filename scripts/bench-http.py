#!/usr/bin/env python3
"""bench-http.py CLIENTS ADDRESS...: steady HTTP load for scripts/bench.

CLIENTS threads each send GET / on a fresh connection, one request after
another, to the ADDRESSes (HOST:PORT) in turn: one address is one socket
that all of a pool's instances share, several are one port per process
behind the same client spread. It runs until stdin closes, then prints
"OK REFUSED FAILED": answered, refused (nothing listening), and taken but
cut before a whole reply (in flight in a process that died)."""
import socket
import sys
import threading

counts = {"ok": 0, "refused": 0, "failed": 0}
lock = threading.Lock()
stop = threading.Event()


def one(host, port):
    try:
        s = socket.create_connection((host, port), timeout=10)
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "failed"
    try:
        s.sendall(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
        reply = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0] or not body:
            return "failed"
        return "ok"
    except OSError:
        return "failed"
    finally:
        s.close()


def client(k, addresses):
    i = k
    while not stop.is_set():
        host, port = addresses[i % len(addresses)]
        i += 1
        outcome = one(host, port)
        with lock:
            counts[outcome] += 1


def main():
    clients = int(sys.argv[1])
    addresses = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in sys.argv[2:]]
    threads = [threading.Thread(target=client, args=(k, addresses)) for k in range(clients)]
    for t in threads:
        t.start()
    sys.stdin.read()
    stop.set()
    for t in threads:
        t.join()
    print(counts["ok"], counts["refused"], counts["failed"], flush=True)


if __name__ == "__main__":
    main()
