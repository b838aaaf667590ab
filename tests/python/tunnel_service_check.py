#!/usr/bin/env python3
"""tunnel_service_check.py - `harpoon tunnel` against a tunnel service, driven by the official
Python MCP SDK (mcp 2.x, through mcp_client_check.py) and by raw commands.

  --against model   the independent Python model of OpenAI's service (tunnel_service_model.py):
                    both protocol eras (read, write, denial, progress relayed), a notification
                    acked, a session termination, a command on channel `harpoon` answered
                    unsupported, a batch whose malformed commands do not stop their siblings, a
                    numeric response_timeout, a 429 with an HTTP-date Retry-After, a 401 that
                    stops the tunnel (exit status 1).
  --against edge    `harpoon edge`: the same, as far as a connector can cause it (the edge never
                    sends a bad batch, another channel, a numeric timeout or a 429; those are
                    listed as not applicable).

Needs the demo API on 127.0.0.1:8789 (`harpoon serve --demo`), as tests/python/run.sh starts it.
Every process it starts is stopped at the end; every wait is bounded. Exit 0 = all passed.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tunnel_service_model  # noqa: E402

TUNNEL_ID = "tunnel_" + "0123456789abcdef" * 2
KEY = "model-key_0123456789"
passed = failed = 0
children: list[subprocess.Popen] = []


def check(ok: bool, what: str, detail: Any = "") -> None:
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {what}")
    else:
        failed += 1
        print(f"FAIL {what}: {detail}")


def wait_for(cond, what: str, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    check(False, f"waited for {what}", f"not within {seconds} s")
    return False


def tunnel(harpoon: str, edge: str, key: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "HARPOON_TUNNEL_TOKEN", "HARPOON_EDGE", "HARPOON_TUNNEL_PROXY")}
    env["CONTROL_PLANE_API_KEY"] = key
    p = subprocess.Popen(
        [harpoon, "tunnel", "--allowlist", "allowlists/demo.yaml", "--edge", edge,
         "--tunnel-id", TUNNEL_ID, "--health-listen", "127.0.0.1:0", "--poll-timeout", "2s",
         "--log", "warn"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    children.append(p)
    return p


def sdk(python: str, url: str) -> None:
    for mode, version in (("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")):
        r = subprocess.run(
            [python, os.path.join(HERE, "mcp_client_check.py"), "--transport", "http", "--url", url,
             "--mode", mode, "--expect-version", version, "--spec", os.path.join(HERE, "demo.json")],
            capture_output=True, text=True, timeout=120)
        tail = r.stdout.strip().splitlines()[-1:] or ["no output"]
        check(r.returncode == 0, f"the Python SDK, {mode} era: read, write, denials, progress ({tail[0]})",
              r.stdout + r.stderr)


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def refused_with_401(p: subprocess.Popen) -> None:
    try:
        code = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        code = None
    err = p.stderr.read() if p.stderr else ""
    check(code == 1, "a 401 stops the tunnel with exit status 1", f"exit {code}: {err}")
    check("lacks Tunnels Use" in err, "and says the key is wrong or lacks Tunnels Use", err)


def against_model(harpoon: str, python: str) -> None:
    model, server = tunnel_service_model.start(TUNNEL_ID, KEY)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    p = tunnel(harpoon, base, KEY)
    if not wait_for(lambda: len(model.polls) > 0, "the first poll"):
        return
    first = model.polls[0]["query"]
    check("limit=" in first and "timeout_ms=" in first and "timeout_ms=0" not in first,
          "polls send limit and timeout_ms >= 1", first)
    sdk(python, f"{base}/v1/mcp/{TUNNEL_ID}")
    acks = [x["body"] for x in model.posts if x["body"].get("resp_type") == "notify_ack"]
    check(any(a["resp_code"] == 202 and "resp_json" not in a for a in acks),
          "the SDK's notifications/initialized is acked (notify_ack 202, no resp_json)", acks)
    notes = [x["body"] for x in model.posts if x["body"].get("resp_type") == "jsonrpc_notify"]
    check(len(notes) >= 3, "progress was posted as jsonrpc_notify", len(notes))

    def cmd(rid: str, **extra: Any) -> dict[str, Any]:
        c = {"request_id": rid, "shard_token": f"shard-{rid}", "command_type": "jsonrpc", "channel": "main",
             "created_at": "2026-01-01T00:00:00Z", "headers": {}}
        c.update(extra)
        return c

    batch = [
        cmd("b-note", jsonrpc={"jsonrpc": "2.0", "method": "notifications/initialized"}),
        cmd("b-term", command_type="session_termination", headers={"Mcp-Session-Id": ["s-1"]}),
        cmd("b-chan", channel="harpoon", jsonrpc={"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        {"request_id": "b-bad", "command_type": "jsonrpc", "jsonrpc": {"jsonrpc": "2.0", "id": 4, "method": "ping"}},
        cmd("b-unknown", command_type="teleport"),
        cmd("b-num", response_timeout=5,
            jsonrpc={"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                     "params": {"name": "demo_get_item", "arguments": {"id": "1"}}}),
    ]
    model.enqueue(batch)

    def final(rid: str) -> dict[str, Any] | None:
        with model.lock:
            for x in model.posts:
                if x["body"]["request_id"] == rid and x["body"].get("resp_type") != "jsonrpc_notify":
                    return x
        return None

    wait_for(lambda: all(final(r) for r in ("b-note", "b-term", "b-chan", "b-num")), "the batch's answers")
    note, term, chan, num = (final(r) or {"body": {}, "shard": None} for r in ("b-note", "b-term", "b-chan", "b-num"))
    check(note["body"].get("resp_type") == "notify_ack" and note["body"].get("resp_code") == 202
          and note["shard"] == "shard-b-note", "a notification command is acked with its shard token", note)
    check(term["body"].get("resp_type") == "session_termination_response" and term["body"].get("resp_code") == 405
          and "resp_json" not in term["body"], "a session termination is answered 405 (harpoon keeps no session)", term)
    err = (chan["body"].get("resp_json") or {}).get("error", {})
    check(chan["body"].get("resp_code") == 400 and err.get("code") == -32603
          and 'unsupported channel "harpoon"' in err.get("message", ""),
          "a command on channel harpoon is answered unsupported, never run", chan)
    body = ((num["body"].get("resp_json") or {}).get("result") or {}).get("structuredContent", {})
    check(num["body"].get("resp_code") == 200 and body.get("status") == 200,
          "a numeric response_timeout fails open: the call runs", num)
    check(final("b-bad") is None and final("b-unknown") is None,
          "the malformed and unknown commands get no post, and their siblings all ran")

    # A 429 with an HTTP-date Retry-After: the next poll waits for that date.
    retry_at = time.time() + 2
    with model.lock:
        model.scripted.append((429, {"Retry-After": email.utils.formatdate(retry_at, usegmt=True)},
                               b'{"error":{"code":"rate_limit_exceeded"}}'))
        seen = len(model.polls)
    wait_for(lambda: len(model.polls) >= seen + 2, "a poll after the 429")
    with model.lock:
        refused_at, next_at = model.polls[seen]["at"], model.polls[seen + 1]["at"] if len(model.polls) > seen + 1 else 0
    check(next_at >= int(retry_at), "after a 429 the next poll comes no earlier than its HTTP-date Retry-After",
          f"429 at {refused_at:.2f}, next poll at {next_at:.2f}, Retry-After {int(retry_at)}")
    model.enqueue([cmd("after-429", jsonrpc={"jsonrpc": "2.0", "id": 7, "method": "ping"})])
    wait_for(lambda: final("after-429") is not None, "an answer after the 429")
    check(final("after-429") is not None, "the tunnel works on after the 429")

    with model.lock:
        model.scripted.append((401, {"Content-Type": "application/json"},
                               b'{"error":{"code":"tunnel_use_forbidden","message":"no"}}'))
    refused_with_401(p)
    server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def against_edge(harpoon: str, python: str) -> None:
    port = free_port()
    env = dict(os.environ, HARPOON_TUNNEL_TOKEN=KEY)
    edge = subprocess.Popen([harpoon, "edge", "--listen", f"127.0.0.1:{port}", "--tunnel", TUNNEL_ID, "--log", "warn"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    children.append(edge)
    base = f"http://127.0.0.1:{port}"

    def connected() -> bool:
        if edge.poll() is not None:
            return True
        try:
            return "harpoon_edge_tunnels_connected 1" in http("GET", f"{base}/metrics")[1]
        except OSError:
            return False

    p = tunnel(harpoon, base, KEY)
    if not wait_for(connected, "the tunnel to connect to the edge") or edge.poll() is not None:
        check(False, "harpoon edge runs", edge.stderr.read() if edge.stderr else "")
        return
    url = f"{base}/v1/mcp/{TUNNEL_ID}"
    sdk(python, url)
    status, body = http("POST", url, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                        {"Content-Type": "application/json"})
    check(status == 202 and body == "", "a notification is acked: 202 from the tunnel's notify_ack", (status, body))
    status, _ = http("DELETE", url, None, {"Mcp-Session-Id": "s-1"})
    check(status == 405, "DELETE with a session is a session_termination, answered 405", status)
    status, body = http("DELETE", url)
    check(status == 400 and "missing_mcp_session_id" in body, "DELETE without a session is refused 400", body)
    for what in ("a batch with malformed commands", "a command on channel harpoon",
                 "a numeric response_timeout", "a 429 with Retry-After"):
        print(f"N/A  {what}: harpoon edge never sends it (covered against the model)")
    refused_with_401(tunnel(harpoon, base, "wrong-key"))
    p.terminate()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--harpoon", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--against", choices=["model", "edge"], required=True)
    a = ap.parse_args()
    try:
        (against_model if a.against == "model" else against_edge)(a.harpoon, a.python)
    finally:
        for c in children:
            if c.poll() is None:
                c.terminate()
                try:
                    c.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    c.kill()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
