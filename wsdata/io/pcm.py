"""A decoded signal that may not fit in memory: 16 kHz mono int16 samples, read back by slice.

The decoder (wsdata/io/audio.py) appends raw s16le bytes as ffmpeg produces them. The first
`spill_bytes` stay in memory; past that, everything moves to an anonymous temporary file (unlinked
at creation, so nothing is left behind even after SIGKILL), and slices are read back with `pread`.
So a worker's memory holds at most `spill_bytes` of audio plus the slices it asked for, whatever
the file's length: a 10 h file is 1.15 GB of samples, and none of it needs to be resident.
The file goes where `tempfile` puts files: $TMPDIR, else /tmp (docs/reliability.md).
"""

from __future__ import annotations

import os
import tempfile
from typing import IO, Self

import numpy as np

SPILL_BYTES = 32 << 20  # ~17 min of 16 kHz int16 kept in memory before spilling to disk
BYTES_PER_SAMPLE = 2


class Pcm:
    """Samples of one signal: `len(pcm)` samples, `pcm[a:b]` an int16 array of shape (b - a,)."""

    def __init__(self, spill_bytes: int = SPILL_BYTES):
        self.spill_bytes = spill_bytes
        self._mem = bytearray()
        self._file: IO[bytes] | None = None
        self._nbytes = 0
        self._odd = b""  # a pipe may split a sample across reads; whole samples only are kept

    # -- writing (the decoder) --
    def append(self, data: bytes) -> None:
        data = self._odd + data
        cut = len(data) - len(data) % BYTES_PER_SAMPLE
        data, self._odd = data[:cut], data[cut:]
        if self._file is None and self._nbytes + len(data) > self.spill_bytes:
            self._file = tempfile.TemporaryFile(prefix="wsdata-pcm-")  # noqa: SIM115 - closed by close()
            self._file.write(self._mem)
            self._mem = bytearray()
        if self._file is not None:
            self._file.write(data)
        else:
            self._mem += data
        self._nbytes += len(data)

    def truncate(self, n: int) -> None:
        """Keep only the first `n` samples (the decoder stops just past a limit, then cuts)."""
        nbytes = min(self._nbytes, n * BYTES_PER_SAMPLE)
        if self._file is not None:
            self._file.truncate(nbytes)
        else:
            del self._mem[nbytes:]
        self._nbytes = nbytes

    # -- reading (the stages) --
    @property
    def spilled(self) -> bool:
        return self._file is not None

    def __len__(self) -> int:
        return self._nbytes // BYTES_PER_SAMPLE

    def __getitem__(self, s: slice) -> np.ndarray:
        if not isinstance(s, slice) or s.step not in (None, 1):
            raise TypeError("Pcm supports contiguous slices only, e.g. pcm[a:b]")
        a, b, _ = s.indices(len(self))
        if b <= a:
            return np.zeros(0, dtype=np.int16)
        if self._file is None:  # a copy: the buffer may still grow, and a view would pin it
            return np.frombuffer(self._mem, dtype="<i2", count=b - a, offset=a * BYTES_PER_SAMPLE).copy()
        self._file.flush()
        data = os.pread(self._file.fileno(), (b - a) * BYTES_PER_SAMPLE, a * BYTES_PER_SAMPLE)
        return np.frombuffer(data, dtype="<i2")

    def read_bytes(self, a: int, b: int) -> bytes:
        """Samples [a, b) as little-endian int16 bytes: one copy, for readers that take bytes (VAD)."""
        a, b = max(0, a), min(b, len(self))
        if b <= a:
            return b""
        if self._file is None:
            return bytes(self._mem[a * BYTES_PER_SAMPLE : b * BYTES_PER_SAMPLE])
        self._file.flush()
        return os.pread(self._file.fileno(), (b - a) * BYTES_PER_SAMPLE, a * BYTES_PER_SAMPLE)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._mem = bytearray()
        self._nbytes = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def of(cls, samples: np.ndarray) -> Pcm:
        """A Pcm holding `samples` (int16, shape (n,)) in memory: for tests and small signals."""
        pcm = cls(spill_bytes=1 << 62)
        pcm.append(np.ascontiguousarray(samples, dtype="<i2").tobytes())
        return pcm
