"""One crawl mixing the hostile classes with good documents: the build ends with exit 0, the good
documents are kept, each bad one is a reject with its own reason, the books balance, and nothing
raw reaches the terminal from the build, `stats` or the review report. Then the reviewer's files:
a mangled verdicts.jsonl is read with a count of the lines skipped, and a hostile source name
quarantined by `review --quarantine` is dropped by the next build, exactly that source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import EN_AUDIO, EN_SRT, ES_AUDIO, ES_VTT, all_rows
from wsdata.io.audio import ffmpeg_exe
from wsdata.terminal import _UNSAFE
from wsdata.verify import check_accounting

pytestmark = pytest.mark.slow
pytest.importorskip("aiohttp", reason="the remote extra is not installed (make test installs it)")
RAW = ("\x1b", "\x07", "\x9b", "\u202e")
EVIL = "\x1b]0;pwned\x07\x1b[2J\u202e"


def crawl(tmp: Path, server: str) -> tuple[Path, dict[str, str]]:
    """The crawl, and what each bad line must become (by id). `server`: tests/hostile/conftest.py."""
    fifo = tmp / "subs.fifo"
    os.mkfifo(fifo)
    (tmp / "big.srt").write_text(EN_SRT.read_text() * 40)  # past the 20 kB limit set below
    (tmp / "inf.json").write_text(
        '[{"start": 0, "end": 1e999, "text": "a"}, {"start": 0, "end": Infinity, "text": "b"}]'
    )
    (tmp / "chained.opus").write_bytes(EN_AUDIO.read_bytes() * 2)  # declares 104 s, holds 209 s
    silence = ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "300", "-c:a", "flac", str(tmp / "5min.flac")]
    subprocess.run([ffmpeg_exe(), "-v", "error", *silence], check=True)  # declares 300 s
    en = {"audio": str(EN_AUDIO), "transcript": str(EN_SRT)}
    lines = [
        {"id": "good-en", **en, "language": "en-US", "source": f"chan{EVIL}"},
        {"id": "good-es", "audio": str(ES_AUDIO), "transcript": str(ES_VTT), "language": "es", "source": "s\ud800"},
        "[" * 15_000,  # past the JSON parser's depth, within the line limit
        {"id": "long", **en, "meta": "x" * 50_000},
        {"id": "fifo", "audio": str(EN_AUDIO), "transcript": str(fifo)},
        {"id": "zero", "audio": "/dev/zero", "transcript": str(EN_SRT)},
        {"id": "big", "audio": str(EN_AUDIO), "transcript": str(tmp / "big.srt")},
        {"id": "inf", "audio": str(EN_AUDIO), "transcript": str(tmp / "inf.json")},
        {"id": "lang", **en, "language": "en\n"},
        {"id": f"ctl{EVIL}", "audio": str(tmp / "missing.opus"), "transcript": str(EN_SRT)},
        {"id": "good-remote", "audio": f"{server}/a.opus", "transcript": f"{server}/a.srt", "language": "en"},
        {"id": "trickle", "audio": str(EN_AUDIO), "transcript": f"{server}/slow"},
        {"id": "endless", "audio": f"{server}/endless", "transcript": str(EN_SRT)},
        {"id": "404", "audio": f"{server}/none.opus", "transcript": str(EN_SRT)},
        {"id": "chained", "audio": str(tmp / "chained.opus"), "transcript": str(EN_SRT)},
        {"id": "declared", "audio": str(tmp / "5min.flac"), "transcript": str(EN_SRT)},
        {"id": "passwd", "audio": "/etc/passwd", "transcript": str(EN_SRT)},
    ]
    path = tmp / "crawl.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    want = {
        "long": "read.line_too_long",
        "fifo": "pair.transcript_not_a_file",
        "zero": "pair.audio_not_a_file",
        "big": "pair.transcript_too_large",
        "inf": "pair.transcript_malformed",
        "lang": "read.invalid_field",
        f"ctl{EVIL}": "pair.audio_missing",
        "trickle": "pair.transcript_unreadable",
        "endless": "pair.audio_too_large",
        "404": "pair.audio_missing",
        "chained": "pair.audio_too_long",
        "declared": "pair.audio_too_long",
        "passwd": "pair.audio_not_media",
    }
    return path, want


def wsdata(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wsdata", *args], capture_output=True, text=True, check=False, timeout=600
    )


LIMITS = {"max_line_bytes": 20000, "max_transcript_bytes": 20000, "max_audio_ms": 150_000}
LIMITS |= {"max_remote_bytes": 4 << 20, "remote_timeout_s": 1.0}


def test_a_mixed_hostile_crawl(tmp_path, server):
    src, want = crawl(tmp_path, server)
    out = tmp_path / "out"
    limits = [x for k, v in LIMITS.items() for x in ("--set", f"limits.{k}={v}")]
    build = wsdata("build", "--source", str(src), "--out", str(out), "--no-dedup", *limits)  # progress on
    assert build.returncode == 0, build.stderr
    assert check_accounting(out, src) == []
    kept, rejects = all_rows(out)
    assert {r["doc_id"] for r in kept} == {"good-en", "good-es", "good-remote"}
    by_line = {r["line"]: r for r in rejects if r["segment_id"] is None}
    assert by_line[3]["reason"] == "read.invalid_json"
    for line, r in by_line.items():
        if line != 3:
            assert r["reason"] == want.get(r["doc_id"] or "long"), (line, r["doc_id"], r["reason"])
    assert len(by_line) == len(want) + 1
    assert not [r for r in rejects if "root:" in (r["detail"] or "")]  # /etc/passwd is not quoted
    assert {r["language"] for r in kept if r["doc_id"] == "good-en"} == {"en"}
    shown = build.stdout + build.stderr

    # The reviewer's files: torn, invalid and mistyped verdict lines are skipped and counted.
    verdicts = out / "review" / "verdicts.jsonl"
    with open(verdicts, "ab") as f:
        f.write(b'\xff\xfe\n{"stratum": [1]}\n{"item_id": 5, "verdict": {}}\n{"item_id": "x", "note": "\xe2\x82')
    for cmd in (
        ["stats", str(out)],
        ["review", str(out), "--report"],
        ["review", str(out), "--quarantine", f"chan{EVIL}"],
    ):
        done = wsdata(*cmd)
        assert done.returncode == 0, done.stderr
        shown += done.stdout + done.stderr
    assert "4 unreadable lines of verdicts.jsonl skipped" in shown
    assert not [c for c in RAW if c in shown]
    assert not _UNSAFE.search(shown.replace("\n", ""))  # nor any control: a pipe gets no progress bar's \r

    # The quarantined name (escape sequences and all) reads back exactly: only good-en's source goes.
    again = tmp_path / "again"
    q = ["--quarantine", str(out / "review" / "quarantine.txt")]
    build = wsdata("build", "--source", str(src), "--out", str(again), "--quiet", "--no-dedup", *limits, *q)
    assert build.returncode == 0, build.stderr
    kept, rejects = all_rows(again)
    assert {r["doc_id"] for r in kept} == {"good-es", "good-remote"}
    assert [r["doc_id"] for r in rejects if r["reason"] == "text.quarantined_source"] == ["good-en"]
    assert not [c for c in RAW if c in build.stdout + build.stderr]
