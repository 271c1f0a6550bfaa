"""`wsdata import` streams within the build's `[limits]`: a lhotse window of a 10 h WAV is decoded
as that window only, a window over a FIFO is refused without opening it, a manifest line of a
gigabyte is skipped unread, a gzip bomb stops the import with one line, a NeMo span longer than
`limits.max_audio_ms` is never decoded and a long span goes through the bounded PCM, and a NaN or
negative time is one record's reject while the import goes on. Memory is measured as a cap in a
child process (VmHWM), never a timing. The big files are sparse or repeat one compressed block."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tests.helpers import SPEECH, all_rows, lhotse_cut, write_jsonl
from wsdata.cli import main
from wsdata.layout import Layout
from wsdata.verify import check_accounting

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS is read from Linux's /proc"),
]

MB = 1 << 20
HOUR_S = 3600
CLIP = SPEECH / "en" / "agent-incorrect.flac"
TEXT = "Login incorrect. Please enter your agent number."
CAP = 600 * MB  # an import's whole process; the bombs below would each hold over 1 GB


def sparse_wav(path: Path, seconds: int, rate: int = 16000) -> Path:
    """A 16-bit mono WAV whose header declares `seconds` of silence, written as a sparse file:
    no disk and no time to make, whatever its length."""
    n = seconds * rate * 2
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    head = b"RIFF" + struct.pack("<I", 36 + n) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", n)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + n)
    return path


def _child(code: str, timeout: int = 300) -> dict:
    """Run `code` (which sets `result`) in a fresh interpreter; `result` with the peak RSS in bytes
    and whether lhotse was imported. A hang fails the test at `timeout` instead of blocking it."""
    wrapped = f"""
import json, re, sys
{code}
status = open("/proc/self/status").read()
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) * 1024
print(json.dumps({{"result": result, "peak": peak, "lhotse": "lhotse" in sys.modules}}))
"""
    proc = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _import_in_child(args: list[str], timeout: int = 300) -> dict:
    code = f"""
from wsdata.cli import main
result = main({["import", *args, "--quiet", "--no-dedup", "--no-text-filters"]!r})
"""
    got = _child(code, timeout)
    assert got["result"] == 0
    return got


def _reasons(out: Path) -> dict[str, str]:
    assert check_accounting(out, Layout(out).import_work / "crawl.jsonl") == []
    _, rejects = all_rows(out)
    return {r["doc_id"]: r["reason"] for r in rejects if r["segment_id"] is None}


def _kept(out: Path) -> set[str]:
    data, _ = all_rows(out)
    return {r["doc_id"] for r in data}


def test_a_window_of_a_10_hour_wav_is_decoded_as_the_window_only(tmp_path):
    corpus = tmp_path / "corpus"
    sparse_wav(corpus / "ten-hours.wav", 10 * HOUR_S)
    cut = lhotse_cut("window", "ten-hours.wav", start=5 * HOUR_S, duration=8.0, rec_duration=10.0 * HOUR_S)
    out = tmp_path / "out"
    got = _import_in_child([str(write_jsonl(corpus / "cuts.jsonl", [cut])), "--out", str(out)])
    assert got["peak"] < CAP, got["peak"] / MB  # the whole file: 1.15 GB as int16, 2.3 GB as float
    assert not got["lhotse"]  # lhotse's loaders are never used
    staged = list((Layout(out).import_work / "audio").glob("*.flac"))
    assert [round(sf.info(str(f)).duration, 1) for f in staged] == [8.0]
    assert "window" in _kept(out) | set(_reasons(out))


def test_a_window_over_a_fifo_is_refused_without_opening_it(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    os.mkfifo(corpus / "pipe.wav")  # opening it would wait for a writer that never comes
    cuts = [
        lhotse_cut("window", "pipe.wav", start=1.0, duration=2.0),
        lhotse_cut("whole", "pipe.wav"),
    ]
    nemo = [{"audio_filepath": "pipe.wav", "offset": 1.0, "duration": 2.0, "text": TEXT}]
    for manifest in (write_jsonl(corpus / "cuts.jsonl", cuts), write_jsonl(corpus / "manifest.json", nemo)):
        out = tmp_path / f"out-{manifest.stem}"
        _import_in_child([str(manifest), "--out", str(out)], timeout=120)
        assert set(_reasons(out).values()) == {"pair.audio_not_a_file"}


def _one_huge_line_gz(path: Path, gigabytes: float, after: list[dict]) -> Path:
    """A gzip file of a JSON line of `gigabytes` (gzip members of one repeated block: a few MB on
    disk, made in a second), then the lines `after`."""
    block = gzip.compress(b"a" * (25 * MB), compresslevel=9)
    with open(path, "wb") as f:
        f.write(gzip.compress(b'{"id": "huge", "pad": "'))
        f.writelines(block for _ in range(round(gigabytes * 1024 / 25)))
        f.write(gzip.compress(b'"}\n' + b"".join(json.dumps(x).encode() + b"\n" for x in after)))
    return path


def test_one_line_of_a_gigabyte_in_a_small_gz_is_skipped_unread(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copy(CLIP, corpus.mkdir() or corpus / "ok.flac")
    manifest = _one_huge_line_gz(corpus / "cuts.jsonl.gz", 1.0, [lhotse_cut("ok", "ok.flac")])
    assert manifest.stat().st_size < 10 * MB
    out = tmp_path / "out"
    got = _import_in_child([str(manifest), "--out", str(out)])
    assert got["peak"] < CAP, got["peak"] / MB  # the line alone is 1 GB
    assert _reasons(out) == {"cuts.jsonl.gz-line-1": "read.line_too_long"}
    assert _kept(out) == {"ok"}


def test_a_gzip_bomb_stops_the_import_with_one_line(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    line = json.dumps(lhotse_cut("c", "ok.flac")) + "\n"
    with gzip.open(corpus / "cuts.jsonl.gz", "wt") as f:
        f.writelines(line for _ in range(5000))  # ~2.5 MB of text: over the cap set below
    rc = main(
        ["import", str(corpus / "cuts.jsonl.gz"), "--out", str(tmp_path / "out2"), "--quiet"]
        + ["--set", "limits.max_manifest_bytes=1000000"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert [x for x in err.splitlines() if "limits.max_manifest_bytes" in x] == [err.strip().splitlines()[-1]]
    assert not (Layout(tmp_path / "out2").import_work / "crawl.jsonl").exists()  # nothing half-staged


def test_a_nemo_span_longer_than_max_audio_ms_is_never_decoded(tmp_path):
    corpus = tmp_path / "corpus"
    sparse_wav(corpus / "day.wav", 24 * HOUR_S)
    lines = [
        {"audio_filepath": "day.wav", "offset": 0, "duration": 24 * HOUR_S, "text": TEXT},  # over 12 h
        {"audio_filepath": "day.wav", "offset": 14 * HOUR_S, "duration": 13 * HOUR_S, "text": TEXT},
        {"audio_filepath": "day.wav", "offset": 2 * HOUR_S, "duration": 4.0, "text": TEXT},
    ]
    out = tmp_path / "out"
    got = _import_in_child([str(write_jsonl(corpus / "manifest.json", lines)), "--out", str(out)])
    assert got["peak"] < CAP, got["peak"] / MB
    reasons = _reasons(out)
    assert reasons["day-0"] == reasons[f"day-{14 * HOUR_S * 1000}"] == "pair.audio_too_long"
    assert f"day-{2 * HOUR_S * 1000}" in _kept(out) | set(reasons)  # a short span of it: staged


def _span_peak(tmp: Path, wav: Path, seconds: int) -> int:
    dest = tmp / f"{seconds}.flac"
    code = f"""
