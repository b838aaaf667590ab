#!/usr/bin/env python3
"""mcp_client_check.py - drive an MCP server with the official Python SDK (mcp 2.x)
and assert on what it answers. Intended for CI (exit 0 = all checks passed).

Connect:
  --transport http  --url http://127.0.0.1:PORT/mcp
  --transport stdio --command "path/to/server --flag" [--env K=V ...] [--cwd DIR]
Protocol mode (Client(mode=...)):
  --mode auto        server/discover probe, falls back to initialize  (default)
  --mode legacy      initialize handshake only (2025-11-25 era, stateful)
  --mode 2026-07-28  pinned modern version, no negotiation traffic at all
What to do (flags, or a JSON spec via --spec FILE, or both; flags are appended):
  --expect-version V            assert client.protocol_version == V
  --expect-tools a,b,c          assert these tool names are listed
  --call NAME [--args JSON]     call a tool; the --expect-* flags below apply to it
     --expect-ok | --expect-error          isError false / true
     --expect-text SUBSTR                  some text block contains SUBSTR
     --expect-structured JSON              structuredContent contains this (subset match)
     --expect-content-types text,image     these block types are present
     --expect-rpc-error CODE               a JSON-RPC error with this code (MCPError)
     --expect-progress N                   at least N progress notifications

Spec file shape (all keys optional):
  {"expect_version": "2026-07-28",
   "expect_tools": ["add"],
   "calls": [{"name": "add", "args": {"a": 1, "b": 2},
              "expect": {"is_error": false, "text_contains": "3",
                         "structured": {"sum": 3}, "content_types": ["text"],
                         "rpc_error_code": null, "min_progress": 0}}]}

Output: one line per check ("PASS ..."/"FAIL ..."), then "N passed, M failed".
Exit status: 0 all passed, 1 a check failed, 2 could not connect / usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError


# Set by --skip-progress: paths that carry no progress notifications (the tunnel) skip those checks.
SKIP_PROGRESS = False


def subset(expected: Any, actual: Any) -> bool:
    """True if `expected` is contained in `actual` (dicts: recursive key subset; else equality)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and subset(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            subset(e, a) for e, a in zip(expected, actual)
        )
    return expected == actual


# Most pages of tools/list read: harpoon sends one; a server that never ends is a failure.
MAX_TOOL_PAGES = 100


class Checker:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> None:
        if ok:
            self.passed += 1
            print(f"PASS {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}{': ' + detail if detail else ''}")


def build_target(a: argparse.Namespace) -> str | StdioServerParameters:
    if a.transport == "http":
        if not a.url:
            sys.exit("--transport http needs --url")
        return a.url  # Client(str) == Client(streamable_http_client(url))
    if not a.command:
        sys.exit("--transport stdio needs --command")
    argv = shlex.split(a.command)
    env = dict(kv.split("=", 1) for kv in a.env)  # merged over the SDK's minimal env allow-list
    return StdioServerParameters(command=argv[0], args=argv[1:], env=env or None, cwd=a.cwd)


def load_plan(a: argparse.Namespace) -> dict[str, Any]:
    plan: dict[str, Any] = {"expect_tools": [], "calls": []}
    if a.spec:
        with open(a.spec) as f:
            spec = json.load(f)
        plan["expect_version"] = spec.get("expect_version")
        plan["expect_tools"] += spec.get("expect_tools", [])
        plan["calls"] += spec.get("calls", [])
    if a.expect_version:
        plan["expect_version"] = a.expect_version
    if a.expect_tools:
        plan["expect_tools"] += [t for t in a.expect_tools.split(",") if t]
    if a.call:
        expect: dict[str, Any] = {}
        if a.expect_ok:
            expect["is_error"] = False
        if a.expect_error:
            expect["is_error"] = True
        if a.expect_text is not None:
            expect["text_contains"] = a.expect_text
        if a.expect_structured is not None:
            expect["structured"] = json.loads(a.expect_structured)
        if a.expect_content_types:
            expect["content_types"] = a.expect_content_types.split(",")
        if a.expect_rpc_error is not None:
            expect["rpc_error_code"] = a.expect_rpc_error
        if a.expect_progress:
            expect["min_progress"] = a.expect_progress
        plan["calls"].append({"name": a.call, "args": json.loads(a.args) if a.args else {}, "expect": expect})
    return plan


