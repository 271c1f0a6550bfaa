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


# /trickle: a byte every 0.2 s for 30 s, so the 30 s between-reads timeout never fires; only the
# total deadline ends it (limits.remote_total_s), or the minimum rate (limits.remote_min_bytes_per_s).
@pytest.mark.parametrize("route", ["/trickle", "/trickle-sized"])
def test_a_trickle_meets_the_total_deadline(server, route):
    with pytest.raises(fs.RemoteDeadline, match=r"not read within 2 s \(limits.remote_total_s\)"):
        fs.read_bytes(f"{server}{route}", 10_000, fs.Remote(total_s=2))

    def download() -> None:
        with fs.local_copy(f"{server}{route}", fs.Remote(total_s=2)):
            pass

    with pytest.raises(fs.RemoteDeadline, match=r"limits.remote_total_s"):
        download()


def test_a_trickle_under_the_minimum_rate_is_too_slow(server):
    with pytest.raises(fs.RemoteTooSlow, match=r"bytes/s on average .* < 100 \(limits.remote_min_bytes_per_s\)"):
        fs.read_bytes(f"{server}/trickle", 10_000, fs.Remote(min_bytes_per_s=100, grace_s=1))


def test_the_pair_stage_names_the_limit_that_tripped(server, monkeypatch):
    t0 = time.monotonic()
    assert run(str(EN_AUDIO), f"{server}/trickle", remote_total_s=2) == "pair.remote_deadline"
    assert run(f"{server}/trickle", str(EN_SRT), remote_total_s=2) == "pair.remote_deadline"
    assert time.monotonic() - t0 < 50  # each read stopped, short of the 30 s the trickle would last
    from wsdata.stages import pair

    monkeypatch.setattr(pair, "remote", lambda cfg: fs.Remote(min_bytes_per_s=100, grace_s=1))
    assert run(str(EN_AUDIO), f"{server}/trickle") == "pair.remote_too_slow"
    assert run(f"{server}/trickle", str(EN_SRT)) == "pair.remote_too_slow"


@pytest.mark.slow
def test_a_build_rejects_the_trickling_documents_and_goes_on(server, tmp_path):
    import json

    from tests.helpers import all_rows
    from wsdata.cli import main
    from wsdata.verify import check_accounting

    lines = [
        {"id": "local", "audio": str(EN_AUDIO), "transcript": str(EN_SRT), "language": "en"},
        {"id": "slow-srt", "audio": str(EN_AUDIO), "transcript": f"{server}/trickle", "language": "en"},
        {"id": "slow-audio", "audio": f"{server}/trickle", "transcript": str(EN_SRT), "language": "en"},
        {"id": "remote", "audio": f"{server}/a.opus", "transcript": f"{server}/a.srt", "language": "en"},
    ]
    src, out = tmp_path / "crawl.jsonl", tmp_path / "out"
    src.write_text("".join(json.dumps(r) + "\n" for r in lines))
    args = ["--quiet", "--no-dedup", "--set", "limits.remote_total_s=2"]
    assert main(["build", "--source", str(src), "--out", str(out), *args]) == 0
    assert check_accounting(out, src) == []
    kept, rejects = all_rows(out)
    assert {r["doc_id"] for r in kept} == {"local", "remote"}
    slow = {r["doc_id"]: r for r in rejects if r["segment_id"] is None and r["doc_id"].startswith("slow")}
    assert sorted(slow) == ["slow-audio", "slow-srt"]
    assert all(r["reason"] == "pair.remote_deadline" for r in slow.values())
    assert all("limits.remote_total_s" in r["detail"] for r in slow.values())
