"""Global duplicate detection, in three resumable steps that hold no in-memory LSH index.

1. `signature_chunk` (per chunk, in the workers): the stages that come before dedup, then the
   MinHash signature of each surviving transcript, reduced to one key per LSH band, spilled to
   `_work/dedup/sig/NNNNN.parquet` (written atomically: the file is the chunk's completion mark).
2. `find_duplicates` (once): for the exact key and each band, the spilled keys are grouped (polars
   here in `local_links`, or one Ray shuffle in `wsdata.ray_engine.ray_links`) to link every member
   of a bucket to the bucket's first line; a band link is kept when the two
   full signatures estimate a Jaccard similarity >= the threshold; `union_find` turns the links
   into clusters; each cluster keeps one member by the stated rule. Decisions go to
   `_work/dedup/decisions.parquet` (sorted by line), then `_work/dedup/done.json`.
3. The build proper reads the decisions of its chunk's lines and the `dedup` stage applies them.

Memory: step 2 groups one key column at a time, in parts of at most ROWS_PER_PART documents, and
holds the links and the signatures of linked documents only: it grows with the duplicates found,
not with the crawl.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from wsdata.chunks import Chunk
from wsdata.clock import CpuClock
from wsdata.config import BuildConfig
from wsdata.datamodel import Document
from wsdata.dedup.minhash import band_keys, estimated_jaccard, exact_key, lsh_params, signatures, tokens
from wsdata.errors import fatal_errors
from wsdata.io import atomic
from wsdata.io.parquet import write_table_atomic
from wsdata.layout import Layout
from wsdata.stages import BEFORE_DEDUP, ReadLine
from wsdata.stages.base import Books


def machine_looking(doc: Document, cfg: BuildConfig) -> bool:
    score = doc.evidence.get("machine_score") or 0.0
    return doc.caption_kind == "asr" or score >= cfg.dedup.machine_looking_score


@fatal_errors()  # a full disk while spilling keys, as in a stage: wsdata.errors.DiskFull from any engine
def signature_chunk(chunk: Chunk, base_dir: Path, out: Path, cfg: BuildConfig) -> dict[str, float]:
    """Step 1 for one chunk; returns the CPU seconds it took, by step."""
    path = Layout(out).dedup_signatures(chunk.index)
    if path.exists():
        return {}
    clock = CpuClock()
    books = Books(output=None, clock=clock)  # these stages run again in the build: count nothing here
    read, stages = ReadLine(cfg, books), [s(cfg, books) for s in BEFORE_DEDUP]
    lines, ids, words, looks, lengths = [], [], [], [], []
    for lineno, raw in chunk.lines:
        doc = read(lineno, raw, base_dir, chunk.duplicate_of.get(lineno))
        if doc is None or any(stage(doc) is not None for stage in stages):
            continue
        assert doc.transcript is not None
        w = tokens(doc.transcript.text)
        if len(w) < cfg.dedup.min_words:  # too short to tell a copy from a common phrase
            continue
        lines.append(lineno)
        ids.append(doc.id)
        words.append(w)
        looks.append(machine_looking(doc, cfg))
        lengths.append(len(doc.transcript.text))
    with clock.timed("dedup/sign"):
        d = cfg.dedup
        bands, rows = lsh_params(d.threshold, d.num_perm)
        sig = signatures(words, d.ngram, d.num_perm, d.seed)
        keys = band_keys(sig, bands, rows)
    cols: dict[str, Any] = {
        "line": pa.array(lines, pa.int64()),
        "doc_id": pa.array(ids, pa.string()),
        "exact": pa.array([exact_key(w) for w in words], pa.int64()),
        "machine_looking": pa.array(looks, pa.bool_()),
        "length": pa.array(lengths, pa.int64()),
        "n_words": pa.array([len(w) for w in words], pa.int64()),
        "sig": pa.array([row.tobytes() for row in sig], pa.binary()),  # to verify LSH candidates
    }
    for k in range(bands):
        cols[f"band_{k}"] = pa.array(keys[:, k], pa.int64())
    write_table_atomic(pa.table(cols), path)
    return dict(clock.spent)


def union_find(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the graph with edges (u[i], v[i]), vectorised.

    Hook every edge's larger root under its smaller one, compress paths by pointer jumping, repeat
    until every edge has both ends under one root. Returns (nodes, label): each node's label is the
    smallest node of its component.
    """
    nodes = np.unique(np.concatenate([u, v]))
    iu, iv = np.searchsorted(nodes, u), np.searchsorted(nodes, v)
    parent = np.arange(len(nodes))
    while True:
        ru, rv = parent[iu], parent[iv]
        if np.array_equal(ru, rv):
            return nodes, nodes[parent]
        np.minimum.at(parent, np.maximum(ru, rv), np.minimum(ru, rv))
        while True:  # path compression: point every node at its root
            pp = parent[parent]
            if np.array_equal(pp, parent):
                break
            parent = pp


