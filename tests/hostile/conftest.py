"""A loopback HTTP server for the remote-input tests: real files served without Content-Length, a
server that trickles (a byte every 3 s, or every 0.2 s for 30 s), and one that never stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import EN_AUDIO, EN_SRT

FILES = {"/a.opus": EN_AUDIO, "/a.srt": EN_SRT}
TRICKLES = ("/trickle", "/trickle-sized")
TRICKLE_BYTES = 150


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes: no Content-Length needed

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.send_response(200 if self.path in FILES or self.path in ("/slow", "/endless", *TRICKLES) else 404)
        if self.path == "/trickle-sized":  # a known size: fsspec reads it by ranges, one request per block
            self.send_header("Content-Length", str(TRICKLE_BYTES))
        self.end_headers()

    def do_GET(self) -> None:
        self.do_HEAD()
        if self.path in FILES:
            self.wfile.write(Path(FILES[self.path]).read_bytes())
        elif self.path == "/slow":  # one byte every 3 s, for at most 30 s
            for _ in range(10):
                self.wfile.write(b"1")
                self.wfile.flush()
                time.sleep(3)
        elif self.path in TRICKLES:  # one byte every 0.2 s, for at most 30 s: never a 1 s gap between reads
            for _ in range(TRICKLE_BYTES):
                self.wfile.write(b"1")
                self.wfile.flush()
                time.sleep(0.2)
        elif self.path == "/endless":  # 1 MiB blocks, bounded to 64 MiB so the test server ends
            for _ in range(64):
                self.wfile.write(b"\0" * (1 << 20))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hanging up on /endless or /slow is the point of those tests


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    httpd = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
