"""`wsdata score DIR --model MODEL`: the paper's closed loop. A model (typically the user's own
`wsdata train` run) transcribes every kept speech segment of a built corpus, and each caption is
scored against it; `wsdata review DIR --report` then ranks sources by WER x hours (Whisper §2:
sorting sources by the initial model's error rate and size to find the bad ones).

Output: DIR/scores/<model>/<shard>.parquet, one file per data shard, written whole or not at all, so
a killed run resumes at the first shard without its file. The worst-scoring kept segments are
added to the review queue as their own stratum (`worst_wer`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from wsdata.agree.wer import errors
from wsdata.io.audio import decode_flac
from wsdata.io.parquet import write_table_atomic
from wsdata.layout import Layout
from wsdata.review.sample import WORST_STRATUM

SCORE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("language", pa.string()),
        ("task", pa.string()),
        ("duration_ms", pa.int64()),
        ("text", pa.string()),
        ("asr_text", pa.string()),
        ("edits", pa.int64()),  # word (or character) edits from the caption to asr_text
        ("words", pa.int64()),  # the caption's length in the same units
        ("wer", pa.float64()),
    ]
)
READ = ["id", "doc_id", "source", "language", "task", "duration_ms", "text", "no_speech", "audio"]


def model_name(spec: str) -> str:
    """A folder name for a model: its last path part, or a hub id with '/' as '__'."""
    p = Path(spec)
    name = f"{p.parent.name}-{p.name}" if p.name == "model" else p.name  # a `wsdata train` run: RUN/model
    name = spec.replace("/", "__") if not p.exists() else name
    return re.sub(r"[^\w.-]+", "_", name)[:100] or "model"


def scores_dir(out: Path, spec: str) -> Path:
    return out / "scores" / model_name(spec)


def score(out: Path, model: object, spec: str, batch: int = 8, on_shard: Callable[[str], None] | None = None) -> Path:
    """Score every data shard of build `out` that has no score file yet; the scores folder."""
    layout, dest = Layout(out), scores_dir(out, spec)
    for shard in [*layout.shards("train"), *layout.shards("validation")]:
        target = dest / shard.name
        if target.exists():
            continue
        rows: list[dict] = []
        for part in pq.ParquetFile(shard).iter_batches(batch_size=64, columns=READ):
            speech = [r for r in part.to_pylist() if not r["no_speech"]]
            for i in range(0, len(speech), batch):
                rows += _score_batch(model, speech[i : i + batch])
        write_table_atomic(pa.Table.from_pylist(rows, schema=SCORE_SCHEMA), target)
        if on_shard:
            on_shard(shard.name)
    return dest


def _score_batch(model: object, rows: list[dict]) -> list[dict]:
    clips = [decode_flac(r["audio"]["bytes"]).astype(np.float32) / 32768.0 for r in rows]
    langs = [r["language"] or "en" for r in rows]
    texts = model.transcribe(clips, langs, [r["task"] == "translate" for r in rows])  # type: ignore[attr-defined]
    out = []
    for r, asr in zip(rows, texts):
        e = errors(r["text"], asr, "en" if r["task"] == "translate" else r["language"])
        out.append(
            {k: r[k] for k in SCORE_SCHEMA.names if k in r}
            | {"asr_text": asr, "edits": e.edits, "words": e.length, "wer": round(e.rate, 4)}
        )
    return out


def latest_scores(out: Path) -> tuple[str, pa.Table] | None:
    """The most recently written model's scores of build `out`, or None."""
    folders = [p for p in (out / "scores").glob("*") if p.is_dir() and any(p.glob("*.parquet"))]
    if not folders:
        return None
    newest = max(folders, key=lambda p: max(f.stat().st_mtime for f in p.glob("*.parquet")))
    return newest.name, pa.concat_tables(pq.read_table(f) for f in sorted(newest.glob("*.parquet")))


def by_source(table: pa.Table) -> list[dict]:
    """Per source: WER (edits over caption words), hours, and the priority WER x hours, worst first."""
    acc: dict[str, list[int]] = {}
    for r in table.select(["source", "edits", "words", "duration_ms"]).to_pylist():
        a = acc.setdefault(r["source"] or "", [0, 0, 0, 0])
        a[0] += r["edits"]
        a[1] += r["words"]
        a[2] += r["duration_ms"]
        a[3] += 1
    out = []
    for src, (edits, words, ms, n) in acc.items():
        wer = edits / words if words else 0.0
        out.append({"source": src, "segments": n, "hours": ms / 3.6e6, "wer": wer, "priority": wer * ms / 3.6e6})
    return sorted(out, key=lambda s: -s["priority"])


HISTOGRAM_EDGES = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]


def histogram(table: pa.Table) -> list[tuple[str, int]]:
    """Segments per WER bucket: [0, 0.1), ..., [0.7, 1.0), >= 1.0."""
    wers = np.array(table["wer"].to_pylist(), dtype=float)
    labels = [f"{a:.1f}-{b:.1f}" for a, b in itertools.pairwise(HISTOGRAM_EDGES)] + [">= 1.0"]
    counts = np.histogram(wers, bins=[*HISTOGRAM_EDGES, np.inf])[0]
    return list(zip(labels, counts.tolist()))


def add_worst_to_queue(out: Path, table: pa.Table, model: str, n: int) -> int:
    """Put the `n` kept segments with the highest WER into review/queue.parquet as the `worst_wer`
    stratum (replacing an earlier one), after the queue's other items. Returns how many."""
    from wsdata.review.sample import QUEUE_ROW_GROUP, QUEUE_SCHEMA, kept_item, sample_key

    layout = Layout(out)
    worst = sorted(table.to_pylist(), key=lambda r: (-r["wer"], r["id"]))[:n]
    score_of = {r["id"]: r for r in worst}
    queue = [r for r in pq.read_table(layout.queue).to_pylist() if r["stratum"] != WORST_STRATUM]
    position = max((r["position"] for r in queue), default=-1) + 1
    items = []
    for shard in [*layout.shards("train"), *layout.shards("validation")]:
        for part in pq.ParquetFile(shard).iter_batches(batch_size=64):
            for r in part.to_pylist():
                s = score_of.get(r["id"])
                if s is None:
                    continue
                detail = f"WER {s['wer']:.2f} under {model}; the model heard: {s['asr_text']}"
                item = kept_item(r, WORST_STRATUM, detail)
                items.append(item | {"key": sample_key(WORST_STRATUM, r["id"])})
    items.sort(key=lambda it: -score_of[it["item_id"]]["wer"])  # the worst first
    for i, it in enumerate(items):
        it["position"] = position + i
    write_table_atomic(pa.Table.from_pylist(queue + items, schema=QUEUE_SCHEMA), layout.queue, QUEUE_ROW_GROUP)
    return len(items)