async def run_call(client: Client, call: dict[str, Any], ck: Checker) -> None:
    name, args, exp = call["name"], call.get("args") or {}, call.get("expect") or {}
    label = f"call {name}"
    progress: list[tuple[float, float | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total))

    try:
        result = await client.call_tool(name, args, progress_callback=on_progress)
    except MCPError as e:  # JSON-RPC error response (protocol-level), not a tool error
        print(f"  {label} -> JSON-RPC error code={e.code} message={e.message!r} data={e.data!r}")
        want = exp.get("rpc_error_code")
        ck.check(want is not None and int(want) == e.code, f"{label} rpc error code", f"got {e.code}, want {want}")
        return
    except Exception as e:  # e.g. RuntimeError: structuredContent violates the tool's outputSchema (client-side check)
        ck.check(False, f"{label} raised", f"{type(e).__name__}: {e}")
        return

    # mcp 2.x models are snake_case: is_error / structured_content (wire: isError / structuredContent)
    wire = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    print(f"  {label} -> {json.dumps(wire)[:2000]}")
    if exp.get("rpc_error_code") is not None:
        ck.check(False, f"{label} rpc error code", f"got a result, want JSON-RPC error {exp['rpc_error_code']}")
        return
    if "is_error" in exp:
        ck.check(result.is_error == exp["is_error"], f"{label} isError={exp['is_error']}", f"got {result.is_error}")
    texts = [b.text for b in result.content if getattr(b, "type", None) == "text"]
    if "text_contains" in exp:
        ck.check(any(exp["text_contains"] in t for t in texts), f"{label} text contains {exp['text_contains']!r}",
                 f"texts={texts!r}")
    if "structured" in exp:
        ck.check(subset(exp["structured"], result.structured_content), f"{label} structuredContent",
                 f"got {result.structured_content!r}")
    if "content_types" in exp:
        types_ = [getattr(b, "type", "?") for b in result.content]
        missing = [t for t in exp["content_types"] if t not in types_]
        ck.check(not missing, f"{label} content types {exp['content_types']}", f"got {types_}")
    if exp.get("min_progress") and not SKIP_PROGRESS:
        ck.check(len(progress) >= exp["min_progress"], f"{label} >= {exp['min_progress']} progress notifications",
                 f"got {progress}")


async def main_async(a: argparse.Namespace) -> int:
    plan = load_plan(a)
    ck = Checker()
    try:
        client = Client(build_target(a), mode=a.mode, read_timeout_seconds=a.timeout)
        async with client:
            info = client.server_info
            print(f"connected: mode={a.mode} protocol_version={client.protocol_version} "
                  f"server_info={info.name + ' ' + info.version if info else None}")
            if plan.get("expect_version"):
                ck.check(client.protocol_version == plan["expect_version"], f"protocol_version == {plan['expect_version']}",
                         f"got {client.protocol_version}")
            tools = []
            cursor = None
            for _ in range(MAX_TOOL_PAGES):  # paginate tools/list, bounded
                page = await client.list_tools(cursor=cursor)
                tools += page.tools
                cursor = page.next_cursor
                if not cursor:
                    break
            else:
                ck.check(False, f"tools/list ends within {MAX_TOOL_PAGES} pages", "it kept paging")
            names = [t.name for t in tools]
            print(f"tools ({len(names)}): {', '.join(names)}")
            if a.verbose:
                for t in tools:
                    print(f"  {t.name}: {json.dumps(t.input_schema)}")
            for want in plan["expect_tools"]:
                ck.check(want in names, f"tool {want} listed")
            for call in plan["calls"]:
                await run_call(client, call, ck)
    except MCPError as e:
        print(f"ERROR (outside a tool call): JSON-RPC error {e.code}: {e.message}", file=sys.stderr)
        return 2
    except Exception as e:  # transport failure, spawn failure, timeout ...
        while len(getattr(e, "exceptions", ())) == 1:  # (Base)ExceptionGroup, py3.10-safe
            e = e.exceptions[0]  # anyio task groups wrap the real cause
        if isinstance(e, MCPError):
            print(f"ERROR (outside a tool call): JSON-RPC error {e.code}: {e.message}", file=sys.stderr)
        else:
            print(f"ERROR: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(f"{ck.passed} passed, {ck.failed} failed")
    if ck.passed + ck.failed == 0:
        print("no check ran: the plan is empty or the run ended early")
        return 1
    return 0 if ck.failed == 0 else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transport", choices=["http", "stdio"], required=True)
    p.add_argument("--url")
    p.add_argument("--command", help="server command line (shlex-split)")
    p.add_argument("--env", action="append", default=[], metavar="K=V")
    p.add_argument("--cwd")
    p.add_argument("--mode", default="auto", help="auto | legacy | 2026-07-28")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request read timeout, seconds")
    p.add_argument("--spec", help="JSON spec file")
    p.add_argument("--expect-version")
    p.add_argument("--expect-tools")
    p.add_argument("--call")
    p.add_argument("--args", help="JSON object of tool arguments")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--expect-ok", action="store_true")
    g.add_argument("--expect-error", action="store_true")
    p.add_argument("--expect-text")
    p.add_argument("--expect-structured")
    p.add_argument("--expect-content-types")
    p.add_argument("--expect-rpc-error", type=int)
    p.add_argument("--expect-progress", type=int, default=0)
    p.add_argument("--skip-progress", action="store_true", help="skip min_progress expectations")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


if __name__ == "__main__":
    ARGS = parse_args()
    SKIP_PROGRESS = ARGS.skip_progress
    sys.exit(asyncio.run(main_async(ARGS)))
