"""Every build has a validation split unless `write.validation_fraction` is 0.

Documents go to validation by a seeded hash of their id (wsdata/process.py), decided chunk by chunk
with no global view, so a small build can end with none: 15 kept documents at 2% give 0 on
average a third of the time. Then, after the last chunk, the kept document with the smallest split
hash (the one the hash ranks first, whatever the chunking) is held out: its rows move from its
chunk's train shard to that chunk's validation shard, and the chunk's counters follow. Not when
the crawl names splits itself (`"split"`, an imported corpus): those stand as given.

The move is made resumable by writing the intent first: the chunk's completion marker gets
`"hold_out": DOC_ID` with its counters already moved, then the validation shard is written, then
the train shard rewritten without the document. A rerun (or `finalize` after a kill) finds the
intent and finishes whatever step was left.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from wsdata.config import BuildConfig
from wsdata.hashing import unit_interval
from wsdata.io import atomic
from wsdata.io.parquet import write_table_atomic
from wsdata.layout import Layout


def _chunk_of(shard: Path) -> int:
    m = re.search(r"-(\d+)\.parquet$", shard.name)
    assert m, shard
    return int(m.group(1))


def ensure_validation(out: Path, cfg: BuildConfig, n_chunks: int) -> str | None:
    """Hold out one document when the build has none in validation; returns its id (None when
    nothing was held out: a validation split exists, the fraction is 0, or fewer than two kept
    documents, since holding out the only one would leave nothing to train on)."""
    layout = Layout(out)
    markers = [json.loads(layout.chunk_marker(i).read_text(encoding="utf-8")) for i in range(n_chunks)]
    for i, m in enumerate(markers):  # an earlier run's intent: finish it
        if m.get("hold_out"):
            _move(layout, i, m["hold_out"], cfg)
            return m["hold_out"]
    if cfg.write.validation_fraction <= 0 or layout.shards("validation"):
        return None
    if any(m["stats"].get("docs_split_given") for m in markers):
        return None  # the crawl names its own splits (an imported corpus): they stand as given
    seed = cfg.write.split_seed
    ranked: list[tuple[float, str, Path]] = []
    for shard in layout.shards("train"):
        ids = set(pq.read_table(shard, columns=["doc_id"])["doc_id"].to_pylist())
        ranked += [(unit_interval(f"{seed}:{d}"), d, shard) for d in ids]
    if len(ranked) < 2:
        return None
    _, doc, shard = min(ranked)
    chunk = _chunk_of(shard)
    rows = pq.read_table(shard, columns=["doc_id", "duration_ms"])
    mine = rows.filter(pc.equal(rows["doc_id"], doc))
    ms, n = sum(mine["duration_ms"].to_pylist()), mine.num_rows
    marker = markers[chunk]
    st = marker["stats"]
    st["audio_ms_kept_train"] -= ms
    st["audio_ms_kept_validation"] += ms
    st["segments_kept_train"] -= n
    st["segments_kept_validation"] += n
    marker["hold_out"] = doc
    files = {*marker["files"], layout.validation_shard(chunk).relative_to(out).as_posix()}
    if n == rows.num_rows:  # the chunk's only kept document: its train shard goes (no rows, no file)
        files.discard(shard.relative_to(out).as_posix())
    marker["files"] = sorted(files)
    # the intent, with the counters moved: from here a rerun finishes it
    atomic.write_json(layout.chunk_marker(chunk), marker)
    _move(layout, chunk, doc, cfg)
    return doc


def _move(layout: Layout, chunk: int, doc: str, cfg: BuildConfig) -> None:
    """Rows of `doc` from chunk `chunk`'s train shard to its validation shard (each step once)."""
    train_path, val_path = layout.train_shard(chunk), layout.validation_shard(chunk)
    if not train_path.exists():
        return
    table = pq.read_table(train_path)
    is_doc = pc.equal(table["doc_id"], doc)
    if not pc.any(is_doc).as_py():
        return  # done
    if not val_path.exists():
        write_table_atomic(table.filter(is_doc), val_path, cfg.write.row_group_rows)
    rest = table.filter(pc.invert(is_doc))
    if rest.num_rows:
        write_table_atomic(rest, train_path, cfg.write.row_group_rows)
    else:
        atomic.remove(train_path)
