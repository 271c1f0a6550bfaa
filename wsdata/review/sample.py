"""Seeded, stratified review samples drawn while the build writes, with no second pass over audio.

Every kept segment and every reject gets a key, a hash of the review seed and its id. A stratum
(kept segments of a source; rejects of one reason from one source) keeps its k smallest keys: that is
a uniform random sample of size k, and the k smallest of a union are the k smallest of the chunks'
k smallest. So each chunk writes its own candidates (`_work/review/NNNNN.parquet`, with the audio
bytes of kept segments), and `finalize` merges them into `review/queue.parquet`.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from wsdata.config import BuildConfig
from wsdata.hashing import stable_hash
from wsdata.io.parquet import write_table_atomic
from wsdata.layout import Layout

QUEUE_FIELDS = [
    ("position", pa.int64()),  # the order of the queue (random: by key)
    ("item_id", pa.string()),  # segment id, or the document id for a document-level reject
    ("stratum", pa.string()),  # "kept" or the reject reason
    ("source", pa.string()),
    ("doc_id", pa.string()),
    ("segment_id", pa.string()),
    ("decision", pa.string()),  # kept | rejected
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("text", pa.string()),
    ("timestamps", pa.string()),  # JSON list of {start_ms, end_ms, text}, relative to start_ms
    ("start_ms", pa.int64()),
    ("end_ms", pa.int64()),
    ("audio_flac", pa.binary()),  # the kept segment's FLAC; null for rejects
    ("audio_uri", pa.string()),  # the source audio (rejects are cut from it on demand)
    ("language", pa.string()),
    ("evidence", pa.string()),  # JSON: speech ratio, machine score, languages, stage evidence
    ("key", pa.uint64()),
]
QUEUE_SCHEMA = pa.schema(QUEUE_FIELDS)
# The stratum `wsdata score` adds: the kept segments a model disagrees with most (wsdata/agree/score.py).
# Like "kept", its items were kept, and a "wrong" verdict on one is a caption that should have gone.
WORST_STRATUM = "worst_wer"
KEPT_STRATA = ("kept", WORST_STRATUM)
# Rows per row group of the queue: small, so that a reader after one item's audio (the review page)
# decodes a few FLACs, not the whole column (pyarrow prunes row groups by the position statistics).
QUEUE_ROW_GROUP = 16


class QueueError(Exception):
    """review/queue.parquet is not a queue as a build writes it (a folder edited by hand, or from
    someone else); the message says why."""


def read_queue(path: Path, columns: list[str] | None = None, filters: list[Any] | None = None) -> pa.Table:
    """The queue at `path` (those `columns` of it, those rows), with the queue's own column types;
    QueueError when it is no regular file, no Parquet, or lacks a column or its type."""
    import pyarrow.parquet as pq

    from wsdata.io import fs

    want = QUEUE_SCHEMA if columns is None else pa.schema([QUEUE_SCHEMA.field(c) for c in columns])
    try:
        if fs.size(str(path)) is None:
            raise QueueError(f"{path} not found (is {path.parent.parent} a finished build?)")
        return pq.read_table(path, columns=want.names, filters=filters).select(want.names).cast(want)
    except (OSError, pa.ArrowException, ValueError, KeyError, TypeError) as e:  # ArrowInvalid is a ValueError
        raise QueueError(f"{path} is not a review queue ({type(e).__name__}: {e})") from None


def _json(text: object, kind: type) -> Any:
    """A JSON column of the queue (evidence, timestamps) as `kind`, empty when it is absent, not
    JSON or of another shape."""
    from wsdata.io.textenc import loads_json

    try:
        value = loads_json(text) if isinstance(text, str) and text else kind()
    except ValueError:
        return kind()
    return value if isinstance(value, kind) else kind()


def item_evidence(item: dict[str, Any]) -> dict[str, Any]:
    """A queue item's evidence object ({} when it has none, or none readable)."""
    return _json(item.get("evidence"), dict)


