"""A streaming loader over the shards: row groups split across DDP ranks and DataLoader workers,
a seeded shuffle buffer, FLAC decoded in the workers, targets built there too.

Every stream is a pure function of (seed, epoch, rank, worker), so a resumed run skips exactly the
samples it had consumed (without decoding their audio) and sees the same data as an uninterrupted
one. Several builds (a mixture, wsdata/train/mixture.py) are one stream per build, interleaved by a
seeded choice of the build of each sample: a pure function of the seed too. A DataLoader takes
batch b from worker b % num_workers; `skip_batches` uses that. A row that
cannot become a target (`targets.BadRow`) is skipped with a warning, the same way on every run.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from wsdata.constants import CHUNK_SAMPLES
from wsdata.io.audio import decode_flac
from wsdata.train.mixture import Component
from wsdata.train.targets import BadRow, target
from wsdata.vocab import Vocab

PAD_TO = 8  # decoder lengths padded to a multiple of 8: tensor-core shapes, fewer torch.compile variants
COLUMNS = ["id", "audio", "text", "timestamps", "prev_text", "language", "task", "no_speech", "source"]


class ShardStream(IterableDataset):
    """The samples of shard `files`, or of a mixture of builds (a list of `Component`s)."""

    def __init__(
        self,
        files: list[Path] | list[Component],
        vocab: Vocab,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        shuffle_buffer: int = 256,
        batch_size: int = 1,
        p_prev: float = 0.5,
        p_timestamps: float = 0.5,
        loop: bool = True,
    ):
        if not files:
            raise FileNotFoundError("no shard files to read")
        comps = files if isinstance(files[0], Component) else [Component("data", Path(), 1.0, tuple(files))]
        self.weights = [c.weight for c in comps]
        self.keep = [c.keep for c in comps]
        # per component: its (file, row group) units
        self.units = [[(str(f), g) for f in c.files for g in range(pq.ParquetFile(f).num_row_groups)] for c in comps]
        self.vocab, self.seed, self.rank, self.world = vocab, seed, rank, world
        self.shuffle_buffer, self.batch_size, self.loop = shuffle_buffer, batch_size, loop
        self.p_prev, self.p_timestamps = p_prev, p_timestamps
        self.skip_batches = 0  # batches of this rank's loader already consumed (set on resume)

    def _rows(self, worker: int, n_workers: int, c: int = 0) -> Iterator[tuple[dict[str, Any], random.Random]]:
        g, n_g = self.rank * n_workers + worker, self.world * n_workers
        seed = self.seed if c == 0 else f"{self.seed}:c{c}"  # the first (or only) build: as ever
        epoch = 0
        while True:
            rng = random.Random(f"{seed}:{epoch}:{g}")
            units = list(self.units[c])
            random.Random(f"{seed}:{epoch}").shuffle(units)  # the same order on every rank
            mine = units[g::n_g] or [units[g % len(units)]]  # fewer row groups than readers: share
            buf: list[dict[str, Any]] = []
            n = 0
            for path, group in mine:
                for row in pq.ParquetFile(path).read_row_group(group, columns=COLUMNS).to_pylist():
                    n += 1
                    buf.append(row)
                    if len(buf) >= self.shuffle_buffer:
                        yield buf.pop(rng.randrange(len(buf))), rng
            while buf:
                yield buf.pop(rng.randrange(len(buf))), rng
            if n == 0:
                raise ValueError(f"no rows in the row groups of reader {g}: {mine}")
            epoch += 1
            if not self.loop:
                return

    def _mixed(self, worker: int, n_workers: int) -> Iterator[tuple[dict[str, Any], random.Random, int]]:
        """(row, its rng, component) in the mixture's order: a seeded choice of component by weight
        for each sample, then a seeded acceptance of the row (temperature, source cap)."""
        if len(self.units) == 1 and not self.keep[0]:
            yield from ((row, rng, 0) for row, rng in self._rows(worker, n_workers))
            return
        g = self.rank * n_workers + worker
        streams = [self._rows(worker, n_workers, c) for c in range(len(self.units))]
        pick = random.Random(f"{self.seed}:mix:{g}")
        accept = [random.Random(f"{self.seed}:accept:{c}:{g}") for c in range(len(self.units))]
        while True:
            c = pick.choices(range(len(streams)), weights=self.weights)[0]
            for row, rng in streams[c]:
                p = self.keep[c].get((row["language"] or "", row.get("source") or ""), 1.0)
                if p >= 1.0 or accept[c].random() < p:
                    yield row, rng, c
                    break
            else:
                return  # a stream that does not loop has ended

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info else (0, 1)
        skip = (self.skip_batches - worker + n_workers - 1) // n_workers * self.batch_size
        n = 0  # samples this worker has produced, counting the skipped ones
        for row, rng, c in self._mixed(worker, n_workers):
            try:
                ids, labels = target(row, self.vocab, rng, self.p_prev, self.p_timestamps)  # same rng use when skipped
            except BadRow as e:
                warnings.warn(f"skipped: {e}", stacklevel=1)
                continue
            n += 1
            if n <= skip:
                continue
            audio = np.zeros(CHUNK_SAMPLES, dtype=np.float32)
            pcm = decode_flac(row["audio"]["bytes"])[:CHUNK_SAMPLES]
            audio[: len(pcm)] = pcm / 32768.0
            yield {
                "id": row["id"],
                "audio": torch.from_numpy(audio),
                "input_ids": ids,
                "labels": labels,
                "text": row["text"],
                "language": row["language"],
                "task": row["task"],
                "component": c,
                "duration_ms": len(pcm) // 16,
            }


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    n = -(-max(len(it["input_ids"]) for it in items) // PAD_TO) * PAD_TO
    ids = torch.zeros((len(items), n), dtype=torch.long)  # padding: <|endoftext|> would do; 0 never gets loss
    labels = torch.full((len(items), n), -100, dtype=torch.long)
    for i, it in enumerate(items):
        ids[i, : len(it["input_ids"])] = torch.tensor(it["input_ids"])
        labels[i, : len(it["labels"])] = torch.tensor(it["labels"])
    return {
        "audio": torch.stack([it["audio"] for it in items]),
        "input_ids": ids,
        "labels": labels,
        "n_tokens": sum(len(it["input_ids"]) for it in items),
        "id": [it["id"] for it in items],
        "text": [it["text"] for it in items],
        "language": [it["language"] for it in items],
        "task": [it["task"] for it in items],
        "component": [it["component"] for it in items],
        "duration_ms": [it["duration_ms"] for it in items],
    }
