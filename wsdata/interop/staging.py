"""An imported corpus as a crawl: one line per utterance or recording, in OUT/_work/import/.

An `Item` is what a reader (wsdata/interop/readers.py) makes of one utterance or recording. Staging
writes its crawl line, and the files a crawl line can only point at: audio given as bytes (a
`datasets` Audio column), a span of a longer file cut into its own FLAC (a NeMo offset), and the
timed supervisions of a long recording as a JSON transcript (the build's segmenter cuts it). The
crawl file appears whole (atomic rename) with a marker of what it was made from, so a rerun of the
same import skips staging and resumes the build.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsdata.hashing import stable_hash
from wsdata.io import atomic


@dataclass
class Item:
    """One utterance (text, at most 30 s) or recording (timed cues) of an existing corpus."""

    id: str
    text: str | None = None  # untimed text of an utterance
    audio: str | None = None  # path or URI of the audio file ...
    audio_bytes: bytes | None = None  # ... or its bytes, written beside the crawl
    audio_ext: str = "flac"  # the bytes' file type, for ffmpeg
    cues: list[tuple[int, int, str]] | None = None  # (start_ms, end_ms, text) of a long recording
    language: str | None = None  # the corpus's language for it (ISO 639-1 or a locale)
    source: str | None = None
    split: str | None = None  # "train" | "validation"; None: the build's seeded hash decides
    meta: dict[str, Any] = field(default_factory=dict)  # speaker, gender, ...: the rows' `meta`


def _name(item_id: str) -> str:
    return f"{stable_hash(item_id):016x}"


def crawl_line(item: Item, work: Path) -> dict[str, Any]:
    """The item's crawl line, writing the files it needs under `work` (audio/, transcripts/)."""
    line: dict[str, Any] = {"id": item.id, "caption_kind": "manual"}  # a corpus's transcripts are human
    if item.audio_bytes is not None:
        path = work / "audio" / f"{_name(item.id)}.{item.audio_ext}"
        atomic.write_bytes(path, item.audio_bytes)
        line["audio"] = str(path)
    elif item.audio:
        line["audio"] = item.audio
    if item.cues is not None:
        path = work / "transcripts" / f"{_name(item.id)}.json"
        cues = [{"start": s / 1000, "end": e / 1000, "text": t} for s, e, t in item.cues]
        atomic.write_text(path, json.dumps(cues, ensure_ascii=False))
        line["transcript"] = str(path)
    elif item.text is not None:
        line["text"] = item.text
    for key in ("language", "source", "split"):
        if getattr(item, key):
            line[key] = getattr(item, key)
    if item.meta:
        line["meta"] = item.meta
    return line


def stage(items: Iterable[Item], work: Path, ident: dict[str, Any]) -> tuple[Path, int]:
    """Write the crawl of `items` to work/crawl.jsonl (once: a rerun with the same `ident` reuses
    it); returns (its path, its lines)."""
    crawl, marker = work / "crawl.jsonl", work / "staged.json"
    if marker.exists():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if done.get("ident") == json.loads(json.dumps(ident)):
            return crawl, done["lines"]
        raise ValueError(
            f"{work.parent.parent} holds an import of something else ({done.get('ident')}); use a new --out"
        )
    work.mkdir(parents=True, exist_ok=True)
    n = 0
    with atomic.atomic_path(crawl) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(crawl_line(item, work), ensure_ascii=False) + "\n")
            n += 1
    atomic.write_json(marker, {"ident": ident, "lines": n})
    return crawl, n
