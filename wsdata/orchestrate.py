"""`wsdata build`: the passes of a build over the crawl, the same whatever the engine.

    1. dedup signing   every chunk: the stages before dedup, then MinHash keys   (skipped when done)
    2. dedup clusters  once: the engine's group-bys, verification, keep rule    (skipped when done)
    3. build           every chunk: the stages, the shards, a completion marker  (done chunks skipped)
    4. summary         stats.json, the dataset card, the review queue

Each pass leaves completion markers (wsdata/layout.py), so killing the build at any moment and
rerunning it gives the same output as one uninterrupted run. The engines (wsdata/engines/) only
decide where the chunks run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from wsdata import lock, summary
from wsdata.chunks import Chunk, iter_chunks
from wsdata.clock import CpuClock
from wsdata.config import BuildConfig
from wsdata.dedup import cluster
from wsdata.errors import BuildError
from wsdata.io import atomic
from wsdata.io.crawl import iter_lines
from wsdata.layout import Layout
from wsdata.process import ChunkResult, process_chunk
from wsdata.stages import require_models

Run = Callable[[Callable[..., Any], Iterator[Chunk], Callable[[Any, int], None]], None]


def build(
    source: Path,
    out: Path,
    cfg: BuildConfig,
    workers: int | None = 1,
    progress: bool = True,
    engine: str = "local",
    ray_address: str | None = None,
    clock: CpuClock | None = None,
) -> dict[str, Any]:
    """Build `out` from the crawl file `source`; returns the stats (also in out/stats.json).

    engine "local": `workers` processes on this machine (default 1). engine "ray": Ray Data tasks,
    at most `workers` at once (default: every CPU of the cluster), on the cluster at `ray_address`
    or a local Ray instance. Both give the same output, and either resumes the other's build.
    `clock`, when given, receives the CPU seconds of every step of this run (workers' included).
    Raises wsdata.errors.FatalError (a model that will not load, a missing extra, a full disk) from
    whichever process met it; stats.json and the card are then not written.
    """
    if source.is_dir():
        raise BuildError(f"--source {source} is a folder: give the crawl file (JSON lines, docs/pipeline.md)")
    if not source.is_file():
        raise BuildError(f"--source {source}: no such file")
    if workers is not None and workers < 1:
        raise BuildError(f"--workers {workers}: must be >= 1")
    if engine not in ("local", "ray"):
        raise BuildError(f"--engine {engine}: must be local or ray")
    require_models(cfg)  # a wrong model path or a missing extra: a FatalError before anything is written
    check_out(out)  # a folder of the user's is refused before anything is written into it
    with lock.hold(Layout(out).lock, out):  # one writer at a time, from here to the end
        prepare_out(out, source, cfg)
        return _run(source, out, cfg, workers, progress, engine, ray_address, clock or CpuClock())


def _run(
    source: Path,
    out: Path,
    cfg: BuildConfig,
    workers: int | None,
    progress: bool,
    engine: str,
    ray_address: str | None,
    clock: CpuClock,
) -> dict[str, Any]:
    """The passes on the chosen engine (`build`'s arguments, checked)."""
    base_dir = source.resolve().parent
    if engine == "ray":
        from wsdata.engines import ray as ray_engine

        with ray_engine.Session(ray_address, workers):

            def run_ray(fn: Callable[..., Any], chunks: Iterator[Chunk], on_done: Callable[[Any, int], None]) -> None:
                ray_engine.run(fn, chunks, source, base_dir, out, cfg, workers, on_done)

            return _passes(source, out, cfg, run_ray, ray_engine.links, progress, clock)
    from wsdata.engines import local

    with local.Engine(workers or 1) as eng:

        def run_local(fn: Callable[..., Any], chunks: Iterator[Chunk], on_done: Callable[[Any, int], None]) -> None:
            eng.run(fn, chunks, base_dir, out, cfg, on_done)

        return _passes(source, out, cfg, run_local, local.links, progress, clock)


def started() -> str:
    """Now, as UTC ISO 8601; SOURCE_DATE_EPOCH (the reproducible-builds convention) when set, so two
    builds of the same input can be compared byte for byte."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return when.isoformat(timespec="seconds")


def check_out(out: Path) -> None:
    """Refuse an `--out` that is a file, or a folder of the user's (not empty, no `_work/`)."""
    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {out} is a file, not a folder")
    if out.is_dir() and not Layout(out).work.is_dir() and any(out.iterdir()):
        raise BuildError(f"--out {out} is not empty and holds no wsdata build; give a new or empty folder")


def prepare_out(out: Path, source: Path, cfg: BuildConfig) -> None:
    """Record what this folder is built from; refuse a folder that holds anything else (another
    build, or files of the user's: the build deletes and replaces files in its folder)."""
    layout = Layout(out)
    check_out(out)
    layout.work.mkdir(parents=True, exist_ok=True)
    ident = {"source": str(source.resolve()), "config": cfg.to_dict()}
    if layout.build_ident.exists():
        old = json.loads(layout.build_ident.read_text(encoding="utf-8"))
        old.pop("started", None)  # when, not what: a rerun keeps the first run's
        if old != json.loads(json.dumps(ident)):
            raise BuildError(
                f"{out} holds a build of another source or config ({old.get('source')}); "
                "use a new --out folder, or delete this one to rebuild"
            )
    else:
        atomic.write_text(layout.build_ident, json.dumps({**ident, "started": started()}, indent=1))
    for stale in layout.stale_temporaries():  # half-written files of a killed run, and only those
        atomic.remove(stale)


def _bar(desc: str, progress: bool, total: int | None = None, initial: int = 0) -> tqdm:
    """A progress bar on a terminal only (disable=None): a log file or pipe gets no carriage returns.
    With `total` (documents) it shows the share done and an ETA."""
    disable = None if progress else True
    return tqdm(
        unit="doc",
        desc=desc,
        total=total,
        initial=initial,
        disable=disable,
        file=sys.stderr,
        mininterval=0.5,
        dynamic_ncols=True,
    )


def _documents(source: Path, cfg: BuildConfig, progress: bool) -> int | None:
    """The crawl's documents (non-blank lines), counted without parsing, for the bars' totals."""
    if not progress or not sys.stderr.isatty():
        return None
    return sum(1 for _ in iter_lines(source, cfg.limits.max_line_bytes))


def _passes(
    source: Path, out: Path, cfg: BuildConfig, run: Run, links: cluster.Links, progress: bool, clock: CpuClock
) -> dict[str, Any]:
    layout = Layout(out)
    total = _documents(source, cfg, progress)
    markers = sorted(layout.work.glob("chunks/*.json"))
    if markers:  # a rerun: what is on disk stays, the rest is built
        n = len(markers)
        print(f"resuming: {n} chunk{'s' * (n != 1)} of an earlier run done and kept", file=sys.stderr)
    if cfg.dedup.enabled and not layout.dedup_done.exists():
        sign = _bar("dedup", progress, total)

        def signed(cpu: dict[str, float], n: int) -> None:
            clock.add(cpu)
            sign.update(n)

        chunks = (
            c
            for c in iter_chunks(source, cfg.read.chunk_size, cfg.limits.max_line_bytes)
            if not layout.dedup_signatures(c.index).exists()
        )
        run(cluster.signature_chunk, chunks, signed)
        sign.close()
        with clock.timed("dedup/cluster"):
            cluster.find_duplicates(out, cfg, links)
    done_docs = sum(json.loads(p.read_text(encoding="utf-8"))["stats"]["docs_in"] for p in markers)
    bar = _bar("build", progress, total, done_docs)
    t0, audio_ms = time.monotonic(), 0

    def done(result: ChunkResult, _: int) -> None:
        nonlocal audio_ms
        clock.add(result.cpu)
        stats = result.marker["stats"]
        audio_ms += stats["audio_ms_in"]
        bar.update(stats["docs_in"])
        hours = audio_ms / 3.6e6
        bar.set_postfix_str(f"{hours:.2f} h audio, {hours / max(time.monotonic() - t0, 1e-9):.4f} h/s")

    n_chunks = 0

    def todo() -> Iterator[Chunk]:
        nonlocal n_chunks
        n_chunks = 0
        for c in iter_chunks(source, cfg.read.chunk_size, cfg.limits.max_line_bytes):
            n_chunks += 1
            if not layout.chunk_marker(c.index).exists():
                yield c

    run(process_chunk, todo(), done)
    bar.close()
    with clock.timed("summary"):
        return summary.finalize(out, cfg, n_chunks)
