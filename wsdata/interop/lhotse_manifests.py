"""lhotse manifests (cuts, or recordings and supervisions) read as data, without lhotse.

lhotse's own loaders execute what a manifest says: a recording source of type `command` is a shell
command that `load_audio` runs, `memory` and `shar` sources hold or promise bytes, transforms are
applied on load, and `load_manifest_lazy` reads a line whatever its length. A manifest from the
internet is data, so it is read here field by field, one bounded line at a time
(wsdata/interop/manifest.py), and only two kinds of audio source are ever read: `file` (a local
path, inside the corpus's folder unless `limits.allowed_roots` widens it) and `url` (fetched by the
build's bounded remote read). Every other source type, a mixed or padding cut, a recording in
several files, and transforms other than resampling become rejects (`read.unsupported_source`).

A cut of a whole recording points at the file (the build decodes it under `limits.max_audio_ms`);
a cut of part of a file is a span, decoded into its own FLAC when staged (wsdata/interop/staging.py)
through the bounded decoder, never loaded whole. Several channels are downmixed, as every file is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from wsdata.config import LimitsConfig
from wsdata.constants import CHUNK_MS
from wsdata.interop import manifest
from wsdata.interop.manifest import SPLITS, ImportError_, Problem, seconds, split_of
from wsdata.interop.staging import Item, audio_uri, rejected
from wsdata.io import fs

CUT_TYPES = ("MonoCut", "MultiCut", "DataCut")  # a cut of one recording; MixedCut and PaddingCut are not
READ_SOURCES = ("file", "url")  # never `command` (a shell command), `memory`, `shar`, or a type unknown here
KEPT_TRANSFORMS = ("Resample",)  # every file is resampled to 16 kHz anyway; others would change the audio
KINDS = ("cuts", "supervisions", "recordings")


def _kind(path: Path, limits: LimitsConfig) -> str | None:
    """cuts, recordings or supervisions: by the file's name as lhotse writes it, else by its first
    object's fields; None for another manifest (features)."""
    name = path.name.lower()
    for kind in KINDS:
        if kind in name:
            return kind
    for _, obj, _ in manifest.json_objects(path, limits.max_line_bytes, limits.max_manifest_bytes):
        if obj is None:
            continue
        if obj.get("type") in (*CUT_TYPES, "MixedCut", "PaddingCut") or "recording" in obj:
            return "cuts"
        if "sources" in obj:
            return "recordings"
        if "recording_id" in obj:
            return "supervisions"
        return None
    return None


def items(paths: list[Path], source: str | None = None, limits: LimitsConfig | None = None) -> Iterator[Item]:
    """Every cut of the cuts manifests among `paths` (files, or folders of `*.jsonl*`); without
    any, every recording with its supervisions. Supervisions of a recording no manifest holds are
    one reject per recording."""
    limits = limits or LimitsConfig()
    files = [f for p in paths for f in (sorted(p.glob("*.jsonl*")) if p.is_dir() else [p])]
    by_kind: dict[str | None, list[Path]] = {}
    for f in files:
        by_kind.setdefault(_kind(f, limits), []).append(f)
    if by_kind.get("cuts"):
        for f in by_kind["cuts"]:
            yield from _records(f, source, limits, cut_item)
        return
    if not by_kind.get("recordings"):
        raise ImportError_(f"{[str(f) for f in files]}: no lhotse cuts or recordings manifest")
    index: dict[str, list[dict[str, Any]]] = {}
    for f in by_kind.get("supervisions", []):
        yield from _supervisions(f, index, source, limits)
    for f in by_kind["recordings"]:
        yield from _records(f, source, limits, lambda d, *a: recording_item(d, index.pop(_rec_id(d), []), *a))
    for rec_id, sups in index.items():
        detail = f"{len(sups)} supervisions of recording {rec_id!r}, which no recordings manifest holds"
        yield rejected(f"{rec_id}-supervisions", ("read.invalid_field", detail), source)


def _source_name(f: Path, source: str | None) -> str:
    return source or f"lhotse:{f.name.split('_')[0].split('.')[0]}"


