"""End-to-end builds of tests/data/minicorpus: real audio, every outcome, accounting, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import MINI, SOURCE, all_rows, funnel_holds
from wsdata import config
from wsdata.cli import main
from wsdata.errors import BuildError
from wsdata.io.audio import decode_flac
from wsdata.layout import Layout
from wsdata.orchestrate import build
from wsdata.verify import check_accounting, read_rows

# line -> expected reason of its document-level reject (tests/data/minicorpus/EXPECTED.md)
pytestmark = pytest.mark.slow  # end-to-end builds of real audio
ROOT = Path(__file__).resolve().parent.parent

EXPECTED_REJECTS = {
    7: "pair.audio_not_media",
    8: "pair.audio_empty",
    9: "pair.audio_undecodable",
    10: "read.invalid_json",
    11: "read.not_an_object",
    12: "pair.transcript_malformed",
    13: "pair.cues_past_end",
    14: "pair.inline_text_too_long",
    15: "pair.audio_missing",
    16: "pair.transcript_missing",
    17: "read.duplicate_id",
    18: "read.missing_field",
    19: "read.invalid_field",
}
EXPECTED_KEPT = {
    "yt-Uo9P_bgKdA6",
    "vm-097850963",
    "yt-6YitTZQC4DX",
    "yt-KVbFJfQaQpD",
    "yt-CM7teu_jDF_",
    "yt-F7K1ZWJNSsh",
}


def small_chunks(n: int) -> config.BuildConfig:
    return config.from_dict({"read": {"chunk_size": n}})


def build_checked(out: Path, cfg: config.BuildConfig, workers: int = 1) -> dict:
    stats = build(SOURCE, out, cfg, workers=workers, progress=False)
    assert check_accounting(out, SOURCE) == []
    return stats


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mini")
    build_checked(out, config.load("default"))
    return out


def test_every_line_lands_where_expected(built):
    data, rejects = all_rows(built)
    doc_rejects = {r["line"]: r["reason"] for r in rejects if r["segment_id"] is None}
    assert doc_rejects == EXPECTED_REJECTS
    assert {r["doc_id"] for r in data} == EXPECTED_KEPT
    assert all(r["detail"] for r in rejects)


def test_boilerplate_over_silence_is_not_in_kept_text(built):
    data, rejects = all_rows(built)
    assert not any("Amara.org" in r["text"] for r in data)
    assert not any(r["text"] and "Amara.org" in r["text"] for r in rejects)  # removed by the text stage
    ev = [json.loads(r["evidence"]) for r in data if r["doc_id"] == "vm-097850963"]
    assert ev and ev[0]["boilerplate_removed"] == 1 and ev[0]["cues_dropped"] == 1
    stats = json.loads((built / "stats.json").read_text())
    assert stats["text_cleaning"]["cues_dropped"] == 1


def test_long_silence_gives_a_no_speech_window(built):
    data, rejects = all_rows(built)
    ns = [
        r
        for r in data + rejects
        if r.get("doc_id") == "yt-F7K1ZWJNSsh" and not (r.get("text") or r.get("segment_id") is None)
    ]
    windows = [r for r in ns if r.get("no_speech") or r.get("reason", "").startswith("segment.no_speech")]
    assert len(windows) == 1 and windows[0]["speech_ratio"] <= 0.05
    assert windows[0]["end_ms"] - windows[0]["start_ms"] == 30_000


def test_segment_rows_are_whisper_ready(built):
    data, _ = all_rows(built)
    for r in data:
        audio = decode_flac(r["audio"]["bytes"])
        assert len(audio) == r["duration_ms"] * 16 and r["duration_ms"] <= 30_000
        assert r["id"] == f"{r['doc_id']}/{int(r['id'].rsplit('/', 1)[1]):05d}"
        for c in r["timestamps"]:
            assert 0 <= c["start_ms"] < c["end_ms"] <= r["duration_ms"]
        if r["timestamps"]:
            assert r["text"] == " ".join(c["text"] for c in r["timestamps"])
        assert r["task"] == "transcribe" and r["language"] in {"en", "es", "fr", "it"}
        assert r["speech_ratio"] >= 0.2
    inline = [r for r in data if r["doc_id"] == "yt-CM7teu_jDF_"]
    assert len(inline) == 1 and inline[0]["timestamps"] == [] and inline[0]["text"].startswith("...to decrease")
    # prev_text follows the document order
    uo = sorted((r for r in data if r["doc_id"] == "yt-Uo9P_bgKdA6"), key=lambda r: r["start_ms"])
    assert uo[0]["prev_text"] == "" and uo[1]["prev_text"].endswith(uo[0]["text"])


def test_stats_card_and_stats_command(built, capsys):
    import jsonschema
    import pyarrow.parquet as pq

    stats = json.loads((built / "stats.json").read_text())
    jsonschema.validate(stats, json.loads((ROOT / "schemas" / "stats.v2.schema.json").read_text()))
    for shard in [*(built / "data").glob("*.parquet"), *(built / "rejects").glob("*.parquet")]:
        version = pq.read_schema(shard).metadata[b"wsdata.schema"]
        assert version == (b"reject-row.v2" if shard.parent.name == "rejects" else b"segment-row.v2")
    assert stats["documents"] == {
        "in": 19,
        "kept": 6,
        "rejected": 13,
        "rejected_by_reason": stats["documents"]["rejected_by_reason"],
    }
    assert sum(stats["documents"]["rejected_by_reason"].values()) == 13
    card = (built / "README.md").read_text()
    assert "| pair/transcript | 14 | 4 |" in card and "| pair/audio | 10 | 4 |" in card
    assert "`pair.audio_not_media`" in card and "[segment]" in card and "CONTRACT" not in card
    assert main(["stats", str(built)]) == 0
    assert "documents: 19 in, 6 kept, 13 rejected" in capsys.readouterr().out


def test_funnel_follows_the_order_the_steps_run(built):
    stats = json.loads((built / "stats.json").read_text())
    funnel_holds(stats)
    rejected = {s["step"]: s["documents_rejected"] for s in stats["funnel"]}
    # MINI/EXPECTED.md: 5 bad lines; 4 found before decode (missing or empty files, broken cues);
    # 4 only when decoding (not audio, truncated, inline text too long, cues past the end)
    assert (rejected["read"], rejected["pair/transcript"], rejected["pair/audio"]) == (5, 4, 4)
    machine = next(s for s in stats["funnel"] if s["step"] == "machine")
    assert machine["documents_in"] == 10


def test_shard_reads_back_with_datasets(built):
    import datasets  # in the test extra: a missing install must fail, not skip

    ds = datasets.load_dataset("parquet", data_files={"train": str(built / "data/train-*.parquet")}, split="train")
    assert isinstance(ds.features["audio"], datasets.Audio) and ds.features["audio"].sampling_rate == 16000
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    row = ds[0]
    assert decode_flac(row["audio"]["bytes"]).shape[0] == row["duration_ms"] * 16
    assert set(ds.column_names) >= {"id", "doc_id", "text", "timestamps", "prev_text", "language", "task", "no_speech"}


def test_same_rows_whatever_the_number_of_workers(tmp_path, built):
    build_checked(tmp_path / "w2", small_chunks(3), workers=2)
    build_checked(tmp_path / "w1", small_chunks(3), workers=1)
    assert all_rows(tmp_path / "w1") == all_rows(tmp_path / "w2")
    # and the chunking changes files, not rows
    assert all_rows(tmp_path / "w1") == all_rows(built)


def test_kill_and_resume_equals_an_uninterrupted_build(tmp_path):
    preset = tmp_path / "chunks2.toml"
    preset.write_text("[read]\nchunk_size = 2\n")
    ref, out = tmp_path / "ref", tmp_path / "killed"
    build_checked(ref, config.load(str(preset)))
    cmd = [
        sys.executable,
        "-m",
        "wsdata",
        "build",
        "--source",
        str(SOURCE),
        "--out",
        str(out),
        "--pipeline",
        str(preset),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(list(Layout(out).chunk_marker(0).parent.glob("*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "stats.json").exists(), "the build finished before it was killed"
    done_before = len(list(Layout(out).chunk_marker(0).parent.glob("*.json")))
    assert 2 <= done_before < 10
    assert subprocess.run(cmd, capture_output=True, check=False).returncode == 0
    assert check_accounting(out, SOURCE) == []
    assert all_rows(out) == all_rows(ref)
    ref_stats, out_stats = (json.loads((p / "stats.json").read_text()) for p in (ref, out))
    assert ref_stats == out_stats


def test_rerun_of_a_finished_build_is_a_no_op(tmp_path):
    out = tmp_path / "o"
    build_checked(out, small_chunks(8))
    before = {p: p.stat().st_mtime_ns for p in (out / "data").glob("*.parquet")}
    build_checked(out, small_chunks(8))
    assert before == {p: p.stat().st_mtime_ns for p in (out / "data").glob("*.parquet")}


def test_another_config_into_the_same_folder_is_refused(tmp_path):
    build_checked(tmp_path, small_chunks(8))
    with pytest.raises(BuildError, match="another source or config"):
        build(SOURCE, tmp_path, small_chunks(4), progress=False)


def test_an_unexpected_error_becomes_a_reject_row(tmp_path, monkeypatch):
    from wsdata.stages import pair

    def boom(self, doc):
        raise RuntimeError(f"exploded on {doc.id}")

    monkeypatch.setattr(pair.PairAudio, "process", boom)
    stats = build_checked(tmp_path, config.load("default"))
    assert stats["documents"]["kept"] == 0
    assert stats["documents"]["rejected_by_reason"]["pair.internal_error"] == 10  # every document that reached decode
    funnel_holds(stats)
    assert next(s for s in stats["funnel"] if s["step"] == "pair/audio")["documents_rejected"] == 10
    _, rejects = all_rows(tmp_path)
    assert any("exploded on yt-Uo9P_bgKdA6" in r["detail"] for r in rejects)


def test_cli_errors_are_messages_not_tracebacks(tmp_path, capsys):
    assert main(["build", "--source", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--pipeline", "nope"]) == 2
    assert "unknown pipeline 'nope'" in capsys.readouterr().err
    assert main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--audio-lid", str(tmp_path)]) == 2
    assert "neither a CTranslate2 Whisper folder" in capsys.readouterr().err


def test_without_audio_lid_the_build_says_so(tmp_path, capsys):
    assert main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "no --audio-lid" in err
    assert "No audio language identification ran" in (tmp_path / "o" / "README.md").read_text()
    assert json.loads((tmp_path / "o" / "stats.json").read_text())["audio_language_id"] is None
    data, _ = all_rows(tmp_path / "o")
    assert all(r["audio_language"] is None and r["task"] == "transcribe" for r in data)
    assert all(r["text_language"] for r in data if r["text"])  # text LID always runs


def test_document_with_no_kept_speech_segment_is_rejected_whole(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    # 40 s of digital silence under a timed transcript: every cue lacks speech
    import soundfile as sf

    sf.write(media / "silent.wav", np.zeros(16000 * 40, dtype=np.int16), 16000)
    (tmp_path / "s.srt").write_text(
        "1\n00:00:01,000 --> 00:00:05,000\nHello there.\n\n2\n00:00:06,000 --> 00:00:07,500\nBye.\n"
    )
    crawl = tmp_path / "crawl.jsonl"
    crawl.write_text(json.dumps({"id": "s", "audio": "media/silent.wav", "transcript": "s.srt"}) + "\n")
    build(crawl, tmp_path / "out", config.load("default"), progress=False)
    assert check_accounting(tmp_path / "out", crawl) == []
    rejects = read_rows(Layout(tmp_path / "out").rejects)
    (doc,) = [r for r in rejects if r["segment_id"] is None]
    assert doc["reason"] == "segment.cue_without_speech" and "all 2 speech segments rejected" in doc["detail"]


def test_bad_timing_cue_is_a_segment_reject_with_its_text(tmp_path):
    lines = (MINI / "subs/yt-Uo9P_bgKdA6.en.srt").read_text().splitlines()
    lines[5] = "00:00:0x,000 --> 00:00:09,000"  # the second cue's timing line
    (tmp_path / "s.srt").write_text("\n".join(lines))
    crawl = tmp_path / "crawl.jsonl"
    crawl.write_text(
        json.dumps({"id": "b", "audio": str(MINI / "media/yt-Uo9P_bgKdA6.opus"), "transcript": "s.srt"}) + "\n"
    )
    build(crawl, tmp_path / "out", config.load("default"), progress=False)
    assert check_accounting(tmp_path / "out", crawl) == []
    (bad,) = [r for r in read_rows(Layout(tmp_path / "out").rejects) if r["reason"] == "segment.bad_timing"]
    text = " ".join(lines[6 : lines.index("", 6)])  # the cue's lines, joined
    assert bad["start_ms"] is None and bad["text"] == text and "line 6" in bad["detail"]
    kept = read_rows(Layout(tmp_path / "out").data)
    assert kept and not any(text in r["text"] for r in kept)


def test_no_speech_windows_of_a_rejected_document_are_rejected_too(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "silent.wav", np.zeros(16000 * 70, dtype=np.int16), 16000)
    (tmp_path / "s.srt").write_text(
        "1\n00:00:01,000 --> 00:00:05,000\nHello.\n\n2\n00:01:05,000 --> 00:01:08,000\nBye.\n"
    )
    crawl = tmp_path / "crawl.jsonl"
    crawl.write_text(json.dumps({"id": "s", "audio": "silent.wav", "transcript": "s.srt"}) + "\n")
    build(crawl, tmp_path / "out", config.from_dict({"segment": {"no_speech_keep_every": 1}}), progress=False)
    assert check_accounting(tmp_path / "out", crawl) == []
    reasons = sorted(r["reason"] for r in read_rows(Layout(tmp_path / "out").rejects) if r["segment_id"])
    assert reasons == ["segment.cue_without_speech"] * 2 + ["segment.document_rejected"] * 2


def test_the_build_clocks_every_step_and_writes_no_clock(tmp_path):
    """The stage base times each step on the build's CPU clock (what bench/stage_clock.py reads);
    the clock stays in memory, so the files of a timed build equal an untimed one's."""
    from bench.stage_clock import LABELS
    from tests.helpers import tree
    from wsdata.clock import CpuClock
    from wsdata.stages import FUNNEL

    clock = CpuClock()
    build(SOURCE, tmp_path / "timed", small_chunks(4), workers=2, progress=False, clock=clock)
    build(SOURCE, tmp_path / "plain", small_chunks(4), progress=False)
    steps = {*FUNNEL, "decode", "vad", "flac", "parquet", "review", "dedup/sign", "dedup/cluster", "summary"}
    assert steps <= set(clock.spent) and set(clock.spent) <= set(LABELS)  # workers' clocks come back too
    assert all(v >= 0 for v in clock.spent.values()) and clock.spent["decode"] > 0
    assert tree(tmp_path / "timed") == tree(tmp_path / "plain")


def test_a_folder_as_source_says_so(tmp_path, capsys):
    from wsdata.cli import main

    assert main(["build", "--source", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "is a folder: give the crawl file" in capsys.readouterr().err
