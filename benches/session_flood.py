#!/usr/bin/env python3
"""RSS of `harpoon serve` before and after a flood of MCP `initialize` POSTs (issue 12, item 10).

Usage: python3 benches/session_flood.py [HARPOON_BINARY] [COUNT] [-- EXTRA SERVE FLAGS...]

Starts `harpoon serve --demo` on a free loopback port, reads its RSS from /proc, sends COUNT
(default 5000) 2025-11-25 `initialize` requests over one kept-alive connection, waits a moment
for the sessions to settle, reads RSS again, and prints both with the status codes seen. The
server is stopped at the end. Only 127.0.0.1 is contacted. Standard library only.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1 :]
    binary = args[0] if args else "target/release/harpoon"
    count = int(args[1]) if len(args) > 1 else 5000
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve", "--demo", "--listen", f"127.0.0.1:{port}", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 20
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                sys.exit("harpoon did not become ready")
            time.sleep(0.05)
        time.sleep(0.5)
        before = rss_kib(server.pid)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        statuses = {}
        for i in range(count):
            body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "flood", "version": "1"}}})
            conn.request("POST", "/mcp", body, {
                "content-type": "application/json",
                "accept": "application/json, text/event-stream"})
            r = conn.getresponse()
            r.read()
            statuses[r.status] = statuses.get(r.status, 0) + 1
        time.sleep(1.0)
        after = rss_kib(server.pid)
        print(json.dumps({"initialize_posts": count, "statuses": statuses,
                          "rss_before_kib": before, "rss_after_kib": after,
                          "rss_added_mib": round((after - before) / 1024, 1),
                          "extra_flags": extra}))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
