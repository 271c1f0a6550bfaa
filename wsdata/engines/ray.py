"""The Ray engine: the local engine's per-chunk functions as Ray Data tasks, dedup's group-bys as
Ray shuffles. Needs `pip install 'wsdata[ray]'`.

What runs where:
- the driver (where `wsdata build` runs) reads the crawl once to cut chunks and mark repeated ids,
  exactly as the local engine does, and ships each chunk as a byte range of the crawl file
  (`Chunk.without_lines`), a few bytes;
- a Ray Data `map_batches` task per chunk re-reads its lines and runs the same function as a local
  worker (`cluster.signature_chunk`, then `process.process_chunk`): same stages, same Parquet
  writer, same completion markers. A chunk whose marker exists is not submitted, so a killed job
  resumes; a task whose worker dies is retried by Ray (its files are rewritten under the same
  names, atomically, so nothing is lost or written twice); a task's wsdata.errors.FatalError comes
  back as its result and is raised on the driver, the same error a local build raises;
- dedup's bucket search (`ray_links`) is one Ray shuffle: every spilled key in long form, grouped
  by a hash part of (band, key), each part's buckets found by polars in one task. Only the links
  come back; verification, clustering and the keep rule then run on the driver over the links
  (`cluster.find_duplicates`), as locally.

Every node must see the crawl file, the audio it names (or reach them by URI) and `--out` at the
same paths: docs/scaling.md.
"""

from __future__ import annotations

import logging
import math
import pickle
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from wsdata.chunks import Chunk
from wsdata.config import BuildConfig
from wsdata.dedup import cluster
from wsdata.errors import BuildError, FatalError
from wsdata.lid.threads import set_threads

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; annotations are never evaluated here

TASK_RETRIES = 3  # attempts after a worker dies (Ray's default for Ray Data is endless)


class RayUnavailable(BuildError):
    """Ray is not installed, or the cluster cannot be reached; the message says what to do."""


def _ray() -> Any:
    try:
        import ray
        import ray.data  # the Data library is the extra's point
    except ImportError as e:
        raise RayUnavailable(f"--engine ray needs Ray Data: pip install 'wsdata[ray]' ({e})") from e
    return ray


class Session:
    """Ray for the length of one build: joins `address`, or starts a local instance with `cpus`
    CPUs when there is none; shuts down only what it started."""

    def __init__(self, address: str | None, cpus: int | None):
        self.address, self.cpus, self.started = address, cpus, False

    def __enter__(self) -> Self:
        ray = _ray()
        if not ray.is_initialized():
            main = threading.current_thread() is threading.main_thread()
            sigterm = signal.getsignal(signal.SIGTERM) if main else None
            try:
                if self.address:
                    ray.init(address=self.address, logging_level=logging.ERROR)
                else:
                    ray.init(num_cpus=self.cpus, include_dashboard=False, logging_level=logging.ERROR)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise RayUnavailable(
                    f"cannot start or reach Ray at {self.address or 'a new local instance'}: {e}"
                ) from e
            finally:
                if sigterm is not None:  # ray.init makes SIGTERM exit(15): keep the command's (wsdata/cli.py)
                    signal.signal(signal.SIGTERM, sigterm)
            self.started = True
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the build draws its own
        # Dedup's one shuffle groups on a part number with few values: the pull-based sort shuffle
        # moved 1 M documents' keys as fast as the hash shuffle and 200 k five times faster
        # (no aggregator actors to start), on 2 cores.
        ctx.shuffle_strategy = ray.data.context.ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its notices are about its own tuning
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            _ray().shutdown()


def _apply(
    batch: dict[str, Any], fn: Callable[..., Any], source: str, base_dir: str, out: str, cfg: BuildConfig
) -> dict[str, Any]:
    """One chunk (a pickled line-less Chunk) through `fn`, in a Ray task. One CPU per task: the
    audio model gets one thread, as Ray gives the task one core."""
    set_threads(1)
    results = []
    for blob in batch["chunk"]:
        chunk = pickle.loads(blob).with_lines(Path(source), cfg.limits.max_line_bytes)
        try:
            result = fn(chunk, Path(base_dir), Path(out), cfg)
        except FatalError as e:  # returned, not raised: Ray would retry it, then wrap it in its own traceback
            result = e
        results.append(pickle.dumps(result))
    return {"index": batch["index"], "result": results}


