"""CPU seconds per step of a build, counted by the stage base and read by the benchmarks.

CPU is this process plus the children it waited for (ffmpeg, where decoding fell back to it). Steps nest (decode
inside the audio pairing stage); each second counts under the innermost step only, so the
figures add up to the whole. The clock is never written into the build's files: they stay the
same from run to run.
"""

from __future__ import annotations

import contextlib
import resource
import time
from collections import defaultdict
from collections.abc import Iterator


def cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class CpuClock:
    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)  # step -> exclusive CPU seconds
        self._inner: list[float] = []  # CPU of the steps running inside each open step

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        t0 = cpu_seconds()
        self._inner.append(0.0)
        try:
            yield
        finally:
            total = cpu_seconds() - t0
            self.spent[step] += total - self._inner.pop()
            if self._inner:
                self._inner[-1] += total

    def add(self, spent: dict[str, float]) -> None:
        """Merge another clock's figures (a worker's, a chunk's)."""
        for step, s in spent.items():
            self.spent[step] += s
