"""The build's counters, typed: one `ChunkStats` per chunk, filled by the stage base and the row
writer, summed over chunks (and engines) into the numbers of stats.json and the dataset card.

Every field is an integer (milliseconds for audio), so a sum over chunks is exact and the same in
any order. A chunk's counters travel in its completion marker as `to_json()`; `from_json` reads
them back, and refuses counters of another version (a build folder left by an older wsdata).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

VERSION = 2  # of the counters in a chunk marker; stats.json has its own (wsdata.summary)


class StatsVersionError(ValueError):
    """Counters written by another version of wsdata."""


@dataclass
class StepCount:
    """One step of the funnel: what it received and what it dropped."""

    docs_in: int = 0
    docs_rejected: int = 0
    audio_ms_rejected: int = 0  # decoded audio of the documents it dropped (0 before decode)
    audio_ms_rejected_estimated: int = 0  # before decode: estimated (wsdata/stages/base.py, estimate_ms)
    segments_in: int = 0  # segments it judged (segment steps only)
    segments_rejected: int = 0  # segments it dropped itself (not those of a document it dropped)


@dataclass
class ReasonCount:
    count: int = 0
    audio_ms: int = 0  # audio of the rejected items where it is known
    audio_ms_estimated: int = 0  # documents rejected before decoding: their estimated audio


@dataclass
class SourceCount:
    docs_in: int = 0  # documents that passed `read` (a line with no readable record has no source)
    docs_kept: int = 0
    audio_ms_in: int = 0  # decoded audio
    audio_ms_kept: int = 0
    audio_ms_estimated: int = 0  # documents rejected before decoding: their estimated audio


@dataclass
class KeptCount:
    segments: int = 0
    audio_ms: int = 0


@dataclass
class ChunkStats:
    docs_in: int = 0
    docs_kept: int = 0
    docs_rejected: int = 0
    audio_ms_in: int = 0  # every document whose audio was decoded
    audio_ms_in_estimated: int = 0  # documents rejected before decoding, estimated without decoding
    audio_ms_kept: int = 0
    audio_ms_kept_train: int = 0
    audio_ms_kept_validation: int = 0
    segments_cut: int = 0
    segments_kept: int = 0
    segments_kept_train: int = 0
    segments_kept_validation: int = 0
    segments_kept_no_speech: int = 0
    segments_kept_speaker_labels: int = 0
    segments_rejected: int = 0
    boilerplate_removed: int = 0  # text cleaning, over every document the text/clean step cleaned
    sound_tags_removed: int = 0
    cues_dropped: int = 0
    docs_split_given: int = 0  # documents whose crawl line named their split (an imported corpus's own)
    steps: dict[str, StepCount] = field(default_factory=dict)  # funnel step -> its counts
    doc_reasons: dict[str, ReasonCount] = field(default_factory=dict)
    segment_reasons: dict[str, ReasonCount] = field(default_factory=dict)
    by_source: dict[str, SourceCount] = field(default_factory=dict)
    by_language: dict[str, dict[str, KeptCount]] = field(default_factory=dict)  # language -> task -> kept
    unknown_fields: dict[str, int] = field(default_factory=dict)  # crawl keys outside the contract -> lines
    by_license: dict[str, KeptCount] = field(default_factory=dict)  # the crawl's `license` ("" none) -> kept

    def step(self, name: str) -> StepCount:
        return self.steps.setdefault(name, StepCount())

    def source(self, name: str | None) -> SourceCount:
        return self.by_source.setdefault(name or "", SourceCount())

    def kept(self, language: str, task: str) -> KeptCount:
        return self.by_language.setdefault(language, {}).setdefault(task, KeptCount())

    def merge(self, other: ChunkStats) -> ChunkStats:
        """Add `other` into this one (returns self)."""
        _merge(self, other)
        return self

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, **_sorted(dataclasses.asdict(self))}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkStats:
        if data.get("version") != VERSION:
            raise StatsVersionError(f"chunk counters of version {data.get('version')}, this wsdata writes {VERSION}")
        out = cls(**{f.name: data.get(f.name, 0) for f in dataclasses.fields(cls) if f.type == "int"})
        out.steps = {k: StepCount(**v) for k, v in data["steps"].items()}
        out.doc_reasons = {k: ReasonCount(**v) for k, v in data["doc_reasons"].items()}
        out.segment_reasons = {k: ReasonCount(**v) for k, v in data["segment_reasons"].items()}
        out.by_source = {k: SourceCount(**v) for k, v in data["by_source"].items()}
        out.by_language = {
            lang: {t: KeptCount(**v) for t, v in tasks.items()} for lang, tasks in data["by_language"].items()
        }
        out.unknown_fields = dict(data.get("unknown_fields", {}))  # absent from markers written before it
        out.by_license = {k: KeptCount(**v) for k, v in data.get("by_license", {}).items()}
        return out


def _merge(a: Any, b: Any) -> None:
    """a += b, field by field: integers add, dicts merge key by key."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, int):
            setattr(a, f.name, x + y)
        else:
            _merge_dict(x, y)


def _merge_dict(a: dict[str, Any], b: dict[str, Any]) -> None:
    for k, v in b.items():
        if isinstance(v, int):
            a[k] = a.get(k, 0) + v
        elif k not in a:
            a[k] = (
                dataclasses.replace(v)
                if dataclasses.is_dataclass(v)
                else {t: dataclasses.replace(c) for t, c in v.items()}
            )
        elif dataclasses.is_dataclass(v):
            _merge(a[k], v)
        else:
            _merge_dict(a[k], v)


def _sorted(obj: Any) -> Any:
    """Dict keys in order, so equal counters serialise to equal bytes whatever the fill order."""
    if isinstance(obj, dict):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    return obj
