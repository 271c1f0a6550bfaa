"""A streaming loader over the shards: row groups split across DDP ranks and DataLoader workers,
a seeded shuffle buffer, FLAC decoded in the workers, targets built there too.

Every stream is a pure function of (seed, epoch, rank, worker), so a resumed run skips exactly the
samples it had consumed (without decoding their audio) and sees the same data as an uninterrupted
one. Several builds (a mixture, wsdata/train/mixture.py) are one stream per build, interleaved by a
seeded choice of the build of each sample: a pure function of the seed too.

Each sample carries its reader (worker) and its position in that reader's stream; the trainer keeps
the last position it consumed of each reader, and a resumed reader skips that many rows (`start`).
A DataLoader takes batch b from worker b % num_workers and starts again at worker 0, so a resumed
stream turns its workers by `rotate` (batches consumed modulo workers) to keep the order.

A shard may come from anyone: a row that cannot be trained on (no text or audio, odd types, audio
that is no readable 16 kHz mono FLAC, a target too long or in an unknown language) is skipped with a
warning and counted (each sample's `skipped`: bad rows of its reader since the previous sample), and
a row group that cannot be read is skipped as all its rows. Bad rows still take their place in the
stream, so a resumed run skips the same rows without decoding any audio.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from wsdata.constants import CHUNK_SAMPLES
from wsdata.io.audio import decode_flac
from wsdata.terminal import safe
from wsdata.train.mixture import Component
from wsdata.train.targets import BadRow, target
from wsdata.vocab import Vocab

PAD_TO = 8  # decoder lengths padded to a multiple of 8: tensor-core shapes, fewer torch.compile variants
COLUMNS = ["id", "audio", "text", "timestamps", "prev_text", "language", "task", "no_speech", "source"]
MAX_DRY_EPOCHS = 10  # epochs in a row one of several readers may see no good row of a build before it stops
UNREADABLE = "_unreadable"  # key of the one row standing for a row group that cannot be read: (reason, its rows)


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
        self.names = [str(c.folder) if c.files and c.folder != Path() else "the shards" for c in comps]
        self.keep = [c.keep for c in comps]
        # per component: its (file, row group) units
        self.units = [[(str(f), g) for f in c.files for g in range(_row_groups(f))] for c in comps]
        self.vocab, self.seed, self.rank, self.world = vocab, seed, rank, world
        self.shuffle_buffer, self.batch_size, self.loop = shuffle_buffer, batch_size, loop
        self.p_prev, self.p_timestamps = p_prev, p_timestamps
        self.start: list[int] = []  # per reader: rows of its stream consumed before a resume ([]: none)
        self.rotate = 0  # on resume: batches consumed modulo readers (the reader whose batch is due first)

    def _rows(self, worker: int, n_workers: int, c: int = 0) -> Iterator[tuple[dict[str, Any], random.Random, int]]:
        """(row, its rng, epoch) of reader `worker`'s share of component `c`."""
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
                for row in _read_group(path, group):
                    n += 1
                    buf.append(row)
                    if len(buf) >= self.shuffle_buffer:
                        yield buf.pop(rng.randrange(len(buf))), rng, epoch
            while buf:
                yield buf.pop(rng.randrange(len(buf))), rng, epoch
            if n == 0:
                raise ValueError(f"no rows in the row groups of reader {g}: {mine}")
            epoch += 1
            if not self.loop:
                return

    def _mixed(self, worker: int, n_workers: int) -> Iterator[tuple[dict[str, Any], random.Random, int, int]]:
        """(row, its rng, component, epoch) in the mixture's order: a seeded choice of component by
        weight for each sample, then a seeded acceptance of the row (temperature, source cap)."""
        if len(self.units) == 1 and not self.keep[0]:
            yield from ((row, rng, 0, epoch) for row, rng, epoch in self._rows(worker, n_workers))
            return
        g = self.rank * n_workers + worker
        streams = [self._rows(worker, n_workers, c) for c in range(len(self.units))]
        pick = random.Random(f"{self.seed}:mix:{g}")
        accept = [random.Random(f"{self.seed}:accept:{c}:{g}") for c in range(len(self.units))]
        while True:
            c = pick.choices(range(len(streams)), weights=self.weights)[0]
            for row, rng, epoch in streams[c]:
                p = self.keep[c].get((_str(row.get("language")), _str(row.get("source"))), 1.0)
                if p >= 1.0 or accept[c].random() < p:
                    yield row, rng, c, epoch
                    break
            else:
                return  # a stream that does not loop has ended

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info else (0, 1)
        reader = (worker + self.rotate) % n_workers
        start = self.start[reader] if self.start else 0
        n, skipped = 0, 0  # rows of this reader's stream so far (consumed ones too); bad rows since the last sample
        dry = _Dry(self.names, 1 if self.world * n_workers == 1 else MAX_DRY_EPOCHS)
        for row, rng, c, epoch in self._mixed(reader, n_workers):
            n += 1
            dry.row(c, epoch)
            try:
                _check(row)
                ids, labels = target(row, self.vocab, rng, self.p_prev, self.p_timestamps)  # same rng use when skipped
                if n <= start:
                    dry.good(c)
                    continue
                audio, n_samples = _audio(row)
            except BadRow as e:
                if n > start:
                    skipped += row[UNREADABLE][1] if UNREADABLE in row else 1
                    warnings.warn(f"skipped: {safe(e)}", stacklevel=1)
                continue
            dry.good(c)
            yield {
                "id": row.get("id"),
                "audio": torch.from_numpy(audio),
                "input_ids": ids,
                "labels": labels,
                "text": row["text"],
                "language": row.get("language"),
                "task": row.get("task"),
                "component": c,
                "duration_ms": n_samples // 16,
                "reader": reader,
                "position": n,
                "skipped": skipped,
            }
            skipped = 0


