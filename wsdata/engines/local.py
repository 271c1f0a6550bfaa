"""The local engine: chunks on N worker processes of this machine, or in this process for N = 1
(and for a pass with a single chunk, where starting a worker would only add its start-up). At
most 2 chunks per worker are in flight, so memory stays bounded whatever the crawl's size; the
workers are started once and serve every pass of the build.

Stopping: Ctrl-C and SIGTERM are the driver's alone (workers ignore SIGINT from birth, so a
terminal's Ctrl-C, sent to the whole process group, prints no traceback of theirs). When the driver
stops for any reason, it kills its workers at once instead of waiting for their chunks (a chunk's
files appear atomically with its marker last, so a rerun redoes exactly the unfinished ones), and a
worker whose driver died anyway (SIGKILL) is killed by the kernel (Linux) or ends itself."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
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

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._pool is None:
            return
        if exc_type is None:
            self._pool.shutdown(cancel_futures=True)
            return
        self._kill_workers()  # Ctrl-C, SIGTERM, a fatal error: no chunk in flight is waited for
        # The pool's own thread may have seen the killed workers and closed its wake-up pipe already;
        # shutdown() then raises OSError ("handle is closed", Python < 3.12), which would replace the
        # exception that is stopping the build.
        with contextlib.suppress(OSError):
            self._pool.shutdown(cancel_futures=True)

    def _kill_workers(self) -> None:
        """SIGKILL every worker and reap it: its unfinished chunk leaves only temporaries, which the
        rerun removes (wsdata/orchestrate.py prepare_out)."""
        procs = list((self._pool._processes or {}).values()) if self._pool else []
        for p in procs:
            p.kill()
        for p in procs:
            p.join(timeout=5)

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            threads = max(1, (os.cpu_count() or 1) // self.workers)  # model threads per worker: no oversubscription
            # spawn, not fork: a forked child of a process whose model runtime started its thread pools
            # (CTranslate2, torch, OpenMP) can deadlock on their locks.
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_worker_init, initargs=(threads, os.getpid())
            )
        return self._pool

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """pool.submit, which starts a worker while there are fewer than N: started with SIGINT
        ignored, inherited from here, so a Ctrl-C while it imports is not its traceback."""
        with _sigint_ignored():
            return self.pool().submit(fn, *args)

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
        pending = {}
        for chunk in itertools.chain(first, chunks):
            pending[self._submit(fn, chunk, base_dir, out, cfg)] = len(chunk.lines)
            if len(pending) >= 2 * self.workers:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    on_done(f.result(), pending.pop(f))
        for f, n in pending.items():
            on_done(f.result(), n)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this process while the block runs (children started meanwhile inherit
    that), and held back rather than lost: it is blocked first, so one that arrives meanwhile is
    delivered to the restored handler at the end. Only the main thread may change handlers; from
    another thread this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _worker_init(threads: int, driver: int) -> None:
    """A worker's start: SIGINT is the driver's to handle; die with the driver; model threads."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(driver)
    set_threads(threads)


PR_SET_PDEATHSIG = 1  # linux/prctl.h: the signal this process gets when its parent ends


def _die_with(driver: int) -> None:
    """End this worker when `driver` (its parent) ends, however it ends: on Linux the kernel sends
    SIGKILL (prctl PR_SET_PDEATHSIG), elsewhere a thread polls the parent once a second."""
    if sys.platform.startswith("linux"):
        try:
            if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0:
                if os.getppid() != driver:  # it ended before the request was made
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_parent, args=(driver,), daemon=True).start()


def _watch_parent(driver: int) -> None:
    while os.getppid() == driver:
        time.sleep(1)
    os._exit(1)
