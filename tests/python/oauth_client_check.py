#!/usr/bin/env python3
"""oauth_client_check.py - the official Python MCP SDK (mcp 2.x) with a bearer token against
`harpoon serve` as an OAuth 2.1 resource server. Exit 0 = every check passed.

Everything is real and on 127.0.0.1, made by this script:
  - a test authorization server: ES256, RS256 and PS256 signing keys generated at start
    (cryptography), its RFC 8414 metadata and JWKS served, access tokens minted per check (PyJWT),
    and an RFC 7662 introspection endpoint for the opaque tokens it mints;
  - an upstream API that records every request (GET /items/<id>, and an /admin canary);
  - `harpoon serve --allowlist <generated file>` on a free port, its `authorization` section
    naming the issuer.
The SDK's own HTTP client (httpx2) carries `Authorization: Bearer ...`; a response hook records
each status and `WWW-Authenticate` the SDK received, so the checks see exactly what the SDK saw.

Checks, in the 2025-11-25 (legacy, sessions) and 2026-07-28 modes, against `harpoon serve` and
then through `harpoon edge` and `harpoon tunnel` (the same answers, relayed by the edge):
  - no token: the SDK gets 401 with `WWW-Authenticate: Bearer resource_metadata="..."`, and the
    metadata document at that URL names the issuer;
  - a token with `api.read` (ES256, RS256 and PS256): tools/list shows only the tools that scope
    allows, a call of api_get_item works, and the caller's token never reaches the upstream;
  - the same token calling api_delete_item (needs api.write) or the admin target: 403 with
    `error="insufficient_scope"` and the scopes needed, and the canary upstream stays at zero;
  - an expired token, a token from an unknown key, a wrong audience, a wrong issuer, an
    `alg: none` token: 401 `invalid_token` with
    the reason;
  - an opaque token (RFC 7662): asked about once at the issuer's introspection endpoint (harpoon
    authenticating with HTTP Basic), its scopes filter tools/list, calls work; an unknown opaque
    token gets 401 `token_inactive`.

  tests/python/oauth_client_check.py --harpoon target/debug/harpoon [--port 18793]
Every server it starts stops when it exits (a watchdog ends the run after WATCHDOG_SECONDS).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

# The whole run ends after this many seconds, whatever hangs: every server with it.
WATCHDOG_SECONDS = 120
# Longest wait for `harpoon serve` to answer /readyz.
READY_SECONDS = 20
RESOURCE = "https://mcp.example.test/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"
# The credential harpoon injects upstream; the caller's token must never be seen there.
INJECTED = "upstream-injected-secret"


class Checker:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, detail: Any = "") -> None:
        if ok:
            self.passed += 1
            print(f"PASS {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}: {detail}")


def loopback_server(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


class SigningKey:
    """A private key made now, its public JWK, and tokens signed with it."""

    def __init__(self, kid: str, alg: str) -> None:
        self.kid, self.alg = kid, alg
        if alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            public = jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:  # RS256, PS256: the same RSA key type, a different padding
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk = {**public, "kid": kid, "alg": alg, "use": "sig"}

    def token(self, issuer: str, scope: str, **override: Any) -> str:
        now = int(time.time())
        claims = {"iss": issuer, "aud": RESOURCE, "sub": "user-7", "client_id": "python-sdk",
                  "scope": scope, "iat": now, "exp": now + 300, **override}
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid, "typ": "at+jwt"})


def unsigned(issuer: str, scope: str) -> str:
    """A token with `alg: none` and no signature, claims otherwise valid."""
    now = int(time.time())
    claims = {"iss": issuer, "aud": RESOURCE, "sub": "user-7", "client_id": "python-sdk",
              "scope": scope, "iat": now, "exp": now + 300}

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f'{part({"alg": "none", "typ": "at+jwt"})}.{part(claims)}.'


# The credentials harpoon authenticates to the introspection endpoint with (HTTP Basic).
INTROSPECTION_CREDENTIALS = "aGFycG9vbjpweXRob24tY2hlY2s="  # harpoon:python-check


class OpaqueTokens:
    """The issuer's opaque tokens: token -> scope, and how often each was asked about."""

    def __init__(self) -> None:
        self.scopes: dict[str, str] = {}
        self.asked: dict[str, int] = {}
        self.lock = threading.Lock()

    def mint(self, scope: str) -> str:
        token = "opaque-" + os.urandom(16).hex()
        with self.lock:
            self.scopes[token] = scope
        return token

    def answer(self, token: str, issuer: str) -> dict[str, Any]:
        with self.lock:
            self.asked[token] = self.asked.get(token, 0) + 1
            scope = self.scopes.get(token)
        if scope is None:
            return {"active": False}
        return {"active": True, "iss": issuer, "aud": RESOURCE, "scope": scope, "sub": "user-8",
                "client_id": "python-sdk-opaque", "exp": int(time.time()) + 300, "token_type": "Bearer"}


