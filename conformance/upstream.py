#!/usr/bin/env python3
"""The REST upstream behind the conformance allowlist: each fixture the MCP conformance suite
expects from a tool is served here as ordinary HTTP content, and harpoon turns it into the MCP
result (text, image/png, audio/wav, multipart parts with Content-Location as embedded
resources, a 500 as an isError result). Standard library only; listens on 127.0.0.1 only.

Usage: upstream.py PORT
"""

import base64
import io
import sys
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 80)
    return buf.getvalue()


def multipart(parts: list[tuple[dict[str, str], bytes]]) -> tuple[str, bytes]:
    boundary = "harpoon-conformance"
    body = b""
    for headers, content in parts:
        body += f"--{boundary}\r\n".encode()
        for k, v in headers.items():
            body += f"{k}: {v}\r\n".encode()
        body += b"\r\n" + content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/mixed; boundary={boundary}", body


EMBEDDED = multipart(
    [({"Content-Type": "text/plain", "Content-Location": "test://embedded-resource"}, b"This is an embedded resource content.")]
)
MIXED = multipart(
    [
        ({"Content-Type": "text/plain"}, b"Multiple content types test:"),
        ({"Content-Type": "image/png"}, PNG),
        ({"Content-Type": "application/json", "Content-Location": "test://mixed-content-resource"}, b'{"test":"data","value":123}'),
    ]
)

FIXTURES = {
    "/fixtures/simple-text": (200, "text/plain", b"This is a simple text response for testing."),
    "/fixtures/image": (200, "image/png", PNG),
    "/fixtures/audio": (200, "audio/wav", wav()),
    "/fixtures/embedded-resource": (200, EMBEDDED[0], EMBEDDED[1]),
    "/fixtures/mixed": (200, MIXED[0], MIXED[1]),
    "/fixtures/error": (500, "text/plain", b"This tool intentionally returns an error for testing."),
    "/fixtures/progress": (200, "text/plain", b"Work with progress is done."),
    "/fixtures/text": (200, "text/plain", b"A plain text answer."),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        status, content_type, body = FIXTURES.get(self.path, (404, "text/plain", b"no such fixture"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


if __name__ == "__main__":
    port = int(sys.argv[1])
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
