"""`wsdata score DIR --model MODEL`: the paper's closed loop. A model (typically the user's own
`wsdata train` run) transcribes every kept speech segment of a built corpus, and each caption is
scored against it; `wsdata review DIR --report` then ranks sources by WER x hours (Whisper §2:
sorting sources by the initial model's error rate and size to find the bad ones).

Output: DIR/scores/<model>/<shard>.parquet, one file per data shard, written whole or not at all, so
a killed run resumes at the first shard without its file. Each file records the SHA-256 of the shard
it scored and the model's identity; a shard whose bytes changed since (new captions, a rebuild), or a
score file of another model under the same folder name, is scored again, and the score file of a
shard that no longer exists is removed. The worst-scoring kept segments are added to the review
queue as their own stratum (`worst_wer`).

A shard is data: a segment whose audio cannot be decoded as 16 kHz mono FLAC (or whose caption is
missing) is skipped and counted, the count kept in its score file; a shard that cannot be read as
Parquet is named and left unscored (no score file), and the others are still scored.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from wsdata.agree.wer import errors
from wsdata.constants import CHUNK_SAMPLES, SAMPLE_RATE
from wsdata.io import atomic
from wsdata.io.parquet import write_table_atomic
from wsdata.languages import WHISPER_LANGUAGES
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


# Keys of a score file's Parquet metadata: what it scored, so that a changed shard is scored again.
SHARD_SHA256, MODEL, SKIPPED = b"wsdata.shard_sha256", b"wsdata.model", b"wsdata.skipped"


class ScoreError(ValueError):
    """A request `score` cannot carry out (a batch size below 1, an unreadable review queue); the
    message says why."""


@dataclass
class Scored:
    """What one `score` call did: the scores folder, the segments it skipped (in the shards scored
    now and before), and the shards it could not read (name: reason), which have no score file."""

    dest: Path
    skipped: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)


def model_identity(spec: str) -> str:
    """The model as its score files record it: a local path made absolute, a hub id as given."""
    return str(Path(spec).resolve()) if Path(spec).exists() else spec


def score(out: Path, model: object, spec: str, batch: int = 8, on_shard: Callable[[str], None] | None = None) -> Scored:
    """Score every data shard of build `out` that has no up-to-date score file (one made from the
    same shard bytes by the same model). A LidError of the model (it cannot run) propagates."""
    if batch < 1:
        raise ScoreError(f"--batch-size {batch}: must be 1 or more segments per model call")
    layout, dest = Layout(out), scores_dir(out, spec)
    shards = [*layout.shards("train"), *layout.shards("validation")]
    names = {shard.name for shard in shards}
    for stale in dest.glob("*.parquet") if dest.is_dir() else []:
        if stale.name not in names:  # its shard is gone (a rebuild with fewer shards): not a score any more
            atomic.remove(stale)
    done = Scored(dest)
    who = model_identity(spec)
    for shard in shards:
        target = dest / shard.name
        try:
            digest = _sha256(shard)
        except OSError as e:
            done.unreadable[shard.name] = _reason(e)
            continue
        meta = _score_meta(target)
        if meta.get(SHARD_SHA256) == digest.encode() and meta.get(MODEL) == who.encode():
            done.skipped += int(meta.get(SKIPPED, b"0"))
            continue
        atomic.remove(target)  # made from other bytes or by another model: never reused, even if this run stops
        try:
            rows, skipped = _score_shard(shard, model, batch)
        except (pa.ArrowException, OSError) as e:  # a corrupt footer or page, a missing column
            done.unreadable[shard.name] = _reason(e)
            continue
        table = pa.Table.from_pylist(rows, schema=SCORE_SCHEMA).replace_schema_metadata(
            {SHARD_SHA256: digest, MODEL: who, SKIPPED: str(skipped)}
        )
        write_table_atomic(table, target)
        done.skipped += skipped
        if on_shard:
            on_shard(shard.name)
    return done


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _score_meta(target: Path) -> dict[bytes, bytes]:
    """The metadata of an earlier score file; {} when there is none or it cannot be read (scored again)."""
    if not target.is_file():
        return {}
    try:
        return pq.read_schema(target).metadata or {}
    except (pa.ArrowException, OSError):
        return {}


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:200]}" if text else type(e).__name__


def _score_shard(shard: Path, model: object, batch: int) -> tuple[list[dict], int]:
    """(score rows, segments skipped) of one shard; ArrowException or OSError when it cannot be read."""
    rows: list[dict] = []
    skipped = 0
    for part in pq.ParquetFile(shard).iter_batches(batch_size=64, columns=READ):
        speech: list[tuple[dict, np.ndarray]] = []
        for r in part.to_pylist():
            if r["no_speech"]:
                continue
            clip = _clip(r)
            if clip is None:
                skipped += 1
            else:
                speech.append((r, clip))
        for i in range(0, len(speech), batch):
            rows += _score_batch(model, speech[i : i + batch])
    return rows, skipped


def _clip(row: dict) -> np.ndarray | None:
    """The segment's float32 16 kHz samples, at most the 30 s the model hears; None when the row
    cannot be scored: no caption, a language Whisper has no token for, or audio that is not 16 kHz
    mono FLAC (garbage bytes, none)."""
    import soundfile as sf

    audio = row["audio"]
    data = audio.get("bytes") if isinstance(audio, dict) else None
    if not isinstance(row["text"], str) or not isinstance(data, bytes):
        return None
    if (row["language"] or "en") not in WHISPER_LANGUAGES:  # the model's prompt names it: <|xx|>
        return None
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if f.samplerate != SAMPLE_RATE or f.channels != 1:
                return None
            samples = f.read(CHUNK_SAMPLES, dtype="int16")  # bounded: a FLAC that claims hours stops at 30 s
    except (RuntimeError, ValueError, TypeError, EOFError):  # soundfile's LibsndfileError is a RuntimeError
        return None
    return samples.astype(np.float32) / 32768.0


def _score_batch(model: object, batch: list[tuple[dict, np.ndarray]]) -> list[dict]:
    rows, clips = [r for r, _ in batch], [c for _, c in batch]
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
    from wsdata.review.sample import QUEUE_ROW_GROUP, QUEUE_SCHEMA

    if n < 0:
        raise ScoreError(f"--worst {n}: must be 0 or more segments")
    layout = Layout(out)
    worst = sorted(table.to_pylist(), key=lambda r: (-r["wer"], r["id"]))[:n]
    score_of = {r["id"]: r for r in worst}
    try:
        queue = [r for r in pq.read_table(layout.queue).to_pylist() if r["stratum"] != WORST_STRATUM]
    except (pa.ArrowException, OSError, KeyError) as e:  # a corrupt or foreign queue file: the scores stand
        raise ScoreError(f"{layout.queue}: cannot be read as the review queue ({_reason(e)})") from None
    position = max((r["position"] for r in queue), default=-1) + 1
    items = []
    for shard in [*layout.shards("train"), *layout.shards("validation")]:
        try:
            items += _worst_items(shard, score_of, model)
        except (pa.ArrowException, OSError):  # an unreadable shard has no scores (see `score`): nothing of it here
            continue
    items.sort(key=lambda it: -score_of[it["item_id"]]["wer"])  # the worst first
    for i, it in enumerate(items):
        it["position"] = position + i
    write_table_atomic(pa.Table.from_pylist(queue + items, schema=QUEUE_SCHEMA), layout.queue, QUEUE_ROW_GROUP)
    return len(items)


def _worst_items(shard: Path, score_of: dict[str, dict], model: str) -> list[dict]:
    """The review items of `shard`'s rows among the worst (`score_of`: id -> score row)."""
    from wsdata.review.sample import kept_item, sample_key

    items = []
    for part in pq.ParquetFile(shard).iter_batches(batch_size=64):
        for r in part.to_pylist():
            s = score_of.get(r["id"])
            if s is None:
                continue
            detail = f"WER {s['wer']:.2f} under {model}; the model heard: {s['asr_text']}"
            items.append(kept_item(r, WORST_STRATUM, detail) | {"key": sample_key(WORST_STRATUM, r["id"])})
    return items