def issuer_server(keys: list[SigningKey], opaque: OpaqueTokens) -> ThreadingHTTPServer:
    """The authorization server: its metadata, JWKS and RFC 7662 introspection endpoint."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = min(int(self.headers.get("content-length") or 0), 64 * 1024)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            if self.path != "/introspect":
                self.reply(404, {"error": "not_found"})
            elif self.headers.get("authorization") != f"Basic {INTROSPECTION_CREDENTIALS}":
                self.reply(401, {"error": "invalid_client"})
            else:
                token = (form.get("token") or [""])[0]
                self.reply(200, opaque.answer(token, url_of(self.server)))  # type: ignore[arg-type]

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            me = url_of(self.server)  # type: ignore[arg-type]
            if self.path == "/.well-known/oauth-authorization-server":
                body = {"issuer": me, "jwks_uri": f"{me}/jwks", "authorization_endpoint": f"{me}/authorize",
                        "token_endpoint": f"{me}/token", "response_types_supported": ["code"],
                        "introspection_endpoint": f"{me}/introspect"}
                self.reply(200, body)
            elif self.path == "/jwks":
                self.reply(200, {"keys": [k.jwk for k in keys]})
            else:
                self.reply(404, {"error": "not_found"})

        def reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return loopback_server(Handler)


def upstream_server(seen: list[dict[str, Any]]) -> ThreadingHTTPServer:
    """The API behind harpoon: records every request (path and headers) and echoes the item."""

    class Handler(BaseHTTPRequestHandler):
        def handle_any(self) -> None:
            seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items())})
            data = json.dumps({"id": self.path.rsplit("/", 1)[-1], "method": self.command}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_DELETE = handle_any  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    return loopback_server(Handler)


def allowlist(issuer: str, upstream: str) -> str:
    return f"""version: 1
authorization:
  resource: {RESOURCE}
  algorithms: [ES256, RS256, PS256]
  issuers:
    - issuer: {issuer}
      network: {{ allow_cidrs: [127.0.0.1/32] }}
      dangerous: {{ allow_plaintext_http: true }}
      introspection:
        endpoint: {issuer}/introspect
        authorization: "Basic ${{env:OAUTH_CHECK_INTROSPECTION}}"
