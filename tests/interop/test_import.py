"""`wsdata import`: a Common Voice folder, a `datasets` folder and Parquet file, NeMo and lhotse
manifests become builds whose rows are what was put in; bad records become rejects; an import
reruns to the same output and runs on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import DATA, EN_AUDIO, EN_SRT, SPEECH, all_rows, commonvoice_folder, load_transcript, speech_rows
from wsdata.cli import main
from wsdata.io.audio import decode
from wsdata.layout import Layout

pytestmark = pytest.mark.slow


def _import(*args: str) -> None:
    assert main(["import", *args, "--quiet"]) == 0


def _roots(*folders: Path) -> list[str]:
    """`--set limits.allowed_roots=[...]`: the folders an import may read audio in, past the corpus's own."""
    return ["--set", f"limits.allowed_roots={json.dumps([str(f.resolve()) for f in folders])}"]


def _by_doc(out: Path) -> dict[str, dict]:
    data, _ = all_rows(out)
    return {r["doc_id"]: r for r in data}


def test_a_common_voice_folder(tmp_path):
    rows = commonvoice_folder(tmp_path / "cv", "fr", 6)
    out = tmp_path / "out"
    _import(str(tmp_path / "cv"), "--out", str(out), "--no-dedup")
    got = _by_doc(out)
    assert sorted(got) == sorted(Path(r["path"]).stem for r in rows)  # every clip kept
    for r in rows:
        row = got[Path(r["path"]).stem]
        assert row["text"] == r["sentence"] and row["language"] == "fr" and row["source"] == "commonvoice:fr"
        assert row["timestamps"] == [] and row["start_ms"] == 0  # an utterance: one untimed segment
        assert (decode_row(row) == decode(str(tmp_path / "cv" / "clips" / r["path"]))[: len(decode_row(row))]).all()
        assert json.loads(row["meta"])["client_id"] == r["client_id"]
    splits = {Path(p).name.split("-")[0] for p in Layout(out).data.glob("*.parquet")}
    assert splits == {"train", "validation"}
    train = {r["doc_id"] for r in _rows_of(out, "train")}
    assert train == {Path(r["path"]).stem for r in rows[:4]}  # dev and test are held out
    card = Layout(out).card.read_text(encoding="utf-8")
    assert "commonvoice:fr" in card


def decode_row(row: dict):
    from wsdata.io.audio import decode_flac

    return decode_flac(row["audio"]["bytes"])


def _rows_of(out: Path, split: str) -> list[dict]:
    import pyarrow.parquet as pq

    return [r for p in Layout(out).shards(split) for r in pq.read_table(p).to_pylist()]