def _records(f: Path, source: str | None, limits: LimitsConfig, make: Callable[..., Item]) -> Iterator[Item]:
    src = _source_name(f, source)
    split = split_of(next((s for s in SPLITS if s in f.name.lower()), None))
    for n, obj, problem in manifest.json_objects(f, limits.max_line_bytes, limits.max_manifest_bytes):
        if obj is None:
            yield rejected(f"{f.name}-line-{n}", problem or ("read.invalid_json", f"line {n}"), src)
        else:
            yield make(obj, n, f, src, split)


def _rec_id(d: dict[str, Any]) -> str:
    ident = d.get("id")
    return ident if isinstance(ident, str) else ""


def _supervisions(
    f: Path, index: dict[str, list[dict[str, Any]]], source: str | None, limits: LimitsConfig
) -> Iterator[Item]:
    """Read a supervisions manifest into `index` (by recording id); yields the rejects of its bad
    lines. The index holds every supervision: bounded by limits.max_manifest_bytes."""
    src = _source_name(f, source)
    for n, obj, problem in manifest.json_objects(f, limits.max_line_bytes, limits.max_manifest_bytes):
        problem = problem or (_supervision_problem(obj, f"line {n}") if obj is not None else None)
        if problem or obj is None:
            yield rejected(f"{f.name}-line-{n}", problem or ("read.invalid_json", f"line {n}"), src)
            continue
        if not (isinstance(obj.get("recording_id"), str) and obj["recording_id"]):
            yield rejected(f"{f.name}-line-{n}", ("read.missing_field", f"line {n}: no `recording_id`"), src)
            continue
        keep = ("start", "duration", "text", "language", "speaker", "channel")
        index.setdefault(obj["recording_id"], []).append({k: obj[k] for k in keep if k in obj})


def _supervision_problem(sup: Any, where: str) -> Problem | None:
    if not isinstance(sup, dict):
        return "read.invalid_field", f"{where}: a supervision that is not an object"
    if "recording_id" in sup and not (isinstance(sup["recording_id"], str) and sup["recording_id"]):
        return "read.invalid_field", f"{where}: supervision recording_id is not a string"
    start, duration = sup.get("start"), sup.get("duration")
    ok_start = isinstance(start, int | float) and not isinstance(start, bool) and math.isfinite(start)
    if not ok_start:  # negative is fine: a cut may start inside a supervision
        return "read.invalid_field", f"{where}: supervision start {str(start)[:40]!r} is not a number of seconds"
    d = seconds(duration, f"{where}: supervision duration")
    if isinstance(d, tuple):
        return d
    text = sup.get("text")
    if text is not None and not isinstance(text, str):
        return "read.invalid_field", f"{where}: supervision text is not a string"
    return None


def recording_item(
    rec: dict[str, Any], sups: list[dict[str, Any]], n: int, f: Path, source: str, split: str | None
) -> Item:
    """A recording with its supervisions (times relative to the recording) as a cut of all of it."""
    duration = rec.get("duration")
    cut = {"id": rec.get("id"), "start": 0, "duration": duration, "recording": rec, "supervisions": sups}
    return cut_item(cut, n, f, source, split)