targets:
  - label: api
    description: Items, read with api.read, deleted with api.write too.
    base_url: {upstream}
    network: {{ allow_cidrs: [127.0.0.1/32] }}
    dangerous: {{ allow_plaintext_http: true }}
    headers:
      inject:
        Authorization: "Bearer ${{env:OAUTH_CHECK_UPSTREAM_TOKEN}}"
    access: {{ scopes: [api.read] }}
    routes:
      - name: get_item
        description: Read one item.
        method: GET
        path: /items/{{id}}
      - name: delete_item
        description: Delete one item.
        method: DELETE
        path: /items/{{id}}
        access: {{ scopes: [api.write] }}
    paths:
      - {{ methods: [GET], glob: "/reports/*" }}
  - label: admin
    description: The canary; no test token may reach it.
    base_url: {upstream}/admin
    network: {{ allow_cidrs: [127.0.0.1/32] }}
    dangerous: {{ allow_plaintext_http: true }}
    access: {{ scopes: [admin] }}
    paths:
      - {{ methods: [GET], glob: "/users/*" }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_harpoon(harpoon: str, config: str, port: int, log: str) -> subprocess.Popen:
    env = {**os.environ, "OAUTH_CHECK_UPSTREAM_TOKEN": INJECTED,
           "OAUTH_CHECK_INTROSPECTION": INTROSPECTION_CREDENTIALS}
    with open(log, "w") as out:
        p = subprocess.Popen([harpoon, "serve", "--allowlist", config, "--listen", f"127.0.0.1:{port}",
                              "--log", "warn"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"harpoon serve exited with {p.returncode}: {open(log).read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise RuntimeError(f"harpoon serve did not become ready in {READY_SECONDS} s: {open(log).read()}")


# The tunnel path: the SDK -> `harpoon edge` -> `harpoon tunnel` (which checks the caller's
# Authorization header the command carries) -> the upstream.
TUNNEL_ID = "tunnel_" + "fedcba9876543210" * 2
TUNNEL_KEY = "oauth-check-key_0123456789"


def start_tunnel(harpoon: str, config: str, log: str) -> tuple[list[subprocess.Popen], str]:
    """`harpoon edge` and `harpoon tunnel` on free loopback ports; the edge's MCP URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clean = {k: v for k, v in os.environ.items() if k not in (
        "OPENAI_API_KEY", "CONTROL_PLANE_API_KEY", "HARPOON_TUNNEL_TOKEN", "HARPOON_EDGE", "HARPOON_TUNNEL_PROXY")}
    children: list[subprocess.Popen] = []
    with open(log, "a") as out:
        children.append(subprocess.Popen(
            [harpoon, "edge", "--listen", f"127.0.0.1:{port}", "--tunnel", TUNNEL_ID, "--log", "warn"],
            env={**clean, "HARPOON_TUNNEL_TOKEN": TUNNEL_KEY}, stdout=out, stderr=subprocess.STDOUT))
        children.append(subprocess.Popen(
            [harpoon, "tunnel", "--allowlist", config, "--edge", base, "--tunnel-id", TUNNEL_ID,
             "--health-listen", "127.0.0.1:0", "--poll-timeout", "2s", "--log", "warn"],
            env={**clean, "CONTROL_PLANE_API_KEY": TUNNEL_KEY, "OAUTH_CHECK_UPSTREAM_TOKEN": INJECTED,
                 "OAUTH_CHECK_INTROSPECTION": INTROSPECTION_CREDENTIALS},
            stdout=out, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            break
        try:
            with urllib.request.urlopen(f"{base}/metrics", timeout=2) as r:
                if "harpoon_edge_tunnels_connected 1" in r.read().decode():
                    return children, f"{base}/v1/mcp/{TUNNEL_ID}"
        except OSError:
            pass
        time.sleep(0.1)
    stop(children)
    raise RuntimeError(f"the tunnel did not connect to the edge in {READY_SECONDS} s: {open(log).read()}")


def stop(children: list[subprocess.Popen]) -> None:
    for c in children:
        c.terminate()
    for c in children:
        try:
            c.wait(timeout=10)
        except subprocess.TimeoutExpired:
            c.kill()


class Session:
    """One SDK client with (or without) a bearer token; `responses` is what its HTTP client got."""

    def __init__(self, url: str, mode: str, token: str | None) -> None:
        self.responses: list[tuple[int, str]] = []

        async def record(response: httpx2.Response) -> None:
            self.responses.append((response.status_code, response.headers.get("www-authenticate", "")))

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx2.AsyncClient(headers=headers, timeout=30, event_hooks={"response": [record]})
        self.client = Client(streamable_http_client(url, http_client=self.http), mode=mode, read_timeout_seconds=30)

    def statuses(self) -> list[int]:
        return [s for s, _ in self.responses]

    def challenges(self, status: int) -> list[str]:
        return [c for s, c in self.responses if s == status]


def innermost(e: BaseException) -> BaseException:
    while len(getattr(e, "exceptions", ())) == 1:  # anyio task groups wrap the real cause
        e = e.exceptions[0]  # type: ignore[attr-defined]
    return e


async def refused(url: str, mode: str, token: str | None) -> tuple[Session, BaseException | None]:
    """Connects and lists tools; returns the session and what the SDK raised (None: nothing)."""
    s = Session(url, mode, token)
    try:
        async with s.http, s.client:
            await s.client.list_tools()
    except BaseException as e:  # noqa: BLE001 (the SDK's failure is what is checked)
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return s, innermost(e)
    return s, None


async def check_mode(ck: Checker, url: str, mode: str, issuer: str, keys: list[SigningKey],
                     stranger: SigningKey, opaque: OpaqueTokens, seen: list[dict[str, Any]],
                     tunnel: bool = False) -> None:
    metadata_url = f"https://mcp.example.test{METADATA_PATH}"
    tag = f"[{'tunnel ' if tunnel else ''}{mode}]"

    s, err = await refused(url, mode, None)
    ck.check(err is not None, f"{tag} no token: the SDK's request fails", "it succeeded")
    ck.check(s.statuses()[:1] == [401], f"{tag} no token: 401", s.responses)
    ck.check(s.challenges(401)[:1] == [f'Bearer resource_metadata="{metadata_url}"'],
             f"{tag} no token: WWW-Authenticate names resource_metadata", s.responses)

    for name, token, reason in [
        ("expired", keys[0].token(issuer, "api.read", exp=int(time.time()) - 3600), "token_expired"),
        ("unknown key", stranger.token(issuer, "api.read"), "unknown_key"),
        ("wrong audience", keys[0].token(issuer, "api.read", aud="https://other.example/mcp"), "wrong_audience"),
        ("wrong issuer", keys[0].token(issuer, "api.read", iss="https://evil.example"), "unknown_issuer"),
        ("alg none", unsigned(issuer, "api.read"), "algorithm_not_accepted"),
    ]:
        s, err = await refused(url, mode, token)
        want = (f'Bearer resource_metadata="{metadata_url}", error="invalid_token", '
                f'error_description="{reason}"')
        ck.check(err is not None and s.statuses()[:1] == [401] and s.challenges(401)[:1] == [want],
                 f"{tag} {name}: 401 invalid_token {reason}", (err, s.responses))

    for key in keys:
        before = len(seen)
        token = key.token(issuer, "api.read")
        s = Session(url, mode, token)
        async with s.http, s.client:
            tools = sorted(t.name for t in (await s.client.list_tools()).tools)
            ck.check(tools == ["api_get_item", "call_target", "list_targets"],
                     f"{tag} {key.alg} api.read: tools/list shows only the allowed tools", tools)
            targets = await s.client.call_tool("list_targets", {})
            labels = [t.get("label") for t in (targets.structured_content or {}).get("targets", [])]
            ck.check(labels == ["api"], f"{tag} {key.alg} api.read: list_targets shows only api", labels)
            result = await s.client.call_tool("api_get_item", {"id": "a1"})
            wire = result.model_dump(by_alias=True, mode="json", exclude_none=True)
            ck.check(result.is_error is False and (result.structured_content or {}).get("status") == 200,
                     f"{tag} {key.alg} api.read: api_get_item works", wire)
            new = seen[before:]
            ck.check([(r["method"], r["path"]) for r in new] == [("GET", "/items/a1")],
                     f"{tag} {key.alg}: exactly the one upstream request", new)
            leaked = [r for r in new for v in r["headers"].values() if token in v]
            injected = [v for r in new for k, v in r["headers"].items() if k.lower() == "authorization"]
            ck.check(not leaked and injected == [f"Bearer {INJECTED}"],
                     f"{tag} {key.alg}: the caller's token never goes upstream; the injected one does",
                     (leaked, injected))

            for tool, args, needed in [
                ("api_delete_item", {"id": "a1"}, "api.read api.write"),
                ("call_target", {"label": "admin", "method": "GET", "path": "/users/1"}, "admin"),
            ]:
                count = len(s.responses)
                try:
                    denied = await s.client.call_tool(tool, args)
                    raised: BaseException | None = None
                except MCPError as e:
                    denied, raised = None, e
                got = s.responses[count:]
                want = (f'Bearer error="insufficient_scope", scope="{needed}", '
                        f'resource_metadata="{metadata_url}", error_description="insufficient_scope"')
                ck.check(raised is not None and [st for st, _ in got] == [403] and got[0][1] == want,
                         f"{tag} {key.alg} {tool}: 403 insufficient_scope, scope {needed!r}",
                         (denied, raised, got))
        ck.check(len(seen) == before + 1, f"{tag} {key.alg}: the denied calls reached nothing", seen[before:])

    # An opaque token: asked about once at the issuer's introspection endpoint, then cached.
    before = len(seen)
    token = opaque.mint("api.read")
    s = Session(url, mode, token)
    async with s.http, s.client:
        tools = sorted(t.name for t in (await s.client.list_tools()).tools)
        ck.check(tools == ["api_get_item", "call_target", "list_targets"],
                 f"{tag} opaque api.read: tools/list shows only the allowed tools", tools)
        for n in ("o1", "o2"):
            result = await s.client.call_tool("api_get_item", {"id": n})
            ck.check(result.is_error is False, f"{tag} opaque api.read: api_get_item {n} works",
                     result.model_dump(by_alias=True, mode="json", exclude_none=True))
    ck.check([r["path"] for r in seen[before:]] == ["/items/o1", "/items/o2"]
             and not [r for r in seen[before:] for v in r["headers"].values() if token in v],
             f"{tag} opaque: two upstream requests, without the caller's token", seen[before:])
    ck.check(opaque.asked.get(token) == 1, f"{tag} opaque: introspected once for the whole session",
             opaque.asked.get(token))
    revoked = "opaque-" + os.urandom(16).hex()  # never minted: inactive
    s, err = await refused(url, mode, revoked)
    want = (f'Bearer resource_metadata="{metadata_url}", error="invalid_token", '
            f'error_description="token_inactive"')
    ck.check(err is not None and s.statuses()[:1] == [401] and s.challenges(401)[:1] == [want],
             f"{tag} inactive opaque token: 401 invalid_token token_inactive", (err, s.responses))

    writer = keys[0].token(issuer, "api.read api.write")
    s = Session(url, mode, writer)
    async with s.http, s.client:
        tools = sorted(t.name for t in (await s.client.list_tools()).tools)
        ck.check(tools == ["api_delete_item", "api_get_item", "call_target", "list_targets"],
                 f"{tag} api.read api.write: tools/list adds api_delete_item", tools)
        result = await s.client.call_tool("api_delete_item", {"id": "b2"})
        ck.check(result.is_error is False and seen[-1]["method"] == "DELETE" and seen[-1]["path"] == "/items/b2",
                 f"{tag} api.write: api_delete_item works", seen[-1:])
        result = await s.client.call_tool("call_target", {"label": "api", "method": "GET", "path": "/reports/q1"})
        ck.check(result.is_error is False and seen[-1]["path"] == "/reports/q1",
                 f"{tag} api.write: call_target over api works", seen[-1:])


async def main_async(a: argparse.Namespace) -> int:
    ck = Checker()
    keys = [SigningKey("es-1", "ES256"), SigningKey("rs-1", "RS256"), SigningKey("ps-1", "PS256")]
    stranger = SigningKey("es-stranger", "ES256")  # signs tokens; never published
    seen: list[dict[str, Any]] = []
    opaque = OpaqueTokens()
    issuer, upstream = issuer_server(keys, opaque), upstream_server(seen)
    children: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "oauth.yaml")
            with open(config, "w") as f:
                f.write(allowlist(url_of(issuer), url_of(upstream)))
            port = a.port or free_port()
            children.append(start_harpoon(a.harpoon, config, port, a.log))
            url = f"http://127.0.0.1:{port}/mcp"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{METADATA_PATH}", timeout=10) as r:
                doc = json.load(r)
            ck.check(doc.get("resource") == RESOURCE and doc.get("authorization_servers") == [url_of(issuer)]
                     and doc.get("scopes_supported") == ["admin", "api.read", "api.write"],
                     "the protected resource metadata names the issuer and the scopes", doc)
            for mode in ("legacy", "2026-07-28"):
                await check_mode(ck, url, mode, url_of(issuer), keys, stranger, opaque, seen)
            tunnel_children, tunnel_url = start_tunnel(a.harpoon, config, a.log)
            children += tunnel_children
            for mode in ("legacy", "2026-07-28"):
                await check_mode(ck, tunnel_url, mode, url_of(issuer), keys, stranger, opaque, seen, tunnel=True)
            ck.check(not any(r["path"].startswith("/admin") for r in seen), "the admin canary has zero hits", seen)
    finally:
        stop(children)
        issuer.shutdown()
        upstream.shutdown()
    print(f"{ck.passed} passed, {ck.failed} failed")
    return 0 if ck.failed == 0 and ck.passed > 0 else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--harpoon", required=True, help="path of the harpoon binary")
    p.add_argument("--port", type=int, default=0, help="port for harpoon serve on 127.0.0.1 (0: a free one)")
    p.add_argument("--log", default=os.devnull, help="where harpoon serve's output goes")
    a = p.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"watchdog: the run took over {WATCHDOG_SECONDS} s"))
    signal.alarm(WATCHDOG_SECONDS)
    return asyncio.run(main_async(a))


if __name__ == "__main__":
    sys.exit(main())
