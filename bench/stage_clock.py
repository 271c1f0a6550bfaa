"""Where a build's time goes: the build's own CPU clock (wsdata/clock.py, kept by the stage base
and the row writer), with each step's figure under a label for the tables and the chart.

CPU is the process plus its children, so `decode` includes the CPU of an ffmpeg fallback where one ran.
A step inside another (decode inside the audio pairing stage, VAD inside the cut) counts under
its own name only: the figures add up to the whole.
"""

from __future__ import annotations

from wsdata.clock import CpuClock

LABELS = {  # the clock's step -> the label in docs/benchmarks.md
    "read": "read (JSON, schema)",
    "pair/transcript": "pair: transcript",
    "machine": "machine",
    "text/clean": "text: clean",
    "dedup": "dedup: apply",
    "pair/audio": "pair: audio",
    "decode": "decode (libav + soxr)",
    "vad": "VAD",
    "segment": "segment: cut",
    "text/gates": "text: gates",
    "dedup/eval": "dedup: eval overlap",
    "language": "language (langid)",
    "flac": "FLAC encode",
    "parquet": "Parquet write",
    "review": "review sampling",
    "dedup/sign": "dedup: MinHash signing",
    "dedup/cluster": "dedup: clustering",
    "summary": "stats, card, review queue",
}
TEXT_STEPS = ["machine", "text: clean", "text: gates", "language (langid)"]


class StageClock(CpuClock):
    """Pass it to `wsdata.orchestrate.build(..., clock=)`; read `labelled()` after."""

    def labelled(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for step, s in self.spent.items():
            label = LABELS.get(step, step)
            out[label] = out.get(label, 0.0) + s
        return out