def cut_item(cut: dict[str, Any], n: int, f: Path, source: str, split: str | None) -> Item:
    """One cut as an item (an utterance, or a recording with timed cues), or its reject. Nothing
    is read here: a whole file is named, a window of one is a span staged later."""
    cid = cut.get("id")
    if not isinstance(cid, str) or not cid:
        return rejected(f"{f.name}-line-{n}", ("read.missing_field", f"line {n}: no cut `id`"), source)
    ctype = cut.get("type", "MonoCut")
    if ctype not in CUT_TYPES:
        detail = f"a lhotse {str(ctype)[:40]!r}: only cuts of one recording are imported (no mixed or padding cuts)"
        return rejected(cid, ("read.unsupported_source", detail), source)
    start, duration = seconds(cut.get("start", 0), "start"), seconds(cut.get("duration"), "duration", positive=True)
    for got in (start, duration):
        if isinstance(got, tuple):
            return rejected(cid, got, source)
    assert isinstance(start, float) and isinstance(duration, float)
    rec = cut.get("recording")
    if not isinstance(rec, dict):
        return rejected(cid, ("read.missing_field", "no `recording`: a cut without audio (features only)"), source)
    uri, rec_duration, problem = recording_audio(rec, cut.get("channel"), f.parent)
    if problem or uri is None:
        return rejected(cid, problem or ("read.missing_field", "no audio"), source)
    sups = cut.get("supervisions") or []
    if not isinstance(sups, list):
        return rejected(cid, ("read.invalid_field", "`supervisions` is not a list"), source)
    for i, s in enumerate(sups):
        problem = _supervision_problem(s, f"supervision {i}")
        if problem:
            return rejected(cid, problem, source)
    sups = sorted(sups, key=lambda s: s["start"])
    lang = next((s["language"] for s in sups if isinstance(s.get("language"), str) and s["language"]), None)
    item = Item(id=cid, audio=str(uri), language=lang, source=source, split=split)
    speakers = sorted({s["speaker"] for s in sups if isinstance(s.get("speaker"), str) and s["speaker"]})
    if speakers:
        item.meta["speaker"] = speakers[0] if len(speakers) == 1 else speakers
    whole = rec_duration is not None and start < 1e-6 and abs(duration - rec_duration) < 1e-3
    if not whole:  # a window of the file: cut out when staged, through the bounded decoder
        item.span = (round(start * 1000), round((start + duration) * 1000))
    if round(duration * 1000) <= CHUNK_MS and len(sups) <= 1:
        text = sups[0].get("text") if sups else None
        if not isinstance(text, str):
            return rejected(cid, ("read.missing_field", "no supervision with `text`"), source)
        item.text = text
    else:
        item.cues = [
            (round(s["start"] * 1000), round((s["start"] + s["duration"]) * 1000), s.get("text") or "") for s in sups
        ]
    return item


def recording_audio(rec: dict[str, Any], channel: Any, base: Path) -> tuple[str | None, float | None, Problem | None]:
    """(the audio's path or URL, the recording's duration in seconds, None) of a recording object,
    or (None, None, why it is not read). Only `file` and `url` sources; one file, or the one
    holding `channel`."""
    src, problem = _source(rec, channel)
    if problem or src is None:
        return None, None, problem or ("read.missing_field", "the recording has no source")
    path = src.get("source")
    if not isinstance(path, str) or not path:
        return None, None, ("read.missing_field", f"a {src['type']} source without a `source` string")
    if src["type"] == "file" and not fs.is_local(path) and not path.startswith("file://"):
        return None, None, ("read.invalid_field", "a `file` source that is a URI")
    if src["type"] == "url" and fs.is_local(path):
        return None, None, ("read.invalid_field", "a `url` source that is not a URI")
    duration = rec.get("duration")
    d = seconds(duration, "recording duration", positive=True) if duration is not None else None
    if isinstance(d, tuple):
        return None, None, d
    return audio_uri(path, base), d, None


def _source(rec: dict[str, Any], channel: Any) -> tuple[dict[str, Any] | None, Problem | None]:
    """The one audio source to read, or why there is none that may be read."""
    sources = rec.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, dict) for s in sources):
        return None, ("read.missing_field", "the recording has no `sources` list of objects")
    for s in sources:  # every one: a command beside a file is still a command
        if s.get("type") not in READ_SOURCES:
            shown = str(s.get("type"))[:40]
            detail = f"a lhotse {shown!r} audio source: never run or loaded (only file and url sources are read)"
            return None, ("read.unsupported_source", detail)
    transforms = rec.get("transforms") or []
    names = (
        [t.get("name") if isinstance(t, dict) else None for t in transforms] if isinstance(transforms, list) else [None]
    )
    other = [str(x)[:40] for x in names if x not in KEPT_TRANSFORMS]
    if other:
        return None, ("read.unsupported_source", f"recording transforms {other} are not applied on import")
    if len(sources) == 1:
        return sources[0], None
    held = [s for s in sources if _holds(s, channel)]
    if len(held) != 1:
        detail = f"the recording is {len(sources)} files (one per channel); only a cut of one channel of it is read"
        return None, ("read.unsupported_source", detail)
    return held[0], None


def _holds(src: dict[str, Any], channel: Any) -> bool:
    channels = src.get("channels")
    return (
        isinstance(channel, int)
        and not isinstance(channel, bool)
        and isinstance(channels, list)
        and channel in channels
    )
