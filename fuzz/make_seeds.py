#!/usr/bin/env python3
"""Writes the committed seed corpora, fuzz/corpus/<target>/seed-*, from the shipped allowlists,
the allowlist fixtures, the attack table of tests/enforcement.rs, the address table of
src/policy/net.rs and the WHATWG URL test data (fuzz/data/). Deterministic: run it from anywhere
and commit what changes. Seeds named seed-regression-* are crashes turned into regression
tests; this script never touches them.

Input format (src/fuzzing.rs): choice bytes, then free texts, each after a 0xFF byte.
"""

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
MARK = b"\xff"

# tests/enforcement.rs `attacks()` and the legitimate calls after it: (tool, arguments).
ATTACKS = [
    ("api.get_item", {"id": "../admin"}),
    ("api.get_item", {"id": "%2e%2e"}),
    ("api.get_item", {"id": "http://169.254.169.254/latest"}),
    ("api.get_item", {"id": "x\r\nHost: evil.example"}),
    ("api.get_item", {"id": "x", "expand": "secrets"}),
    ("api.get_item", {"id": 5}),
    ("api.get_item", {"id": "x", "url": "http://evil.example/"}),
    ("api.get_item", {"id": "x", "body": "payload"}),
    ("api.get_item", {"id": "inv_1", "expand": "lines"}),
    ("api.get_free", {"any": ".."}),
    ("api.get_free", {"any": ""}),
    ("api.get_free", {"any": "a" * 2000}),
    ("api.get_free", {"any": "../../admin"}),
    ("api.create", {}),
    ("api.create", {"body": {"name": 1}}),
    ("api.create", {"body": {"name": "x", "admin": True}}),
    ("api.create", {"body": {"name": "widget"}}),
    ("list_targets", {}),
    ("list_targets", {"x": 1}),
    ("nope", {}),
]
CT_PATHS = [
    "/reports/../admin", "/reports/%2e%2e/admin", "/reports/%2E%2e%2fadmin", "/reports/.%2e/admin",
    "/reports/%252e%252e/admin", "/reports/a%2fb", "/reports/a%5cb", "/reports\\..\\admin",
    "//evil.example/reports/x", "http://evil.example/reports/x", "reports/x", "/reports/x?admin=1",
    "/reports/x#fragment", "/reports/x\r\nHost: evil.example", "/reports/x%0d%0aHost:%20evil",
    "/reports/x%00", "/reports/x/y", "/reports//x", "/admin", "", "/reports/daily", "/files/a/b",
    "/files/..;/admin",
]
for p in CT_PATHS:
    ATTACKS.append(("call_target", {"label": "api", "method": "GET", "path": p}))
for extra in [
    {"method": "DELETE"}, {"method": "get"}, {"method": "TRACE"}, {"label": "nope"},
    {"query": {"admin": "1"}}, {"query": {"date": ["1", 2, True]}},
    {"headers": {"Host": "evil.example"}}, {"headers": {"X-Forwarded-For": "127.0.0.1"}},
    {"headers": {"Accept": "a\r\nX-Injected: 1"}}, {"headers": {"Bad Name": "1"}},
    {"headers": {"Authorization": "Bearer attacker"}}, {"body": "x"}, {"timeout_ms": 1},
    {"max_response_bytes": 0}, {"url": "http://evil.example/"}, {"label": ["api"]},
    {"follow_redirects": "yes"},
]:
    args = {"label": "api", "method": "GET", "path": "/reports/x"}
    args.update(extra)
    ATTACKS.append(("call_target", args))
ATTACKS.append(("call_target", {"label": "api", "method": "POST", "path": "/files/a", "body": "x" * 1025}))
ATTACKS.append(("call_target", {"label": "lit", "method": "GET", "path": "/x"}))

GLOBS = ["/reports/*", "/files/**", "/**", "/reports/*.json", "/v[12]/x", "/{a,b}/c",
         "/a/**/b", "/files/?", "/x[a/b]y", "/a[.-0]b", "/**/x", "/reports/", "/a,b"]

