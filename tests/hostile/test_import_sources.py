"""A lhotse manifest from someone else is data: `wsdata import` never runs a recording source of
type `command`, never loads a `memory` or `shar` source or one of a type it does not know, and
never applies lhotse's transforms. Each such cut is a reject row (`read.unsupported_source`),
counted in stats.json, and the rest of the manifest is imported."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import SPEECH, all_rows, lhotse_cut, write_jsonl
from wsdata.cli import main
from wsdata.interop import readers
from wsdata.layout import Layout
from wsdata.verify import check_accounting

pytestmark = pytest.mark.slow

CLIP = SPEECH / "en" / "agent-incorrect.flac"  # 5.155 s of real speech


def _manifest(path: Path, cuts: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(c) + "\n" for c in cuts)
    return path


def _doc_reasons(out: Path) -> dict[str, str]:
    _, rejects = all_rows(out)
    return {r["doc_id"]: r["reason"] for r in rejects if r["segment_id"] is None}


def test_no_source_but_file_and_url_is_ever_run_or_loaded(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    clip = shutil.copy(CLIP, corpus / "clip.flac")
    marker = tmp_path / "ran"
    command = f"touch {marker}; cat {clip}"  # what lhotse's load_audio would run
    file_source = {"type": "file", "channels": [0], "source": str(clip)}
    refused = {
        "command-window": lhotse_cut("command-window", command, 1.0, 2.0, source_type="command"),
        "command-whole": lhotse_cut("command-whole", command, source_type="command"),
        "command-beside-a-file": lhotse_cut(
            "command-beside-a-file",
            str(clip),
            sources=[file_source, {"type": "command", "channels": [1], "source": command}],
        ),
        "memory": lhotse_cut("memory", "UklGRg==", source_type="memory"),
        "shar": lhotse_cut("shar", "", source_type="shar"),
        "unknown": lhotse_cut("unknown", str(clip), source_type="pipe"),
        "mixed": {**lhotse_cut("mixed", str(clip)), "type": "MixedCut"},
        "sped-up": lhotse_cut("sped-up", str(clip), transforms=[{"name": "Speed", "kwargs": {"factor": 1.1}}]),
    }
    kept = {
        "whole": lhotse_cut("whole", str(clip)),
        "window": lhotse_cut("window", str(clip), 1.0, 3.0, text="Please enter your agent number."),
        "resampled": lhotse_cut(
            "resampled", "clip.flac", transforms=[{"name": "Resample", "kwargs": {"source_sampling_rate": 16000}}]
        ),  # a relative path: against the manifest's folder
    }
    manifest = _manifest(corpus / "train_cuts.jsonl.gz", [*refused.values(), *kept.values()])
    out = tmp_path / "out"
    assert main(["import", str(manifest), "--out", str(out), "--quiet", "--no-dedup", "--no-text-filters"]) == 0
    assert not marker.exists()  # the command was never run
    err = capsys.readouterr().err
    assert "Traceback" not in err and "read.unsupported_source 8" in err
    reasons = _doc_reasons(out)
    assert {k: reasons.get(k) for k in refused} == dict.fromkeys(refused, "read.unsupported_source")
    data, _ = all_rows(out)
    assert {r["doc_id"] for r in data} == set(kept)
    window = [r for r in data if r["doc_id"] == "window"]
    assert len(window) == 1 and abs(window[0]["duration_ms"] - 3000) <= 50  # the span, not the whole file
    stats = json.loads(Layout(out).stats.read_text(encoding="utf-8"))
    assert stats["documents"]["rejected_by_reason"]["read.unsupported_source"] == len(refused)
    assert check_accounting(out, Layout(out).import_work / "crawl.jsonl") == []


def test_a_reject_reason_in_a_crawl_is_honoured_only_when_registered(tmp_path):
    """The field staging writes a record's reject in: a hand-written crawl cannot use it to claim
    another stage's verdict, and a line that has it never becomes a document."""
    crawl = tmp_path / "crawl.jsonl"
    lines = [
        {"id": "a", "_reject": {"reason": "read.unsupported_source", "detail": "a command source"}},
        {"id": "b", "_reject": {"reason": "dedup.exact", "detail": "not a staging reason"}},
        {"id": "c", "_reject": "anything", "audio": str(CLIP), "text": "Login incorrect."},
    ]
    crawl.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["build", "--source", str(crawl), "--out", str(out), "--quiet"]) == 0
    assert _doc_reasons(out) == {"a": "read.unsupported_source", "b": "read.invalid_field", "c": "read.invalid_field"}


def test_recordings_with_supervisions_are_read_as_data_too(tmp_path):
    """Without cuts, recordings and their supervisions: the same sources are refused, and a
    supervision whose recording no manifest holds is a reject, not lost."""
    marker = tmp_path / "ran"
    clip = shutil.copy(CLIP, tmp_path / "clip.flac")
    good, bad = lhotse_cut("good", str(clip))["recording"], lhotse_cut("bad", f"touch {marker}", source_type="command")
    sup = {"id": "s", "recording_id": good["id"], "start": 0.0, "duration": 5.155, "text": "Login incorrect."}
    orphan = {**sup, "id": "o", "recording_id": "nowhere"}
    recs = write_jsonl(tmp_path / "train_recordings.jsonl", [good, bad["recording"]])
    sups = write_jsonl(
        tmp_path / "train_supervisions.jsonl", [sup, {**sup, "recording_id": bad["recording"]["id"]}, orphan]
    )
    items = list(readers.lhotse([recs, sups]))
    assert not marker.exists()
    got = {i.id: (i.reject[0] if i.reject else i.text) for i in items}
    assert got == {
        good["id"]: "Login incorrect.",
        bad["recording"]["id"]: "read.unsupported_source",
        "nowhere-supervisions": "read.invalid_field",
    }


def test_a_url_source_is_fetched_by_the_bounded_remote_read(tmp_path, server):
    """A window of a `url` source is downloaded by wsdata's own fetch, under
    limits.max_remote_bytes, never by lhotse (`server`: tests/hostile/conftest.py)."""
    pytest.importorskip("aiohttp", reason="the remote extra is not installed (make test installs it)")
    cuts = [
        lhotse_cut("remote-window", f"{server}/a.opus", 1.0, 4.0, rec_duration=60.0, source_type="url"),
        lhotse_cut("endless-window", f"{server}/endless", 1.0, 4.0, rec_duration=60.0, source_type="url"),
        lhotse_cut("not-a-url", "/etc/passwd", 1.0, 4.0, source_type="url"),
    ]
    manifest = write_jsonl(tmp_path / "corpus" / "cuts.jsonl", cuts)
    out = tmp_path / "out"
    args = ["import", str(manifest), "--out", str(out), "--quiet", "--no-dedup", "--no-text-filters"]
    assert main([*args, "--set", f"limits.max_remote_bytes={4 << 20}"]) == 0
    reasons = _doc_reasons(out)
    assert reasons["endless-window"] == "pair.audio_too_large" and reasons["not-a-url"] == "read.invalid_field"
    staged = list((Layout(out).import_work / "audio").glob("*.flac"))
    assert len(staged) == 1  # the remote window, cut out
