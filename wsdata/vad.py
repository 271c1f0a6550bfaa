"""Voice activity from webrtcvad: one bool per 30 ms frame, and speech ratios over spans in ms."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import webrtcvad

from wsdata.constants import SAMPLE_RATE, VAD_FRAME_MS, VAD_FRAME_SAMPLES

BLOCK_FRAMES = 2000  # 60 s of 30 ms frames per read


class Samples(Protocol):
    """What the map reads: a length and contiguous slices (np.ndarray and wsdata.io.pcm.Pcm)."""

    def __len__(self) -> int: ...
    def __getitem__(self, s: slice) -> np.ndarray: ...


class SpeechMap:
    """Per-frame speech decisions of a whole signal, with O(1) ratios over any span."""

    def __init__(self, frames: np.ndarray):
        self.frames = frames  # bool, shape (n_frames,), frame k covers [k*30, (k+1)*30) ms
        self._cum = np.concatenate([[0], np.cumsum(frames, dtype=np.int64)])

    @classmethod
    def from_samples(cls, samples: Samples, mode: int) -> SpeechMap:
        """`samples`: int16 at 16 kHz, an array or a Pcm; read in blocks of `BLOCK_FRAMES` frames, so
        a long signal never needs to be in memory at once."""
        vad = webrtcvad.Vad(mode)
        n = len(samples) // VAD_FRAME_SAMPLES
        step = VAD_FRAME_SAMPLES * 2  # bytes per frame
        frames = np.zeros(n, dtype=bool)
        for first in range(0, n, BLOCK_FRAMES):
            count = min(BLOCK_FRAMES, n - first)
            a, b = first * VAD_FRAME_SAMPLES, (first + count) * VAD_FRAME_SAMPLES
            if hasattr(samples, "read_bytes"):  # a Pcm: its bytes, copied once
                pcm = memoryview(samples.read_bytes(a, b))
            else:
                pcm = memoryview(np.ascontiguousarray(samples[a:b], dtype="<i2").tobytes())
            # frames are views of the block: no copy per 30 ms frame
            frames[first : first + count] = [
                vad.is_speech(pcm[i : i + step], SAMPLE_RATE) for i in range(0, count * step, step)
            ]
        return cls(frames)

    def ratio(self, start_ms: int, end_ms: int) -> float:
        """Share of the span's frames that hold speech; frames past the end count as silence."""
        a = max(0, start_ms // VAD_FRAME_MS)
        b = max(a, -(-end_ms // VAD_FRAME_MS))  # ceil: a frame partly inside the span counts
        if b == a:
            return 0.0
        hi = min(b, len(self.frames))
        lo = min(a, hi)
        return float(self._cum[hi] - self._cum[lo]) / (b - a)
