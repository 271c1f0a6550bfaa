"""The local engine: stream the crawl into chunks, run them on N worker processes, resume.

Chunks are fixed runs of `read.chunk_size` crawl lines, so the output files and their rows are the
same whatever the number of workers. A chunk is done when its marker exists (written after its
shards); a rerun skips done chunks and redoes the rest from scratch, so killing the build at any
moment and rerunning gives the same output as one uninterrupted run.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from tqdm import tqdm

from wsdata import report
from wsdata.config import BuildConfig
from wsdata.dedup import cluster
from wsdata.io.crawl import id_key, iter_lines, peek_id
from wsdata.lid.audio import set_threads
from wsdata.pipeline import Chunk, marker_path, process_chunk


class BuildError(RuntimeError):
    """A problem with the build as a whole (bad paths, an output folder of another build)."""


def iter_chunks(source: Path, chunk_size: int) -> Iterator[Chunk]:
    """Chunks of the crawl in order, with duplicate ids marked (first occurrence wins)."""
    seen: dict[bytes, int] = {}
    chunk = Chunk(0, [])
    for lineno, line in iter_lines(source):
        ident = peek_id(line)
        if ident is not None:
            k = id_key(ident)
            if k in seen:
                chunk.duplicate_of[lineno] = seen[k]
            else:
                seen[k] = lineno
        chunk.lines.append((lineno, line))
        if len(chunk.lines) == chunk_size:
            yield chunk
            chunk = Chunk(chunk.index + 1, [])
    if chunk.lines:
        yield chunk


def _prepare_out(out: Path, source: Path, cfg: BuildConfig) -> None:
    """Record what this folder is built from; refuse to mix two builds in one folder."""
    work = out / "_work"
    work.mkdir(parents=True, exist_ok=True)
    ident = {"source": str(source.resolve()), "config": cfg.to_dict()}
    ident_file = work / "build.json"
    if ident_file.exists():
        old = json.loads(ident_file.read_text(encoding="utf-8"))
        if old != json.loads(json.dumps(ident)):
            raise BuildError(
                f"{out} holds a build of another source or config ({old.get('source')}); "
                "use a new --out folder, or delete this one to rebuild"
            )
    else:
        ident_file.write_text(json.dumps(ident, indent=1), encoding="utf-8")
    for stale in out.glob("**/*.tmp"):  # half-written files of a killed run
        stale.unlink()


def _run(fn: Callable[..., Any], chunks: Iterator[Chunk], base_dir: Path, out: Path, cfg: BuildConfig,
         workers: int, on_done: Callable[..., None]) -> None:  # fmt: skip
    """fn(chunk, base_dir, out, cfg) for every chunk, in this process or on `workers` processes,
    with at most 2 chunks per worker in flight (memory stays bounded); then on_done(result, chunk)."""
    if workers == 1:
        set_threads(0)
        for chunk in chunks:
            on_done(fn(chunk, base_dir, out, cfg), chunk)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)  # model threads per worker: no oversubscription
    # spawn, not fork: a forked child of a process whose model runtime started its thread pools
    # (CTranslate2, torch, OpenMP) can deadlock on their locks.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=set_threads, initargs=(threads,)) as pool:
        pending: dict[Future[Any], Chunk] = {}
        for chunk in chunks:
            pending[pool.submit(fn, chunk, base_dir, out, cfg)] = chunk
            if len(pending) >= 2 * workers:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    on_done(f.result(), pending.pop(f))
        for f, chunk in pending.items():
            on_done(f.result(), chunk)


def build(source: Path, out: Path, cfg: BuildConfig, workers: int = 1, progress: bool = True) -> dict[str, Any]:
    """Build `out` from the crawl file `source`; returns the stats (also in out/stats.json)."""
    if not source.is_file():
        raise BuildError(f"--source {source}: no such file")
    if workers < 1:
        raise BuildError(f"--workers {workers}: must be >= 1")
    _prepare_out(out, source, cfg)
    base_dir = source.resolve().parent
    if cfg.dedup.enabled and not (out / cluster.WORK / "done.json").exists():
        # Global dedup first: sign every transcript (text only, no decode), then cluster them all.
        sign = tqdm(unit="doc", desc="dedup", disable=not progress, file=sys.stderr, mininterval=0.5, dynamic_ncols=True)
        chunks = (c for c in iter_chunks(source, cfg.read.chunk_size) if not cluster.sig_path(out, c.index).exists())
        _run(cluster.signature_chunk, chunks, base_dir, out, cfg, workers, lambda n, c: sign.update(len(c.lines)))
        sign.close()
        cluster.find_duplicates(out, cfg)
    bar = tqdm(unit="doc", desc="build", disable=not progress, file=sys.stderr, mininterval=0.5, dynamic_ncols=True)
    t0, audio_ms = time.monotonic(), 0

    def done(marker: dict[str, Any]) -> None:
        nonlocal audio_ms
        audio_ms += marker["stats"].get("audio_ms/in", 0)
        bar.update(marker["stats"].get("docs/in", 0))
        hours = audio_ms / 3.6e6
        bar.set_postfix_str(f"{hours:.2f} h audio, {hours / max(time.monotonic() - t0, 1e-9):.4f} h/s")

    n_chunks = 0

    def todo() -> Iterator[Chunk]:
        nonlocal n_chunks
        n_chunks = 0
        for c in iter_chunks(source, cfg.read.chunk_size):
            n_chunks += 1
            if not marker_path(out, c.index).exists():
                yield c

    _run(process_chunk, todo(), base_dir, out, cfg, workers, lambda marker, c: done(marker))
    bar.close()
    return report.finalize(out, cfg, n_chunks)