class _Dry:
    """Stops a reader whose rows of a build are all bad, instead of looping over them for ever: after
    `limit` whole epochs in a row without a sample (1 for a lone reader, which reads every row; with
    several, one reader's share of an epoch can be all bad by chance)."""

    def __init__(self, names: list[str], limit: int):
        self.names, self.limit = names, limit
        self.epoch, self.found, self.dry = [0] * len(names), [False] * len(names), [0] * len(names)

    def row(self, c: int, epoch: int) -> None:
        if epoch == self.epoch[c]:
            return
        self.dry[c] = 0 if self.found[c] else self.dry[c] + 1
        self.epoch[c], self.found[c] = epoch, False
        if self.dry[c] >= self.limit:
            raise ValueError(
                f"no row of {self.names[c]} could be trained on in {self.dry[c]} passes over it (see the warnings): "
                "its audio, text or types are all unreadable"
            )

    def good(self, c: int) -> None:
        self.found[c] = True


def _row_groups(path: Path) -> int:
    try:
        return pq.ParquetFile(path).num_row_groups
    except (OSError, ValueError, pa.ArrowException) as e:
        raise ValueError(f"{path}: not a readable Parquet shard ({e})") from None


def _read_group(path: str, group: int) -> list[dict[str, Any]]:
    """The rows of one row group (a column the shard lacks is missing from them). A row group that
    cannot be read is one row standing for all of its rows, skipped and counted as a bad row."""
    f = pq.ParquetFile(path)
    try:
        present = set(f.schema_arrow.names)
        return f.read_row_group(group, columns=[c for c in COLUMNS if c in present]).to_pylist()
    except (OSError, ValueError, pa.ArrowException) as e:
        why = f"row group {group} of {path} cannot be read ({e})"
        return [{"id": f"{path}#{group}", UNREADABLE: (why, f.metadata.row_group(group).num_rows)}]


def _str(v: object) -> str:
    return v if isinstance(v, str) else ""


def _check(row: dict[str, Any]) -> None:
    """BadRow unless the row has what a target and its audio need, with the types a build writes."""
    rid = row.get("id")
    if UNREADABLE in row:
        raise BadRow(row[UNREADABLE][0])
    if not isinstance(row.get("text"), str):
        raise BadRow(f"row {rid}: no text (missing, or not a string)")
    for k in ("language", "task", "prev_text"):
        if row.get(k) is not None and not isinstance(row[k], str):
            raise BadRow(f"row {rid}: {k} is not a string")
    if not row.get("no_speech") and not row.get("language"):
        raise BadRow(f"row {rid}: no language")
    cues = row.get("timestamps")
    cue_keys = (("start_ms", int), ("end_ms", int), ("text", str))
    if cues is not None and not (
        isinstance(cues, list)
        and all(isinstance(q, dict) and all(isinstance(q.get(k), t) for k, t in cue_keys) for q in cues)
    ):
        raise BadRow(f"row {rid}: timestamps are not a list of cues (start_ms, end_ms, text)")
    audio = row.get("audio")
    if not (isinstance(audio, dict) and isinstance(audio.get("bytes"), bytes) and audio["bytes"]):
        raise BadRow(f"row {rid}: no audio bytes")


def _audio(row: dict[str, Any]) -> tuple[np.ndarray, int]:
    """(the row's first 30 s as float32 in [-1, 1), zero-padded; its samples before padding). Only
    those 30 s are decoded. BadRow when the audio is no 16 kHz mono FLAC."""
    try:
        pcm = decode_flac(row["audio"]["bytes"], CHUNK_SAMPLES)
    except (RuntimeError, ValueError, TypeError, EOFError, OSError) as e:  # soundfile's errors are RuntimeErrors
        raise BadRow(f"row {row.get('id')}: the audio is no readable 16 kHz FLAC ({type(e).__name__})") from None
    if pcm.ndim != 1 or not len(pcm):
        raise BadRow(f"row {row.get('id')}: the audio is not mono, or empty")
    audio = np.zeros(CHUNK_SAMPLES, dtype=np.float32)
    audio[: len(pcm)] = pcm / 32768.0
    return audio, len(pcm)


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
        "reader": [it["reader"] for it in items],
        "position": [it["position"] for it in items],
        "skipped": [it["skipped"] for it in items],
    }