def item_cues(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A queue item's timed cues, those with integer times and a text only."""
    return [
        c
        for c in _json(item.get("timestamps"), list)
        if isinstance(c, dict)
        and all(isinstance(c.get(k), int) and not isinstance(c.get(k), bool) for k in ("start_ms", "end_ms"))
        and isinstance(c.get("text"), str)
    ]


def kept_item(row: dict[str, Any], stratum: str, detail: str | None = None) -> dict[str, Any]:
    """The queue item of a kept segment row (data/*.parquet), with its FLAC: what a reviewer sees."""
    ev = json.loads(row["evidence"]) if row.get("evidence") else {}
    ev.update(
        speech_ratio=row["speech_ratio"],
        text_language=row["text_language"],
        audio_language=row["audio_language"],
        task=row["task"],
        no_speech=row["no_speech"],
    )
    return {
        "item_id": row["id"],
        "stratum": stratum,
        "source": row["source"],
        "doc_id": row["doc_id"],
        "segment_id": row["id"],
        "decision": "kept",
        "reason": None,
        "detail": detail,
        "text": row["text"],
        "timestamps": json.dumps(row["timestamps"], ensure_ascii=False),
        "start_ms": row["start_ms"],
        "end_ms": row["end_ms"],
        "audio_flac": row["audio"]["bytes"],
        "audio_uri": None,
        "language": row["language"],
        "evidence": json.dumps(ev, ensure_ascii=False, sort_keys=True),
    }


def sample_key(seed: str, item_id: str) -> int:
    return stable_hash(f"{seed}:{item_id}")


class ReviewSampler:
    """One chunk's candidates: per stratum, the k items with the smallest keys."""

    def __init__(self, cfg: BuildConfig):
        self.cfg = cfg.review
        self.heaps: dict[tuple[str, str], list[tuple[int, int, dict[str, Any]]]] = {}
        self.n = 0  # tie-breaker for equal keys (never compare dicts)

    def _offer(self, stratum: str, source: str | None, k: int, item: dict[str, Any]) -> None:
        if k == 0:
            return
        key = sample_key(self.cfg.seed, item["item_id"])
        heap = self.heaps.setdefault((stratum, source or ""), [])
        self.n += 1
        entry = (-key, self.n, item)  # a max-heap of the k smallest keys
        if len(heap) < k:
            heapq.heappush(heap, entry)
        elif key < -heap[0][0]:
            heapq.heapreplace(heap, entry)

    def kept(self, row: dict[str, Any]) -> None:
        self._offer("kept", row["source"], self.cfg.kept_per_source, kept_item(row, "kept"))

    def rejected(self, row: dict[str, Any]) -> None:
        ev = json.loads(row["evidence"]) if row.get("evidence") else {}
        if row.get("speech_ratio") is not None:
            ev["speech_ratio"] = row["speech_ratio"]
        item_id = row["segment_id"] or row["doc_id"] or f"line-{row['line']}"
        self._offer(
            row["reason"],
            row.get("source"),
            self.cfg.rejected_per_reason,
            {
                "item_id": item_id,
                "stratum": row["reason"],
                "source": row.get("source"),
                "doc_id": row["doc_id"],
                "segment_id": row["segment_id"],
                "decision": "rejected",
                "reason": row["reason"],
                "detail": row.get("detail"),
                "text": row.get("text"),
                "timestamps": None,
                "start_ms": row.get("start_ms"),
                "end_ms": row.get("end_ms"),
                "audio_flac": None,
                "audio_uri": row.get("audio"),
                "language": None,
                "evidence": json.dumps(ev, ensure_ascii=False, sort_keys=True),
            },
        )

    def write(self, path: Path) -> None:
        items = []
        for heap in self.heaps.values():
            for neg_key, _, item in heap:
                items.append({**item, "key": -neg_key, "position": 0})
        write_table_atomic(pa.Table.from_pylist(items, schema=QUEUE_SCHEMA), path)


def finalize(out: Path, cfg: BuildConfig, n_chunks: int) -> int:
    """Merge the chunks' candidates into review/queue.parquet; returns the number of items.

    The winners are chosen on keys alone; then each chunk's file is read once for its winners, so
    memory holds the queue plus one chunk's candidates, never every chunk's audio at once."""
    import polars as pl
    import pyarrow.parquet as pq

    layout = Layout(out)
    files = [p for i in range(n_chunks) if (p := layout.review_candidates(i)).exists()]
    dest = layout.queue
    if not files:
        write_table_atomic(QUEUE_SCHEMA.empty_table(), dest)
        return 0
    keys = pl.concat(
        [
            pl.from_arrow(pq.read_table(f, columns=["key", "stratum", "source"])).with_columns(
                pl.lit(i).alias("file"), pl.int_range(pl.len()).alias("row")
            )
            for i, f in enumerate(files)
        ]
    )
    k = pl.when(pl.col("stratum") == "kept").then(cfg.review.kept_per_source).otherwise(cfg.review.rejected_per_reason)
    won = (
        keys.with_columns(pl.col("source").fill_null(""))
        .sort("key", "file", "row")
        .filter(pl.int_range(pl.len()).over("stratum", "source") < k)
    )
    parts = []
    for (i,), rows in won.group_by("file"):
        parts.append(pq.read_table(files[i]).take(rows["row"].to_arrow()))
    df = (
        pl.from_arrow(pa.concat_tables(parts))
        .sort("key")
        .with_columns(pl.int_range(pl.len()).cast(pl.Int64).alias("position"))
    )
    table = df.select([f for f, _ in QUEUE_FIELDS]).to_arrow().cast(QUEUE_SCHEMA)
    write_table_atomic(table, dest, QUEUE_ROW_GROUP)
    return table.num_rows


def check_queue(out: Path, cfg: BuildConfig) -> list[str]:
    """Problems with review/queue.parquet against the shards: every stratum present with
    min(k, its size) items. Empty when the queue is right."""
    import polars as pl

    layout = Layout(out)
    queue = pl.read_parquet(layout.queue).with_columns(pl.col("source").fill_null(""))
    got = {(r["stratum"], r["source"]): r["len"] for r in queue.group_by("stratum", "source").len().to_dicts()}
    want: dict[tuple[str, str], int] = {}
    rej = sorted(layout.rejects.glob("*.parquet"))
    if rej:
        for r in pl.read_parquet(rej, columns=["reason", "source"]).group_by("reason", "source").len().to_dicts():
            want[(r["reason"], r["source"] or "")] = min(r["len"], cfg.review.rejected_per_reason)
    data = sorted(layout.data.glob("*.parquet"))
    if data:
        for r in pl.read_parquet(data, columns=["source"]).group_by("source").len().to_dicts():
            want[("kept", r["source"] or "")] = min(r["len"], cfg.review.kept_per_source)
    want = {k: v for k, v in want.items() if v}
    return [
        f"review queue: stratum {k} has {got.get(k, 0)} items, expected {v}"
        for k, v in sorted(want.items())
        if got.get(k, 0) != v
    ] + [f"review queue: unexpected stratum {k}" for k in got if k not in want and k[0] != WORST_STRATUM]
