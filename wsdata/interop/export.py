"""`wsdata export DIR --format nemo|lhotse|webdataset --out DEST`: a build's kept segments in the
formats NeMo, lhotse (k2/icefall, ESPnet through lhotse) and webdataset loaders read. Each segment's
FLAC bytes are written as they are in the shards (16 kHz mono, never re-encoded), so an export
imports back to the same samples. Column mapping: docs/import-export.md.
"""

from __future__ import annotations

import io
import itertools
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wsdata import lock
from wsdata.constants import SAMPLE_RATE
from wsdata.hashing import file_stem
from wsdata.io import atomic
from wsdata.layout import Layout

FORMATS = ("nemo", "lhotse", "webdataset")
SPLITS = ("train", "validation")
LOCK = ".wsdata-export.lock"  # in DEST while the export runs (wsdata/lock.py); removed at the end
TAR_SAMPLES = 1000  # segments per webdataset shard (~250 MB of 30 s FLAC)
_COLUMNS = [
    "id",
    "doc_id",
    "source",
    "audio",
    "start_ms",
    "end_ms",
    "text",
    "timestamps",
    "language",
    "task",
    "no_speech",
]


class ExportError(ValueError):
    pass


def rows(out: Path, split: str) -> Iterator[dict[str, Any]]:
    """The kept segments of one split, a row group at a time (never a whole shard in memory)."""
    import pyarrow.parquet as pq

    for shard in Layout(out).shards(split):
        f = pq.ParquetFile(shard)
        for batch in f.iter_batches(batch_size=64, columns=[c for c in _COLUMNS if c in f.schema_arrow.names]):
            yield from batch.to_pylist()


def file_key(segment_id: str) -> str:
    """A segment id as a file name and webdataset key: no dots or slashes (webdataset splits a name
    at its first dot), with a hash of the whole id so two ids never share one."""
    return file_stem(segment_id, keep="-", digits=8)


def _duration_s(flac: bytes) -> float:
    import soundfile as sf

    info = sf.info(io.BytesIO(flac))
    return info.frames / info.samplerate


def export(out: Path, fmt: str, dest: Path, speech_only: bool = False) -> dict[str, int]:
    """Write `out`'s segments to `dest` in `fmt`; returns segments written per split."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt}: one of {', '.join(FORMATS)}")
    if not Layout(out).stats.is_file():
        raise ExportError(f"{out}: not a finished wsdata build (no stats.json)")
    if dest.exists() and not dest.is_dir():
        raise ExportError(f"--out {dest}: a file; give a new or empty folder")
    dest.mkdir(parents=True, exist_ok=True)
    with lock.hold(dest / LOCK, dest, remove=True):  # one export into `dest` at a time; busy: the PID
        if any(p.name != LOCK for p in dest.iterdir()):
            raise ExportError(f"--out {dest}: not empty; give a new or empty folder")
        counts = {}
        for split in SPLITS:
            segs = iter(r for r in rows(out, split) if not (speech_only and r["no_speech"]))
            counts[split] = {"nemo": _nemo, "lhotse": _lhotse, "webdataset": _webdataset}[fmt](segs, dest, split)
    return counts


def _write_flac(dest: Path, split: str, row: dict[str, Any]) -> Path:
    path = dest / "audio" / split / f"{file_key(row['id'])}.flac"
    atomic.write_bytes(path, row["audio"]["bytes"])
    return path


def _nemo(segs: Iterator[dict[str, Any]], dest: Path, split: str) -> int:
    """`<split>_manifest.json`: NeMo's fields (audio_filepath relative to the manifest, duration in
    seconds, text, lang), plus the provenance NeMo ignores."""
    n = 0
    with atomic.atomic_path(dest / f"{split}_manifest.json") as tmp, open(tmp, "w", encoding="utf-8") as f:
        for r in segs:
            path = _write_flac(dest, split, r)
            rec = {
                "audio_filepath": str(path.relative_to(dest)),
                "duration": _duration_s(r["audio"]["bytes"]),
                "text": r["text"],
                "lang": r["language"],
                "taskname": "ast" if r["task"] == "translate" else "asr",
                "id": r["id"],
                "source": r["source"],
            }
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


def _lhotse(segs: Iterator[dict[str, Any]], dest: Path, split: str) -> int:
    """recordings, supervisions and cuts manifests (`<split>_*.jsonl.gz`), written by lhotse."""
    try:
        from lhotse import AudioSource, CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet
    except ImportError:
        raise ExportError("the lhotse format needs lhotse: pip install 'wsdata[interop]'") from None
    recordings, supervisions = [], []
    for r in segs:
        path = _write_flac(dest, split, r)
        seconds = _duration_s(r["audio"]["bytes"])
        key = file_key(r["id"])
        recordings.append(
            Recording(
                id=key,
                sources=[AudioSource(type="file", channels=[0], source=str(path.resolve()))],
                sampling_rate=SAMPLE_RATE,
                num_samples=round(seconds * SAMPLE_RATE),
                duration=seconds,
            )
        )
        if not r["no_speech"]:
            supervisions.append(
                SupervisionSegment(
                    id=key,
                    recording_id=key,
                    start=0.0,
                    duration=seconds,
                    channel=0,
                    text=r["text"],
                    language=r["language"],
                    custom={"segment_id": r["id"], "source": r["source"], "task": r["task"]},
                )
            )
    recs, sups = RecordingSet.from_recordings(recordings), SupervisionSet.from_segments(supervisions)
    for name, manifest in (
        ("recordings", recs),
        ("supervisions", sups),
        ("cuts", CutSet.from_manifests(recordings=recs, supervisions=sups)),
    ):
        with atomic.atomic_path(dest / f"{split}_{name}.jsonl.gz") as tmp:
            manifest.to_file(tmp.with_name(tmp.name + ".jsonl.gz"))  # lhotse picks the format by suffix
            tmp.with_name(tmp.name + ".jsonl.gz").rename(tmp)
    return len(recordings)


def _webdataset(segs: Iterator[dict[str, Any]], dest: Path, split: str) -> int:
    """`<split>-NNNNNN.tar`: per segment `KEY.flac` and `KEY.json` (the row without its audio)."""
    n = 0
    for shard in itertools.count():
        first = next(segs, None)
        if first is None:
            return n
        with atomic.atomic_path(dest / f"{split}-{shard:06d}.tar") as tmp, tarfile.open(tmp, "w") as tar:
            for r in itertools.chain([first], itertools.islice(segs, TAR_SAMPLES - 1)):
                key = file_key(r["id"])
                meta = json.dumps({k: v for k, v in r.items() if k != "audio"}, ensure_ascii=False).encode()
                for name, data in ((f"{key}.flac", r["audio"]["bytes"]), (f"{key}.json", meta)):
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), 0, 0o644  # reproducible archives
                    tar.addfile(info, io.BytesIO(data))
                n += 1
    return n
