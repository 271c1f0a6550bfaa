"""One crawl mixing the hostile classes with good documents: the build ends with exit 0, the good
documents are kept, each bad one is a reject with its own reason, the books balance, and nothing
raw reaches the terminal from the build, `stats` or the review report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import EN_AUDIO, EN_SRT, ES_AUDIO, ES_VTT, all_rows
from wsdata.verify import check_accounting

pytestmark = pytest.mark.slow
RAW = ("\x1b", "\x07", "\x9b", "\u202e")
EVIL = "\x1b]0;pwned\x07\x1b[2J\u202e"


def crawl(tmp: Path) -> tuple[Path, dict[str, str]]:
    """The crawl, and what each bad line must become (by id)."""
    fifo = tmp / "subs.fifo"
    os.mkfifo(fifo)
    (tmp / "big.srt").write_text(EN_SRT.read_text() * 40)  # past the 20 kB limit set below
    (tmp / "inf.json").write_text(
        '[{"start": 0, "end": 1e999, "text": "a"}, {"start": 0, "end": Infinity, "text": "b"}]'
    )
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
    }
    return path, want


def wsdata(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wsdata", *args], capture_output=True, text=True, check=False, timeout=600
    )


def test_a_mixed_hostile_crawl(tmp_path):
    src, want = crawl(tmp_path)
    out = tmp_path / "out"
    limits = ["--set", "limits.max_line_bytes=20000", "--set", "limits.max_transcript_bytes=20000"]
    build = wsdata("build", "--source", str(src), "--out", str(out), "--quiet", "--no-dedup", *limits)
    assert build.returncode == 0, build.stderr
    assert check_accounting(out, src) == []
    kept, rejects = all_rows(out)
    assert {r["doc_id"] for r in kept} == {"good-en", "good-es"}
    by_line = {r["line"]: r for r in rejects if r["segment_id"] is None}
    assert by_line[3]["reason"] == "read.invalid_json"
    for line, r in by_line.items():
        if line != 3:
            assert r["reason"] == want.get(r["doc_id"] or "long"), (line, r["doc_id"], r["reason"])
    assert {r["language"] for r in kept if r["doc_id"] == "good-en"} == {"en"}
    shown = build.stdout + build.stderr
    for cmd in (["stats", str(out)], ["review", str(out), "--report"]):
        done = wsdata(*cmd)
        assert done.returncode == 0, done.stderr
        shown += done.stdout + done.stderr
    assert not [c for c in RAW if c in shown]
