"""Remote input on a loopback server: a file without Content-Length, a server that trickles, one
that never stops, a name with `://` inside it, and a missing reader package."""

from __future__ import annotations

import time

import pytest

from tests.helpers import EN_AUDIO, EN_SRT
from wsdata import config
from wsdata.datamodel import Document
from wsdata.io import fs
from wsdata.stages.pair import PairAudio, PairTranscript

pytest.importorskip("aiohttp", reason="the remote extra is not installed (make test installs it)")


# `server` (tests/hostile/conftest.py): /a.opus, /a.srt, /slow, /endless on a loopback port.
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