def run(
    fn: Callable[..., Any],
    chunks: Iterator[Chunk],
    source: Path,
    base_dir: Path,
    out: Path,
    cfg: BuildConfig,
    workers: int | None,
    on_done: Callable[[Any, int], None],
) -> None:
    """fn(chunk, base_dir, out, cfg) for every chunk as Ray Data tasks, at most `workers` at once
    (None: as many as the cluster has CPUs); on_done(result, lines in the chunk) on the driver as
    each ends."""
    ray = _ray()
    sizes, items = {}, []
    for c in chunks:
        sizes[c.index] = len(c.lines)
        items.append({"index": c.index, "chunk": pickle.dumps(c.without_lines())})
    if not items:
        return
    size = min(workers, len(items)) if workers else None
    with warnings.catch_warnings():  # max_retries has no named parameter yet (ray<2.64 in the extra)
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _apply,
            batch_size=1,
            num_cpus=1,
            compute=ray.data.TaskPoolStrategy(size=size),
            fn_kwargs={"fn": fn, "source": str(source), "base_dir": str(base_dir), "out": str(out), "cfg": cfg},
            max_retries=TASK_RETRIES,
        )
    for row in ds.iter_rows():
        result = pickle.loads(row["result"])
        if isinstance(result, FatalError):  # a task's model, extra or disk: the build stops here, as locally
            raise result
        on_done(result, sizes[row["index"]])


def _key_rows(paths: dict[str, Any], bands: int, parts: int) -> pa.Table:
    """Spilled-key files to long form: (part, band, key, line), one row per key column of each
    line; `part` is a hash of (band, key) modulo `parts`."""
    cols = cluster.key_columns(bands)
    batch = pa.concat_tables(pq.read_table(f, columns=["line", *(c for _, c in cols)]) for f in paths["path"])
    n = batch.num_rows
    band = np.repeat(np.arange(-1, bands, dtype=np.int16), n)
    key = np.concatenate([batch[c].to_numpy() for _, c in cols])
    mixed = (key.view(np.uint64) ^ (band.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))) >> np.uint64(7)
    return pa.table(
        {
            "part": (mixed % np.uint64(parts)).astype(np.int32),
            "band": band,
            "key": key,
            "line": np.tile(batch["line"].to_numpy(), len(cols)),
        }
    )


def _part_links(part: pa.Table) -> pa.Table:
    """(band, line, root) for one hash part of the long-form keys: every (band, key) bucket lies
    wholly in one part, so polars groups it alone, as `cluster.local_links` does one key column."""
    links = cluster.bucket_links(pl.from_arrow(part).lazy(), ["band", "key"])
    return links.select("band", "line", "root").collect().to_arrow()


def ray_links(files: list[Path], bands: int, n_rows: int) -> pl.DataFrame:
    """`cluster.local_links`, computed by Ray: the keys in long form, shuffled by a hash of
    (band, key) into parts of at most ROWS_PER_PART rows (a Ray group-by on the part), each part's
    buckets then grouped by polars in one task. Only the links come back to the driver."""
    ray = _ray()
    if not files:
        return pl.DataFrame(schema=cluster.LINKS_SCHEMA)
    rows = n_rows * len(cluster.key_columns(bands))
    parts = max(1, math.ceil(rows / cluster.ROWS_PER_PART))
    # One task per spilled file (read with pyarrow, as every other reader of _work does).
    paths = ray.data.from_items([{"path": str(f)} for f in files], override_num_blocks=len(files))
    keys = paths.map_batches(_key_rows, batch_size=1, batch_format="numpy", fn_kwargs={"bands": bands, "parts": parts})
    links = keys.groupby("part", num_partitions=parts).map_groups(_part_links, batch_format="pyarrow")
    found = [t for t in ray.get(links.to_arrow_refs()) if t.num_rows]
    if not found:
        return pl.DataFrame(schema=cluster.LINKS_SCHEMA)
    return pl.from_arrow(pa.concat_tables(found)).cast(cluster.LINKS_SCHEMA)


links = ray_links  # the engine interface name (wsdata/engines/__init__.py)
