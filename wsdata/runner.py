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
from wsdata.io.crawl import id_key, iter_spans, peek_id
from wsdata.lid.audio import set_threads
from wsdata.pipeline import Chunk, marker_path, process_chunk


class BuildError(RuntimeError):
    """A problem with the build as a whole (bad paths, an output folder of another build)."""


def iter_chunks(source: Path, chunk_size: int) -> Iterator[Chunk]:
    """Chunks of the crawl in order, with duplicate ids marked (first occurrence wins)."""
    seen: dict[bytes, int] = {}
    chunk, start, first = Chunk(0, []), 0, 1
    for lineno, line, end in iter_spans(source):
        ident = peek_id(line)
        if ident is not None:
            k = id_key(ident)
            if k in seen:
                chunk.duplicate_of[lineno] = seen[k]
            else:
                seen[k] = lineno
        chunk.lines.append((lineno, line))
        if len(chunk.lines) == chunk_size:
            chunk.span = (start, end, first)
            yield chunk
            chunk, start, first = Chunk(chunk.index + 1, []), end, lineno + 1
    if chunk.lines:
        chunk.span = (start, end, first)
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


Done = Callable[[Any, int], None]  # called on the driver per finished chunk: (fn's result, lines in the chunk)


def _run(fn: Callable[..., Any], chunks: Iterator[Chunk], base_dir: Path, out: Path, cfg: BuildConfig,
         workers: int, on_done: Done) -> None:  # fmt: skip
    """The local engine: fn(chunk, base_dir, out, cfg) for every chunk, in this process or on
    `workers` processes, with at most 2 chunks per worker in flight (memory stays bounded)."""
    if workers == 1:
        set_threads(0)
        for chunk in chunks:
            on_done(fn(chunk, base_dir, out, cfg), len(chunk.lines))
        return
    threads = max(1, (os.cpu_count() or 1) // workers)  # model threads per worker: no oversubscription
    # spawn, not fork: a forked child of a process whose model runtime started its thread pools
    # (CTranslate2, torch, OpenMP) can deadlock on their locks.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=set_threads, initargs=(threads,)) as pool:
        pending: dict[Future[Any], int] = {}
        for chunk in chunks:
            pending[pool.submit(fn, chunk, base_dir, out, cfg)] = len(chunk.lines)
            if len(pending) >= 2 * workers:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    on_done(f.result(), pending.pop(f))
        for f, n in pending.items():
            on_done(f.result(), n)


def build(source: Path, out: Path, cfg: BuildConfig, workers: int | None = 1, progress: bool = True,
          engine: str = "local", ray_address: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Build `out` from the crawl file `source`; returns the stats (also in out/stats.json).

    engine "local": `workers` processes on this machine (default 1). engine "ray": Ray Data tasks,
    at most `workers` at once (default: every CPU of the cluster), on the cluster at `ray_address`
    or a local Ray instance. Both give the same output, and either resumes the other's build.
    """
    if not source.is_file():
        raise BuildError(f"--source {source}: no such file")
    if workers is not None and workers < 1:
        raise BuildError(f"--workers {workers}: must be >= 1")
    if engine not in ("local", "ray"):
        raise BuildError(f"--engine {engine}: must be local or ray")
    _prepare_out(out, source, cfg)
    if engine == "ray":
        from wsdata import ray_engine

        with ray_engine.Session(ray_address, workers):
            def run(fn: Callable[..., Any], chunks: Iterator[Chunk], on_done: Done) -> None:
                ray_engine.run(fn, chunks, source, source.resolve().parent, out, cfg, workers, on_done)

            return _build(source, out, cfg, run, ray_engine.ray_links, progress)
    n = workers or 1

    def run_local(fn: Callable[..., Any], chunks: Iterator[Chunk], on_done: Done) -> None:
        _run(fn, chunks, source.resolve().parent, out, cfg, n, on_done)

    return _build(source, out, cfg, run_local, cluster.local_links, progress)


def _build(source: Path, out: Path, cfg: BuildConfig, run: Callable[[Callable[..., Any], Iterator[Chunk], Done], None],
           links: cluster.Links, progress: bool) -> dict[str, Any]:  # fmt: skip
    """The build's three passes with an engine's `run` (chunks) and `links` (dedup group-bys)."""
    if cfg.dedup.enabled and not (out / cluster.WORK / "done.json").exists():
        # Global dedup first: sign every transcript (text only, no decode), then cluster them all.
        sign = tqdm(unit="doc", desc="dedup", disable=not progress, file=sys.stderr, mininterval=0.5, dynamic_ncols=True)
        chunks = (c for c in iter_chunks(source, cfg.read.chunk_size) if not cluster.sig_path(out, c.index).exists())
        run(cluster.signature_chunk, chunks, lambda _, n: sign.update(n))
        sign.close()
        cluster.find_duplicates(out, cfg, links)
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

    run(process_chunk, todo(), lambda marker, _: done(marker))
    bar.close()
    return report.finalize(out, cfg, n_chunks)