# src/policy/net.rs `classification_table` (IPv4 rows).
ADDRESSES = ["8.8.8.8", "1.1.1.1", "10.1.2.3", "172.31.255.255", "172.32.0.1", "192.168.1.1",
             "100.64.0.1", "127.0.0.1", "127.255.255.254", "169.254.169.254", "169.254.170.2",
             "100.100.100.200", "168.63.129.16", "169.254.1.1", "0.0.0.0", "0.1.2.3", "224.0.0.1",
             "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1", "192.0.0.192",
             "192.0.0.9", "192.31.196.1"]

HEADER_NAMES = ["Accept", "X-Forwarded-For", "Host", "Transfer-Encoding", "Set-Cookie",
                "Bad Name", "x-forwarded-proto", "Authorization", "X-Tenant", "X-Envoy-Path"]


def whatwg():
    data = json.loads((ROOT / "fuzz" / "data" / "whatwg-urltestdata.json").read_text())
    return [c for c in data if isinstance(c, dict)]


def choices(rng, n):
    """Choice bytes: anything but the text mark."""
    return bytes(rng.randrange(255) for _ in range(n))


def texts(*items):
    return b"".join(MARK + t.encode() for t in items)


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data)


def main():
    rng = random.Random(6)
    for d in CORPUS.glob("*"):
        for f in d.glob("seed-*"):
            if not f.name.startswith("seed-regression-"):
                f.unlink()
    cases = whatwg()
    web_inputs = [c["input"] for c in cases if "\xff" not in c["input"]]
    pathnames = sorted({c["pathname"] for c in cases if c.get("pathname", "").startswith("/")})

    for tag, d in [("shipped", "allowlists"), ("valid", "tests/fixtures/allowlists/valid"),
                   ("invalid", "tests/fixtures/allowlists/invalid")]:
        for f in sorted((ROOT / d).glob("*.yaml")):
            write("allowlist", f"{tag}-{f.stem}", f.read_bytes())

    for i, (tool, args) in enumerate(ATTACKS):
        write("tool_call", f"attack-{i:02}", texts(tool, json.dumps(args)))
    for i, (ct, body) in enumerate([
        ("multipart", "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--"),
        ("json", '{"a":[1,2,{"b":null}]}'),
        ("secret", "Bearer s3cr3t-T0KEN"),
    ]):
        write("tool_call", f"response-{ct}", bytes([0] * 8) + texts("list_targets", "{}", body))

    for i, p in enumerate(CT_PATHS + pathnames[:60]):
        if "\xff" not in p:
            write("path_glob", f"{i:03}", texts(p, GLOBS[i % len(GLOBS)]))
    write("path_glob", "class-slash", texts("/x/y", "/x[a/b]y"))
    write("path_glob", "tomcat", texts("/files/..;/admin", "/files/**"))

    for i in range(40):
        write("url_template", f"whatwg-{i:02}",
              choices(rng, 48) + texts(*rng.sample(web_inputs, 3)))
    for i in range(40):
        write("decide", f"{i:02}", choices(rng, 128) + texts(rng.choice(CT_PATHS), rng.choice(pathnames)))

    for a in ADDRESSES:
        octets = [int(x) for x in a.split(".")]
        # Choice 0 takes four bytes as the IPv4 address (little-endian u32); the next byte picks
        # the spelling: 0 plain, 5.. one of the IPv6 forms.
        for form in [0, 5, 6, 7]:
            write("address", f"{a}-{form}", bytes([0] + octets[::-1] + [form]))
    for i in range(10):
        write("address", f"random-{i}", choices(rng, 40))

    for i in range(20):
        write("headers_body", f"{i:02}", choices(rng, 96) + texts(*rng.sample(HEADER_NAMES, 2)))

    # The plain command (no choices), then random ones with a free text for a field.
    write("poll_command", "plain", b"")
    for i in range(16):
        write("poll_command", f"{i:02}",
              choices(rng, 80) + texts(rng.choice(["r1", "trace-\u00e9", 'a"b\\c', " Main "])))


if __name__ == "__main__":
    main()