ROWS_PER_PART = 2_000_000  # documents grouped at once: bounds the memory of a group-by


LINKS_SCHEMA = {"band": pl.Int16, "line": pl.Int64, "root": pl.Int64}


def key_columns(bands: int) -> list[tuple[int, str]]:
    """(band number, column) of the spilled keys: band -1 is the exact key, 0.. the LSH bands."""
    return [(-1, "exact"), *((k, f"band_{k}") for k in range(bands))]


def local_links(files: list[Path], bands: int, n_rows: int) -> pl.DataFrame:
    """(band, line, root) for every line that shares a key with an earlier line: root is the
    smallest line of the bucket. Polars, in this process (the local engine; `wsdata.ray_engine`
    computes the same table with Ray group-bys).

    Each key column is split into parts by its low bits (equal keys land in the same part), and
    each part is grouped on its own: memory follows ROWS_PER_PART, not the size of the crawl.
    """
    parts = 1 << max(0, math.ceil(math.log2(max(1, n_rows) / ROWS_PER_PART)))
    out = [pl.DataFrame(schema=LINKS_SCHEMA)]
    for band, key in key_columns(bands) if files else []:
        for p in range(parts):
            lf = pl.scan_parquet(files).select("line", key)
            if parts > 1:
                lf = lf.filter((pl.col(key) & (parts - 1)) == p)
            lf = lf.collect().lazy()  # one part of one key column in memory
            links = bucket_links(lf, [key])
            out.append(links.select(pl.lit(band, pl.Int16).alias("band"), "line", "root").collect())
    return pl.concat(out)


def bucket_links(lf: pl.LazyFrame, on: list[str]) -> pl.LazyFrame:
    """The rows of `lf` (a `line` column and the key columns `on`) whose key is shared with a
    smaller line, each with `root`: the smallest line of its bucket."""
    roots = lf.group_by(on).agg(pl.col("line").min().alias("root"), pl.len().alias("n")).filter(pl.col("n") > 1)
    return lf.join(roots, on=on).filter(pl.col("line") != pl.col("root"))


def _verified(cands: pl.DataFrame, files: list[Path], threshold: float) -> pl.DataFrame:
    """The LSH candidate pairs whose full signatures agree on at least `threshold` of their values.

    Signatures are read file by file and only those of linked lines are kept (memory follows the
    duplicates, not the crawl)."""
    if cands.height == 0:
        return cands
    wanted = np.unique(np.concatenate([cands["line"].to_numpy(), cands["root"].to_numpy()]))
    lines, sigs = [], []
    for f in files:
        t = pq.read_table(f, columns=["line", "sig"])
        keep = np.flatnonzero(np.isin(t["line"].to_numpy(), wanted))
        if len(keep):
            lines.append(t["line"].to_numpy()[keep])
            sigs.append(b"".join(t["sig"].take(pa.array(keep)).to_pylist()))
    order = np.concatenate(lines)
    mat = np.frombuffer(b"".join(sigs), dtype=np.uint32).reshape(len(order), -1)
    at = np.argsort(order)
    row = lambda x: at[np.searchsorted(order, x, sorter=at)]
    est = estimated_jaccard(mat[row(cands["line"].to_numpy())], mat[row(cands["root"].to_numpy())])
    return cands.filter(pl.Series(est >= threshold))


