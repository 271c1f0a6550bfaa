"""Where a build's time goes: exclusive CPU seconds per step of a one-worker build run in this
process, by wrapping the functions that do each step (no change to the package).

CPU is this process plus its children (the ffmpeg decoders), so `decode` includes ffmpeg's CPU.
A step called inside another (decode inside the audio pairing stage, the stages before dedup
inside the signing pass) counts under its own name only: the figures add up to the whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import cpu_seconds
from wsdata import pipeline, report, stages
from wsdata.dedup import cluster
from wsdata.io.parquet import ShardWriter
from wsdata.review.sample import ReviewSampler
from wsdata.vad import SpeechMap

# (object, attribute, label): the label groups steps for the table and the chart
STEPS: list[tuple[Any, str, str]] = [
    (pipeline, "read_record", "read (JSON, schema)"),
    (stages.pair.PairTranscript, "process", "pair: transcript"),
    (stages.machine.MachineFilter, "process", "machine"),
    (stages.text.TextClean, "process", "text: clean"),
    (stages.dedup.DedupFilter, "process", "dedup: apply"),
    (stages.pair.PairAudio, "process", "pair: audio"),
    (stages.pair, "decode", "decode (ffmpeg)"),
    (SpeechMap, "from_samples", "VAD"),
    (pipeline, "cut", "segment: cut"),
    (stages.text.TextGates, "process", "text: gates"),
    (stages.dedup.DedupEvalSegments, "process", "dedup: eval overlap"),
    (stages.language.LanguageRoute, "process", "language (langid)"),
    (pipeline, "encode_flac", "FLAC encode"),
    (ShardWriter, "_flush", "Parquet write"),
    (ShardWriter, "close", "Parquet write"),
    (ReviewSampler, "kept", "review sampling"),
    (ReviewSampler, "rejected", "review sampling"),
    (cluster, "signature_chunk", "dedup: MinHash signing"),
    (cluster, "find_duplicates", "dedup: clustering"),
    (report, "finalize", "stats, card, review queue"),
]
TEXT_STEPS = ["machine", "text: clean", "text: gates", "language (langid)"]


class StageClock:
    """Exclusive CPU seconds per label, with a stack so nested steps are not counted twice."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._inner: list[float] = []

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*a: Any, **k: Any) -> Any:
            t0 = cpu_seconds()
            self._inner.append(0.0)
            try:
                return fn(*a, **k)
            finally:
                total = cpu_seconds() - t0
                self.spent[label] += total - self._inner.pop()
                if self._inner:
                    self._inner[-1] += total

        return call

    @contextmanager
    def installed(self) -> Iterator[StageClock]:
        saved = [(obj, name, obj.__dict__[name]) for obj, name, _ in STEPS]
        try:
            for obj, name, label in STEPS:
                raw = obj.__dict__[name]
                if isinstance(raw, classmethod):  # SpeechMap.from_samples
                    setattr(obj, name, classmethod(self.wrap(label, raw.__func__)))
                else:
                    setattr(obj, name, self.wrap(label, raw))
            yield self
        finally:
            for obj, name, raw in saved:
                setattr(obj, name, raw)
