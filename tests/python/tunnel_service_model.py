#!/usr/bin/env python3
"""tunnel_service_model.py - a small, independent model of OpenAI's tunnel service, written from
its contract (the protocol notes in the steering repository, section 2 and 3; tunnel-client's
docs/protocol.md and openapi.json), not from harpoon's edge. Standard library only.

Control side (what a tunnel client calls; Bearer key, `Accept: application/json` required):
  GET  /v1/tunnels/{id}            metadata {id, name, description}
  GET  /v1/tunnels/{id}/poll       limit 1..25, timeout_ms >= 1; 200 {"commands": [...]}, and
                                   200 {"commands": []} when nothing came in the wait (the form
                                   OpenAI's own mock uses), the wait capped at 5 s
  POST /v1/tunnels/{id}/response   X-Tunnel-Shard-Token must be the command's (else 401
                                   tunnel_request_mismatch); the body's fields are the schema's
                                   only; resp_code required; unknown or answered request -> 404
Connector side (what an MCP client calls):
  POST   /v1/mcp/{id}   one JSON-RPC message -> a `jsonrpc` command with the caller's headers
                        minus a blocklist; the caller gets the final answer with resp_code as its
                        status and the allowlisted headers, or, when it accepts
                        text/event-stream, the jsonrpc_notify posts as SSE events first
  DELETE /v1/mcp/{id}   with Mcp-Session-Id -> `session_termination`; without -> 400
Test hooks (under /_model/, no key): queue raw commands as one batch, script the next poll's
answer (a 429 with Retry-After, a 401), read the polls and the posts received.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Connector headers never copied into a command (hop-by-hop, framing, identity, spoofing).
BLOCKED = {
    "host", "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
    "proxy-authorization", "proxy-connection", "content-length", "content-type",
    "accept-encoding", "cookie", "user-agent", "openai-organization", "forwarded", "x-real-ip",
}
BLOCKED_PREFIXES = ("x-forwarded-", "x-openai-", "x-tunnel-")
# Reply headers relayed to the connector, matched case-insensitively.
RELAYED = {"mcp-session-id", "mcp-protocol-version", "www-authenticate"}
REPLY_FIELDS = {"request_id", "channel", "resp_json", "resp_headers", "resp_code", "resp_type"}
TERMINAL = {"jsonrpc_response", "notify_ack", "session_termination_response", "oauth_discovery_response"}
CALL_TIMEOUT = 30.0
MAX_POLL_WAIT = 5.0


class Pending:
    def __init__(self, command: dict[str, Any]) -> None:
        self.command = command
        self.notes: list[dict[str, Any]] = []
        self.final: dict[str, Any] | None = None


class Model:
    def __init__(self, tunnel_id: str, key: str) -> None:
        self.tunnel_id = tunnel_id
        self.key = key
        self.lock = threading.Condition()
        self.queue: list[list[dict[str, Any]]] = []  # batches, each delivered whole
        self.pending: dict[str, Pending] = {}
        self.posts: list[dict[str, Any]] = []  # {"shard": str, "body": dict}
        self.polls: list[dict[str, Any]] = []  # {"at": float, "query": str}
        self.scripted: list[tuple[int, dict[str, str], bytes]] = []

    def command(self, kind: str, headers: dict[str, list[str]], jsonrpc: Any = None) -> dict[str, Any]:
        c: dict[str, Any] = {
            "request_id": "req_" + secrets.token_hex(8),
            "shard_token": "shard_" + secrets.token_hex(16),
            "command_type": kind,
            "channel": "main",
            "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "response_timeout": "30s",
            "headers": headers,
        }
        if jsonrpc is not None:
            c["jsonrpc"] = jsonrpc
        return c

    def enqueue(self, batch: list[dict[str, Any]]) -> list[Pending]:
        with self.lock:
            out = []
            for c in batch:
                if isinstance(c, dict) and isinstance(c.get("request_id"), str):
                    p = Pending(c)
                    self.pending[c["request_id"]] = p
                    out.append(p)
            self.queue.append(batch)
            self.lock.notify_all()
            return out

    def take(self, limit: int, wait: float) -> list[dict[str, Any]] | None:
        deadline = time.monotonic() + wait
        with self.lock:
            while not self.queue:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self.lock.wait(left)
            # A batch queued as one (the test hooks) is delivered whole, whatever `limit` says:
            # the contract has the client run everything an answer holds.
            if len(self.queue[0]) > 1:
                return self.queue.pop(0)
            out = []
            while self.queue and len(out) < limit and len(self.queue[0]) == 1:
                out += self.queue.pop(0)
            return out

    def wait_final(self, p: Pending, timeout: float, on_note=None) -> dict[str, Any] | None:
        """The final answer (None past `timeout`); notifications go to `on_note` in order, the
        lock released while each is written."""
        deadline = time.monotonic() + timeout
        sent = 0
        with self.lock:
            while True:
                while on_note is not None and sent < len(p.notes):
                    note = p.notes[sent]
                    sent += 1
                    self.lock.release()
                    try:
                        on_note(note)
                    finally:
                        self.lock.acquire()
                # Checked after every release: a final that came meanwhile is not waited for.
                if p.final is not None:
                    return p.final
                if on_note is not None and sent < len(p.notes):
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(left)


def forwarded(headers) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers.items():
        n = name.lower()
        if n in BLOCKED or n.startswith(BLOCKED_PREFIXES):
            continue
        out.setdefault(n, []).append(value)
    return out


def handler_for(model: Model):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def error(self, status: int, code: str, message: str) -> None:
            self.send_json(status, {"error": {"message": message, "type": "invalid_request_error",
                                              "param": None, "code": code}})

        def body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def path_parts(self) -> tuple[list[str], dict[str, list[str]]]:
            from urllib.parse import parse_qs, urlsplit
            u = urlsplit(self.path)
            return [p for p in u.path.split("/") if p], parse_qs(u.query)

        def authorized(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {model.key}":
                self.error(401, "tunnel_use_forbidden", "the key is wrong or lacks tunnel use")
                return False
            if self.headers.get("Accept") != "application/json":
                self.error(400, "invalid_request_error", "Accept must be application/json")
                return False
            return True

        def do_GET(self) -> None:
            parts, query = self.path_parts()
            if parts[:1] == ["_model"]:
                with model.lock:
                    self.send_json(200, {"posts": model.posts, "polls": model.polls})
                return
            if parts[:2] == ["v1", "mcp"]:
                self.send_response(405)
                self.send_header("Allow", "POST, DELETE")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if parts[:2] != ["v1", "tunnels"] or len(parts) < 3:
                return self.error(404, "not_found", "no such endpoint")
            if not self.authorized():
                return
            if parts[2] != model.tunnel_id:
                return self.error(404, "tunnel_not_found", "no such tunnel")
            if len(parts) == 3:
                return self.send_json(200, {"id": model.tunnel_id, "name": "model", "description": None})
            if parts[3:] != ["poll"]:
                return self.error(404, "not_found", "no such endpoint")
            with model.lock:
                model.polls.append({"at": time.time(), "query": self.path.split("?", 1)[-1]})
                scripted = model.scripted.pop(0) if model.scripted else None
            if scripted:
                status, headers, body = scripted
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            try:
                limit = int(query.get("limit", ["25"])[0])
                wait_ms = int(query.get("timeout_ms", ["30000"])[0])
            except ValueError:
                return self.error(400, "invalid_request_error", "limit and timeout_ms are integers")
            if not 1 <= limit <= 25 or wait_ms < 1:
                return self.error(400, "invalid_request_error", "limit 1..25, timeout_ms >= 1")
            commands = model.take(limit, min(wait_ms / 1000, MAX_POLL_WAIT))
            self.send_json(200, {"commands": commands}, {"X-Request-Id": "poll_" + secrets.token_hex(4)})

        def do_POST(self) -> None:
            parts, _ = self.path_parts()
            raw = self.body()
            if parts[:1] == ["_model"]:
                return self.model_hook(parts[1:], json.loads(raw or b"{}"))
            if parts[:2] == ["v1", "mcp"] and len(parts) == 3:
                return self.connector_post(parts[2], raw)
            if parts[:2] != ["v1", "tunnels"] or parts[3:] != ["response"]:
                return self.error(404, "not_found", "no such endpoint")
            if not self.authorized():
                return
            if self.headers.get("Content-Type") != "application/json":
                return self.error(400, "invalid_request_error", "Content-Type must be application/json")
            try:
                reply = json.loads(raw)
            except ValueError:
                return self.error(400, "invalid_request_error", "not JSON")
            if not isinstance(reply, dict) or set(reply) - REPLY_FIELDS or "resp_code" not in reply \
                    or not isinstance(reply.get("request_id"), str):
                return self.error(400, "invalid_request_error", "not a TunnelResponsePayload")
            shard = self.headers.get("X-Tunnel-Shard-Token")
            with model.lock:
                p = model.pending.get(reply["request_id"])
                if p is None or p.final is not None:
                    return self.error(404, "pending_request_not_found", "answered, expired or unknown")
                if shard != p.command.get("shard_token"):
                    return self.error(401, "tunnel_request_mismatch", "wrong shard token")
                model.posts.append({"shard": shard, "body": reply})
                if reply.get("resp_type", "jsonrpc_response") in TERMINAL:
                    p.final = reply
                else:
                    p.notes.append(reply)
                model.lock.notify_all()
            self.send_json(200, {"status": "ok"})

        def model_hook(self, what: list[str], body: dict[str, Any]) -> None:
            if what == ["commands"]:
                model.enqueue(body["commands"])
                return self.send_json(200, {"queued": len(body["commands"])})
            if what == ["next_poll"]:
                with model.lock:
                    model.scripted.append((body["status"], body.get("headers", {}),
                                           json.dumps(body.get("body", {})).encode()))
                return self.send_json(200, {})
            self.error(404, "not_found", "no such hook")

        def connector_post(self, tunnel_id: str, raw: bytes) -> None:
            if tunnel_id != model.tunnel_id:
                return self.error(404, "tunnel_not_found", "no such tunnel")
            try:
                message = json.loads(raw)
            except ValueError:
                return self.send_json(400, {"jsonrpc": "2.0", "id": None,
                                            "error": {"code": -32700, "message": "parse error"}})
            if "method" not in message:
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            [p] = model.enqueue([model.command("jsonrpc", forwarded(self.headers), message)])
            streams = "text/event-stream" in (self.headers.get("Accept") or "") and "id" in message
            self.answer(p, streams)

        def do_DELETE(self) -> None:
            parts, _ = self.path_parts()
            if parts[:2] != ["v1", "mcp"] or parts[2:] != [model.tunnel_id]:
                return self.error(404, "not_found", "no such endpoint")
            if not self.headers.get("Mcp-Session-Id"):
                return self.error(400, "missing_mcp_session_id", "DELETE needs Mcp-Session-Id")
            [p] = model.enqueue([model.command("session_termination", forwarded(self.headers))])
            self.answer(p, False)

        def answer(self, p: Pending, streams: bool) -> None:
            started = False

            def on_note(note: dict[str, Any]) -> None:
                nonlocal started
                if not streams:
                    return  # a caller without an event stream gets the final answer alone
                if not started:
                    started = True
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.relay(note)
                    self.send_header("Connection", "close")
                    self.end_headers()
                self.wfile.write(f"event: message\ndata: {json.dumps(note['resp_json'])}\n\n".encode())
                self.wfile.flush()

            final = model.wait_final(p, CALL_TIMEOUT, on_note)
            if started:
                if final is not None and final.get("resp_json") is not None:
                    self.wfile.write(f"event: message\ndata: {json.dumps(final['resp_json'])}\n\n".encode())
                self.close_connection = True
                return
            if final is None:
                return self.send_json(504, {"jsonrpc": "2.0", "id": None,
                                            "error": {"code": -32000, "message": "the tunnel did not answer"}})
            data = json.dumps(final["resp_json"]).encode() if final.get("resp_json") is not None else b""
            self.send_response(final["resp_code"])
            if data:
                self.send_header("Content-Type", "application/json")
            self.relay(final)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def relay(self, reply: dict[str, Any]) -> None:
            for name, values in (reply.get("resp_headers") or {}).items():
                if name.lower() in RELAYED:
                    for v in values:
                        self.send_header(name, v)

    return Handler


def start(tunnel_id: str, key: str) -> tuple[Model, ThreadingHTTPServer]:
    """Starts the model on an ephemeral loopback port, in a daemon thread."""
    model = Model(tunnel_id, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(model))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return model, server
