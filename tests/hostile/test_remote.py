"""Remote input on a loopback server: a file without Content-Length, a server that trickles, one
that never stops, a name with `://` inside it, and a missing reader package."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import EN_AUDIO, EN_SRT
from wsdata import config
from wsdata.datamodel import Document
from wsdata.io import fs
from wsdata.stages.pair import PairAudio, PairTranscript

pytest.importorskip("aiohttp", reason="the remote extra is not installed (make test installs it)")
FILES = {"/a.opus": EN_AUDIO, "/a.srt": EN_SRT}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes: no Content-Length needed

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.send_response(200 if self.path in FILES or self.path in ("/slow", "/endless") else 404)
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
        elif self.path == "/endless":  # 1 MiB blocks, bounded to 64 MiB so the test server ends
            for _ in range(64):
                self.wfile.write(b"\0" * (1 << 20))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hanging up on /endless or /slow is the point of those tests


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def run(audio: str, transcript: str, **limits: object) -> str | None:
    cfg = config.override(config.BuildConfig(), {f"limits.{k}": v for k, v in limits.items()})
    d = Document("d", 1, audio, transcript, None, "en", "manual", "s")
    rej = PairTranscript(cfg)(d) or PairAudio(cfg)(d)
    return rej.reason if rej else None


def test_files_without_content_length_are_read_not_empty(server):
    assert fs.size(f"{server}/a.opus") in (fs.UNKNOWN_SIZE, EN_AUDIO.stat().st_size)
    assert run(f"{server}/a.opus", f"{server}/a.srt") is None
    assert run(f"{server}/none.opus", f"{server}/a.srt") == "pair.audio_missing"


def test_a_trickling_server_times_out(server):
    t0 = time.monotonic()
    assert run(str(EN_AUDIO), f"{server}/slow", remote_timeout_s=1.0) == "pair.transcript_unreadable"
    assert time.monotonic() - t0 < 20


def test_an_endless_download_stops_at_the_limit(server):
    assert run(f"{server}/endless", str(EN_SRT), max_remote_bytes=4 << 20) == "pair.audio_too_large"
    assert run(str(EN_AUDIO), f"{server}/endless", max_transcript_bytes=1 << 20) == "pair.transcript_too_large"


def test_a_local_name_with_a_scheme_inside_is_a_path(tmp_path):
    odd = tmp_path / "take://2.srt"
    odd.parent.mkdir(parents=True, exist_ok=True)
    odd.write_bytes(EN_SRT.read_bytes())
    assert fs.resolve("take://2.srt", tmp_path) == "take://2.srt"  # a scheme at the start: a URI
    assert fs.is_local(str(odd)) and fs.resolve(str(odd), tmp_path) == str(odd)
    assert run(str(EN_AUDIO), str(odd)) is None


def test_a_missing_reader_package_is_named(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # import aiohttp -> ImportError
    with pytest.raises(fs.RemoteUnavailable, match=r"wsdata\[remote\]"):
        fs.size("http://127.0.0.1:9/x.opus")