from pathlib import Path
from wsdata.interop import staging
result = staging.stage_span({str(wav)!r}, (0, {seconds * 1000}), Path({str(dest)!r}), staging.Bounds())
"""
    got = _child(code)
    assert got["result"] is None  # staged
    assert round(sf.info(str(dest)).duration) == seconds
    return got["peak"]


def test_a_long_span_is_decoded_through_the_bounded_pcm(tmp_path):
    """An hour's span (115 MB of samples) costs the process no more than a second's, within the
    PCM's in-memory part (32 MB): it is encoded a block at a time from the spilled file."""
    wav = sparse_wav(tmp_path / "hour.wav", HOUR_S)
    short, long = _span_peak(tmp_path, wav, 1), _span_peak(tmp_path, wav, HOUR_S)
    decoded = HOUR_S * 16000 * 2
    assert long - short < 80 * MB < decoded, (short / MB, long / MB)


def test_bad_times_in_a_nemo_manifest_are_rejects_and_the_import_goes_on(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copy(CLIP, corpus.mkdir() or corpus / "ok.flac")
    bad = ["NaN", "Infinity", "-Infinity", "-1", '"12"', "true", "[1]", "1e300"]
    lines = [f'{{"audio_filepath": "ok.flac", "duration": 5.155, "text": "{TEXT}"}}']
    lines += [f'{{"audio_filepath": "ok.flac", "offset": {b}, "duration": 2.0, "text": "{TEXT}"}}' for b in bad]
    lines += [f'{{"audio_filepath": "ok.flac", "offset": 0.5, "duration": {b}, "text": "{TEXT}"}}' for b in bad]
    lines += ['{"audio_filepath": "ok.flac", "offset": 0.5, "duration": 0, "text": "x"}']
    manifest = corpus / "manifest.json"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["import", str(manifest), "--out", str(out), "--quiet", "--no-dedup", "--no-text-filters"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    reasons = _reasons(out)
    assert _kept(out) == {"ok"}
    assert sorted(reasons.values()) == ["read.invalid_field"] * (2 * len(bad) + 1)
