"""One chunk of crawl lines through the stages, to its shard files and completion marker.

`process_chunk` is a pure function of its lines and the config (plus the files they name): it
runs the same in a local worker process or a Ray task. It writes every output of its chunk
atomically, ending with the completion marker that makes a rerun skip it. The stages, in their
order, are in wsdata/stages/__init__.py; the counting and reject rows in their base.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsdata.chunks import Chunk
from wsdata.clock import CpuClock
from wsdata.config import BuildConfig
from wsdata.datamodel import Document, Segment
from wsdata.dedup.cluster import decisions_for
from wsdata.errors import fatal_errors
from wsdata.hashing import unit_interval
from wsdata.io import atomic
from wsdata.layout import Layout
from wsdata.rows import ChunkOutput
from wsdata.stages import SEGMENT_STAGES, AgreeCheck, ReadLine, doc_stages
from wsdata.stages.base import Books


@dataclass
class ChunkResult:
    marker: dict[str, Any]  # what the chunk's completion marker holds (its files and counters)
    cpu: dict[str, float]  # CPU seconds per step in this run: never written, so reruns stay identical


def in_validation(doc: Document, cfg: BuildConfig) -> bool:
    """Held out: a document's segments all go to one split, the crawl's `split` where it names one
    (an imported corpus keeps its own), else by a seeded hash of its id."""
    if doc.split is not None:
        return doc.split == "validation"
    return unit_interval(f"{cfg.write.split_seed}:{doc.id}") < cfg.write.validation_fraction


@fatal_errors()  # a full disk while writing, as in a stage: wsdata.errors.DiskFull from any engine
def process_chunk(chunk: Chunk, base_dir: Path, out: Path, cfg: BuildConfig) -> ChunkResult:
    """Run every line of `chunk`, write its shards, then its marker."""
    layout = Layout(out)
    clock = CpuClock()
    output = ChunkOutput(layout, chunk.index, cfg, clock)
    books = Books(output, clock)
    read = ReadLine(cfg, books)
    documents = [s(cfg, books) for s in doc_stages(cfg)]
    segment_stages = [s(cfg, books) for s in SEGMENT_STAGES]
    agree = AgreeCheck(cfg, books) if cfg.agree.asr else None  # batched: decides documents later
    dups = decisions_for(layout, *chunk.line_range) if chunk.lines and cfg.dedup.enabled else {}
    for lineno, line in chunk.lines:
        doc = read(lineno, line, base_dir, chunk.duplicate_of.get(lineno))
        if doc is None:
            continue
        doc.dedup = dups.get(lineno)
        if any(stage(doc) is not None for stage in documents):  # rejected, and written, by that stage
            continue
        segments: list[Segment] = []  # the first segment stage cuts them
        if all(stage(doc, segments) is None for stage in segment_stages):
            for d, segs in agree.offer(doc, segments) if agree else [(doc, segments)]:
                books.keep_document(d, segs, in_validation(d, cfg))
    for d, segs in agree.flush() if agree else []:
        books.keep_document(d, segs, in_validation(d, cfg))
    first, last = chunk.line_range
    marker = {
        "chunk": chunk.index,
        "lines": [first, last] if chunk.lines else [],
        "files": output.close(),
        "stats": books.stats.to_json(),
    }
    atomic.write_json(layout.chunk_marker(chunk.index), marker)
    return ChunkResult(marker, dict(clock.spent))
