"""The local engine: chunks on N worker processes of this machine, or in this process for N = 1
(and for a pass with a single chunk, where starting a worker would only add its start-up). At
most 2 chunks per worker are in flight, so memory stays bounded whatever the crawl's size; the
workers are started once and serve every pass of the build."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsdata.chunks import Chunk
from wsdata.config import BuildConfig
from wsdata.dedup.cluster import local_links
from wsdata.lid.threads import set_threads

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; annotations are never evaluated here

Done = Callable[[Any, int], None]  # called on the driver per finished chunk: (fn's result, lines in the chunk)

links = local_links  # dedup's group-bys: polars, in this process


class Engine:
    def __init__(self, workers: int):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            threads = max(1, (os.cpu_count() or 1) // self.workers)  # model threads per worker: no oversubscription
            # spawn, not fork: a forked child of a process whose model runtime started its thread pools
            # (CTranslate2, torch, OpenMP) can deadlock on their locks.
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=set_threads, initargs=(threads,))
        return self._pool

    def run(
        self,
        fn: Callable[..., Any],
        chunks: Iterator[Chunk],
        base_dir: Path,
        out: Path,
        cfg: BuildConfig,
        on_done: Done,
    ) -> None:
        """fn(chunk, base_dir, out, cfg) for every chunk; on_done(result, lines) as each ends."""
        first = list(itertools.islice(chunks, 2))
        if self.workers == 1 or len(first) < 2:
            set_threads(0)
            for chunk in itertools.chain(first, chunks):
                on_done(fn(chunk, base_dir, out, cfg), len(chunk.lines))
            return
        pool, pending = self.pool(), {}
        for chunk in itertools.chain(first, chunks):
            pending[pool.submit(fn, chunk, base_dir, out, cfg)] = len(chunk.lines)
            if len(pending) >= 2 * self.workers:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    on_done(f.result(), pending.pop(f))
        for f, n in pending.items():
            on_done(f.result(), n)