def test_a_rerun_and_the_ray_engine_give_the_same_build(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    commonvoice_folder(tmp_path / "cv", "it", 4)
    a, b = tmp_path / "a", tmp_path / "b"
    _import(str(tmp_path / "cv"), "--out", str(a), "--no-dedup")
    before = _by_doc(a)
    _import(str(tmp_path / "cv"), "--out", str(a), "--no-dedup")  # resumes: nothing to redo
    _import(str(tmp_path / "cv"), "--out", str(b), "--no-dedup", "--engine", "ray", "--workers", "2")
    assert _by_doc(a) == before
    strip = ("id", "doc_id", "text", "audio", "start_ms", "end_ms", "language", "task", "source")
    assert {k: {f: r[f] for f in strip} for k, r in _by_doc(b).items()} == {
        k: {f: r[f] for f in strip} for k, r in before.items()
    }
    assert main(["import", str(SPEECH), "--format", "nemo", "--out", str(a), "--quiet"]) == 2  # another corpus


def _hf_dataset(tmp_path: Path):
    import datasets

    rows = [r for r in speech_rows() if r["lang"] == "it" and r["has_audio"] == "1"][:4]
    data = {
        "audio": [
            {"bytes": (SPEECH / "it" / f"{r['key']}.flac").read_bytes(), "path": f"{r['key']}.flac"} for r in rows
        ],
        "sentence": [r["text"] for r in rows],
        "locale": ["it"] * len(rows),
    }
    # Audio without decoding: datasets 4+ would need torchcodec to encode; the bytes are stored as given.
    ds = datasets.Dataset.from_dict(data).cast_column("audio", datasets.Audio(decode=False))
    return datasets.DatasetDict({"train": ds.select(range(3)), "test": ds.select([3])}), rows


def test_a_datasets_folder_and_parquet_file(tmp_path, capsys):
    dd, rows = _hf_dataset(tmp_path)
    dd.save_to_disk(str(tmp_path / "hf"))
    out = tmp_path / "out"
    _import(str(tmp_path / "hf"), "--out", str(out), "--no-text-filters")
    got = _by_doc(out)
    assert sorted(got) == ["test-00000000", "train-00000000", "train-00000001", "train-00000002"]
    for doc, r in zip(sorted(got), [rows[3], *rows[:3]]):
        assert got[doc]["text"] == r["text"] and got[doc]["source"] == "hf:hf"
        original = decode(str(SPEECH / "it" / f"{r['key']}.flac"))
        assert (decode_row(got[doc]) == original[: len(decode_row(got[doc]))]).all()
    assert {r["doc_id"] for r in _rows_of(out, "validation")} == {"test-00000000"}

    dd["train"].to_parquet(str(tmp_path / "train.parquet"))
    out2 = tmp_path / "out2"
    _import(str(tmp_path / "train.parquet"), "--out", str(out2), "--no-text-filters", "--name", "my-corpus")
    got2 = _by_doc(out2)
    assert [got2[d]["text"] for d in sorted(got2)] == [r["text"] for r in rows[:3]]
    assert {r["source"] for r in got2.values()} == {"my-corpus"}
    capsys.readouterr()
    assert main(["stats", str(out), str(out2)]) == 0  # side by side, before training on both
    table = capsys.readouterr().out
    it = next(line.split() for line in table.splitlines() if line.strip().startswith("it "))
    assert it[0:2] == ["it", "transcribe"] and float(it[-1]) == pytest.approx(float(it[2]) + float(it[3]), abs=2e-3)


def test_text_filters_and_language_check_can_be_switched_off(tmp_path):
    commonvoice_folder(tmp_path / "cv", "it", 4)
    tsv = tmp_path / "cv" / "validated.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines()
    fr = next(r for r in speech_rows() if r["lang"] == "fr")["text"]
    cells = lines[1].split("\t")
    cells[2] = fr  # a French sentence claimed Italian: a language mismatch
    tsv.write_text("\n".join([lines[0], "\t".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    strict, loose = tmp_path / "strict", tmp_path / "loose"
    _import(str(tmp_path / "cv"), "--out", str(strict), "--no-dedup")
    _import(str(tmp_path / "cv"), "--out", str(loose), "--no-dedup", "--no-text-filters", "--no-language-check")
    _, rejects = all_rows(strict)
    reasons = {r["doc_id"]: r["reason"] for r in rejects if r["segment_id"] is None}
    assert reasons[cells[1].removesuffix(".mp3")] == "language.mismatch"
    assert set(_by_doc(loose)) == set(_by_doc(strict)) | set(reasons)  # everything kept
    assert _by_doc(loose)[cells[1].removesuffix(".mp3")]["language"] == "it"


def test_a_nemo_manifest_with_offsets_and_bad_lines(tmp_path):
    cues = load_transcript(EN_SRT).cues[:2]
    clip = SPEECH / "en" / "agent-incorrect.flac"
    lines = [
        {"audio_filepath": str(clip), "duration": 5.155, "text": "Login incorrect. Please enter your agent number."},
        *(
            {
                "audio_filepath": str(EN_AUDIO),
                "offset": c.start_ms / 1000,
                "duration": (c.end_ms - c.start_ms) / 1000,
                "text": c.text,
            }
            for c in cues
        ),
        {"audio_filepath": "missing.wav", "duration": 1.0, "text": "gone"},
    ]
    manifest = tmp_path / "train_manifest.json"
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\n{not json\n", encoding="utf-8")
    out = tmp_path / "out"
    # The audio lies outside the manifest's folder: the roots are widened to hold it.
    _import(str(manifest), "--out", str(out), "--no-dedup", "--no-text-filters", *_roots(tmp_path, DATA))
    got = _by_doc(out)
    assert got["agent-incorrect"]["text"] == lines[0]["text"]
    full = decode(str(EN_AUDIO))
    for c in cues:  # a span of the longer file, cut out at import
        row = got[f"{EN_AUDIO.stem}-{c.start_ms}"]
        assert row["text"] == c.text
        # The same audio, decoded from a seek rather than the start: equal up to the codec's resampling.
        cut, want = decode_row(row).astype(float), full[c.start_ms * 16 : c.end_ms * 16].astype(float)
        assert abs(len(cut) - len(want)) <= 16 * 30 and np.corrcoef(cut[:4000], want[:4000])[0, 1] > 0.95
    _, rejects = all_rows(out)
    docs = {r["doc_id"]: r["reason"] for r in rejects if r["segment_id"] is None}
    assert docs["missing"] == "pair.audio_missing"
    assert docs[f"{manifest.name}-line-5"] == "read.invalid_json"  # not JSON: kept as a reject
    assert len(got) + len(docs) == len(lines) + 1  # nothing lost


def test_lhotse_recordings_and_supervisions(tmp_path):
    pytest.importorskip("lhotse", reason="the interop extra (lhotse) is not installed")
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

    long = Recording.from_file(str(EN_AUDIO), recording_id="long")
    short = Recording.from_file(str(SPEECH / "en" / "agent-incorrect.flac"), recording_id="short")
    cues = load_transcript(EN_SRT).cues
    sups = [
        SupervisionSegment(
            f"long-{i}", "long", c.start_ms / 1000, (c.end_ms - c.start_ms) / 1000, text=c.text, language="en"
        )
        for i, c in enumerate(cues)
    ]
    sups.append(
        SupervisionSegment(
            "short-0", "short", 0.0, short.duration, text="Login incorrect.", language="en", speaker="s1"
        )
    )
    RecordingSet.from_recordings([long, short]).to_file(tmp_path / "train_recordings.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(tmp_path / "train_supervisions.jsonl.gz")
    out = tmp_path / "out"
    _import(
        str(tmp_path / "train_recordings.jsonl.gz"),
        str(tmp_path / "train_supervisions.jsonl.gz"),
        "--out",
        str(out),
        "--no-dedup",
        *_roots(tmp_path, DATA),
    )
    data, _ = all_rows(out)
    short_rows = [r for r in data if r["doc_id"].startswith("short")]
    assert [r["text"] for r in short_rows] == ["Login incorrect."] and json.loads(short_rows[0]["meta"]) == {
        "speaker": "s1"
    }
    long_rows = [r for r in data if r["doc_id"].startswith("long") and not r["no_speech"]]
    assert len(long_rows) > 1  # a long recording, cut by the build's segmenter on its supervisions
    assert all(r["timestamps"] for r in long_rows) and all(r["end_ms"] - r["start_ms"] <= 30_000 for r in long_rows)
    kept_text = " ".join(r["text"] for r in long_rows)
    assert cues[0].text.split()[0] in kept_text
