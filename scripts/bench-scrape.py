#!/usr/bin/env python3
"""bench-scrape.py HOST:PORT PATH COUNT [PER_SECOND]: scrapes for scripts/bench.

GETs PATH COUNT times on one kept-alive connection, as Prometheus does, and
prints each request's time in microseconds, one a line. With PER_SECOND,
the requests are paced at that rate (a scraper's load, not all the CPU);
without, they go one after another. Exits 1 on any reply but 200."""
import http.client
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
path, count = sys.argv[2], int(sys.argv[3])
rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
conn = http.client.HTTPConnection(host, int(port), timeout=10)
start = time.monotonic()
for i in range(count):
    if rate:
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the load, not waiting for anything
    t = time.perf_counter()
    conn.request("GET", path)
    reply = conn.getresponse()
    reply.read()
    if reply.status != 200:
        sys.exit(f"bench-scrape: {path}: HTTP {reply.status}")
    print(int((time.perf_counter() - t) * 1e6))