Links = Callable[[list[Path], int, int], pl.DataFrame]  # (files, bands, rows in them) -> LINKS_SCHEMA


def find_duplicates(out: Path, cfg: BuildConfig, links: Links = local_links) -> dict[str, Any]:
    """Step 2: cluster every signed document, pick keepers, write the decisions. Resumable.
    `links` finds the bucket-mates (the group-bys); the rest runs here, on what they found."""
    layout = Layout(out)
    if layout.dedup_done.exists():
        return json.loads(layout.dedup_done.read_text(encoding="utf-8"))
    d = cfg.dedup
    bands, rows = lsh_params(d.threshold, d.num_perm)
    files = layout.all_dedup_signatures()
    n_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    found = links(files, bands, n_rows)
    exact = found.filter(pl.col("band") == -1).select("line", "root")
    cands = found.filter(pl.col("band") >= 0).select("line", "root").unique()
    pairs = pl.concat([exact, _verified(cands, files, d.threshold)])
    decisions = pl.DataFrame(schema={"line": pl.Int64, "reason": pl.String, "detail": pl.String})
    n_clusters = 0
    if pairs.height:
        nodes, label = union_find(pairs["line"].to_numpy(), pairs["root"].to_numpy())
        members = pl.DataFrame({"line": nodes, "cluster": label})
        info = pl.scan_parquet(files).select("line", "doc_id", "exact", "machine_looking", "length")
        m = (
            members.lazy()
            .join(info, on="line")
            .sort(["cluster", "machine_looking", "length", "doc_id"], descending=[False, False, True, False])
            .collect()
        )
        keep = (
            m.group_by("cluster", maintain_order=True)
            .first()
            .select(
                "cluster",
                pl.col("doc_id").alias("keeper"),
                pl.col("exact").alias("keeper_exact"),
                pl.col("line").alias("keeper_line"),
            )
        )
        n_clusters = keep.height
        decisions = (
            m.join(keep, on="cluster")
            .filter(pl.col("line") != pl.col("keeper_line"))
            .select(
                "line",
                pl.when(pl.col("exact") == pl.col("keeper_exact"))
                .then(pl.lit("dedup.exact"))
                .otherwise(pl.lit("dedup.near_duplicate"))
                .alias("reason"),
                pl.format(
                    "duplicate_of={} (line {}; cluster of lines from {})", "keeper", "keeper_line", "cluster"
                ).alias("detail"),
            )
            .sort("line")
        )
    write_table_atomic(decisions.to_arrow(), layout.dedup_decisions)
    summary = {
        "threshold": d.threshold,
        "ngram": d.ngram,
        "num_perm": d.num_perm,
        "bands": bands,
        "rows": rows,
        "documents_signed": n_rows,
        "clusters": n_clusters,
        "rejected": decisions.height,
        "rejected_exact": int((decisions["reason"] == "dedup.exact").sum()) if decisions.height else 0,
    }
    atomic.write_json(layout.dedup_done, summary)
    return summary


def decisions_for(layout: Layout, first_line: int, last_line: int) -> dict[int, tuple[str, str]]:
    """The dedup decisions of crawl lines first_line..last_line: line -> (reason, detail)."""
    path = layout.dedup_decisions
    if not path.exists():
        return {}
    t = pq.read_table(path, filters=[("line", ">=", first_line), ("line", "<=", last_line)])
    return {ln: (r, dt) for ln, r, dt in zip(t["line"].to_pylist(), t["reason"].to_pylist(), t["detail"].to_pylist())}
