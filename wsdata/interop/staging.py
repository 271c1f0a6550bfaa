"""An imported corpus as a crawl: one line per utterance or recording, in OUT/_work/import/.

An `Item` is what a reader (wsdata/interop/readers.py) makes of one utterance or recording. Staging
writes its crawl line, and the files a crawl line can only point at: audio given as bytes (a
`datasets` Audio column), a span of a longer file cut into its own FLAC (a NeMo offset, a lhotse
cut of part of a recording), and the timed supervisions of a long recording as a JSON transcript
(the build's segmenter cuts it). The crawl file appears whole (atomic rename) with a marker of what
it was made from, so a rerun of the same import skips staging and resumes the build.

A corpus is someone else's data. Every audio path an item names is checked here before anything
reads it: a local path must lie inside `Bounds.roots` (the corpus's folder unless the user widens
`limits.allowed_roots`), hold no NUL byte and fit the file system's name limits; a URI must be one
the build reads itself (http, https, s3, gs). A span is decoded through the build's bounded decoder
(wsdata/io/audio.py: in memory up to a few minutes, then a temporary file) into a FLAC written a
block at a time, and a span longer than `limits.max_audio_ms` is never decoded. A record that fails
is not dropped: its line carries a reject (`STAGED_REJECT`, wsdata/io/crawl.py) that the build's
read stage writes to rejects/ with its reason, so every record ends in data/ or rejects/.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsdata.config import LimitsConfig
from wsdata.constants import SAMPLE_RATE, ms_to_samples
from wsdata.errors import MACHINE_ERRNOS
from wsdata.hashing import stable_hash
from wsdata.interop.manifest import Problem
from wsdata.io import atomic, fs
from wsdata.io.crawl import STAGED_REJECT

NAME_MAX = 255  # bytes of one path component (ext4, xfs, btrfs, apfs)
PATH_MAX = 4096  # bytes of a whole path (Linux)
FLAC_BLOCK = 1 << 20  # samples encoded at a time (~65 s, 2 MB)
MAX_DETAIL = 500  # characters of a reject's detail


@dataclass
class Item:
    """One utterance (text, at most 30 s) or recording (timed cues) of an existing corpus, or the
    reject of a record that cannot be one (`reject`)."""

    id: str
    text: str | None = None  # untimed text of an utterance
    audio: str | None = None  # absolute path or URI of the audio file ...
    audio_bytes: bytes | None = None  # ... or its bytes, written beside the crawl
    audio_ext: str = "flac"  # the bytes' file type, for ffmpeg
    span: tuple[int, int] | None = None  # [start_ms, end_ms) of `audio`: cut out into its own FLAC
    cues: list[tuple[int, int, str]] | None = None  # (start_ms, end_ms, text) of a long recording
    language: str | None = None  # the corpus's language for it (ISO 639-1 or a locale)
    source: str | None = None
    split: str | None = None  # "train" | "validation"; None: the build's seeded hash decides
    meta: dict[str, Any] = field(default_factory=dict)  # speaker, gender, ...: the rows' `meta`
    reject: Problem | None = None  # set: the record is a reject with this reason, nothing is read


def rejected(ident: str, problem: Problem, source: str | None = None) -> Item:
    """The item of a record that becomes a reject row with `problem`'s reason and detail."""
    return Item(id=ident, source=source, reject=problem)


@dataclass(frozen=True)
class Bounds:
    """What staging may read: the folders local audio must lie in (empty: anywhere) and the build's
    `[limits]` that a span's decode runs under."""

    roots: tuple[str, ...] = ()
    max_audio_ms: int = LimitsConfig.max_audio_ms
    remote: fs.Remote = fs.DEFAULT_REMOTE
    backend: str = "libav"


def audio_uri(path: str, base: Path | None) -> str:
    """A record's audio path made absolute: a URI as it is (file:// as its path), a relative path
    against `base` (the manifest's folder). No `~` expansion: a manifest is not a shell."""
    if path.startswith("file://"):
        return path[len("file://") :]
    if not fs.is_local(path):  # a URI: check_audio says whether its scheme is read
        return path
    p = Path(path)
    return str(p if p.is_absolute() or base is None else base / p)


def check_audio(uri: str, roots: tuple[str, ...]) -> Problem | None:
    """Why the audio `uri` may not be read, or None. Local paths must lie inside `roots` (links
    followed, `..` resolved); URIs must be of a scheme the build reads with its own bounds."""
    if why := fs.location_problem(uri):  # a NUL byte, or a scheme the build does not read
        return "read.invalid_field", f"audio: {why}"
    try:
        raw = os.fsencode(uri)
    except UnicodeError:
        return "read.invalid_field", "audio: the path is not valid Unicode (a lone surrogate)"
    if not fs.is_local(uri):  # file:// too: a corpus names its files by path
        scheme = uri.split("://", 1)[0].lower()
        if scheme not in fs.REMOTE_SCHEMES:
            return "read.invalid_field", f"audio: {scheme}:// is not read (only {', '.join(fs.REMOTE_SCHEMES)})"
        return None
    if not os.path.isabs(uri):  # a hub dataset's relative path: there is no folder it is relative to
        return "read.invalid_field", f"audio: {uri[:120]} is a relative path with no corpus folder"
    if len(raw) >= PATH_MAX or any(len(part) > NAME_MAX for part in raw.split(b"/")):
        return "pair.audio_unreadable", f"{uri[:120]}...: file name too long ({len(raw):,} bytes; ENAMETOOLONG)"
    if roots and not fs.under(uri, roots):
        return (
            "pair.path_outside_roots",
            (
                f"{uri} is outside {', '.join(roots)} (limits.allowed_roots: the corpus's folder unless widened,"
                " --set limits.allowed_roots=[...])"
            ),
        )
    return None


def _name(item_id: str, n: int) -> str:
    # By position too: two records with one id (a corpus's mistake) must not share a staged file.
    return f"{stable_hash(f'{n}:{item_id}'):016x}"


def crawl_line(item: Item, work: Path, bounds: Bounds = Bounds(), n: int = 0) -> dict[str, Any]:
    """The item's crawl line, writing the files it needs under `work` (audio/, transcripts/): the
    record's reject line when it has one or when its audio may not be read."""
    if item.reject is None and item.audio is not None:
        item.reject = check_audio(item.audio, bounds.roots)
    line: dict[str, Any] = {"id": item.id, "caption_kind": "manual"}  # a corpus's transcripts are human
    if item.reject is None and item.span is not None:
        assert item.audio is not None, "a span is of an audio file"
        path = work / "audio" / f"{_name(item.id, n)}.flac"
        item.reject = stage_span(item.audio, item.span, path, bounds)
        line["audio"] = str(path)
    if item.reject is not None:
        reason, detail = item.reject
        return {"id": item.id, STAGED_REJECT: {"reason": reason, "detail": detail[:MAX_DETAIL]}}
    if item.audio_bytes is not None:
        path = work / "audio" / f"{_name(item.id, n)}.{item.audio_ext}"
        atomic.write_bytes(path, item.audio_bytes)
        line["audio"] = str(path)
    elif item.audio and item.span is None:
        line["audio"] = item.audio
    if item.cues is not None:
        path = work / "transcripts" / f"{_name(item.id, n)}.json"
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


def stage_span(uri: str, span: tuple[int, int], dest: Path, bounds: Bounds) -> Problem | None:
    """Decode [start_ms, end_ms) of `uri` into the FLAC file `dest`; the problem when it cannot be.
    Memory holds a few minutes of samples at most (wsdata/io/pcm.py), whatever the span's length."""
    from wsdata.io.audio import AudioError, _hms, open_pcm

    start, end = span
    if not 0 <= start < end:
        return "read.invalid_field", f"the span {start}..{end} ms of {uri} is empty or negative"
    if end - start > bounds.max_audio_ms:
        return (
            "pair.audio_too_long",
            (
                f"{uri}: the span lasts {_hms(end - start)}, longer than {_hms(bounds.max_audio_ms)}"
                " (limits.max_audio_ms); not decoded"
            ),
        )
    if fs.is_local(uri):
        problem = _local_file(uri)
        if problem:
            return problem
    try:
        pcm = open_pcm(uri, None, bounds.remote, span=span, backend=bounds.backend)
    except AudioError as e:
        return f"pair.{e.code}", f"{uri}: {e}"
    except OSError as e:
        if e.errno in MACHINE_ERRNOS:
            raise  # this machine's disk, not the record: the import stops
        return "pair.audio_unreadable", f"{uri}: {type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - a decoder's surprise on one record is that record's reject
        return "pair.internal_error", f"{uri}: {type(e).__name__}: {e}"
    with pcm:
        n = min(len(pcm), ms_to_samples(end - start))
        if n == 0:
            return "pair.audio_undecodable", f"{uri}: no audio in {start}..{end} ms (past the end of the file?)"
        _write_flac(pcm, n, dest)
    return None


def _local_file(uri: str) -> Problem | None:
    """The pair stage's checks of a local audio file, before a decoder opens it."""
    try:
        size = fs.size(uri)
    except fs.NotAFile as e:  # a FIFO or device: opening it could block for good
        return "pair.audio_not_a_file", str(e)
    except OSError as e:
        if e.errno in MACHINE_ERRNOS:
            raise
        return "pair.audio_unreadable", f"{uri}: {type(e).__name__}: {e}"
    if size is None:
        return "pair.audio_missing", f"no such file: {uri}"
    if size == 0:
        return "pair.audio_empty", f"{uri} has 0 bytes (an interrupted download?)"
    return None


def _write_flac(pcm: Any, n: int, dest: Path) -> None:
    """The first `n` samples of `pcm` as a 16 kHz mono FLAC file, encoded a block at a time."""
    import soundfile as sf

    with atomic.atomic_path(dest) as tmp, sf.SoundFile(tmp, "w", SAMPLE_RATE, 1, "PCM_16", format="FLAC") as f:
        for a in range(0, n, FLAC_BLOCK):
            f.write(pcm[a : min(n, a + FLAC_BLOCK)])


def stage(
    items: Iterable[Item], work: Path, ident: dict[str, Any], bounds: Bounds = Bounds()
) -> tuple[Path, int, dict[str, int]]:
    """Write the crawl of `items` to work/crawl.jsonl (once: a rerun with the same `ident` reuses
    it); returns (its path, its lines, the records it rejected by reason)."""
    crawl, marker = work / "crawl.jsonl", work / "staged.json"
    if marker.exists():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if done.get("ident") == json.loads(json.dumps(ident)):
            return crawl, done["lines"], done.get("rejected", {})
        raise ValueError(
            f"{work.parent.parent} holds an import of something else ({done.get('ident')}); use a new --out"
        )
    work.mkdir(parents=True, exist_ok=True)
    n, rejected_by = 0, Counter[str]()
    with atomic.atomic_path(crawl) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for item in items:
            line = crawl_line(item, work, bounds, n)
            f.write(_encode(line))
            n += 1
            if STAGED_REJECT in line:
                rejected_by[line[STAGED_REJECT]["reason"]] += 1
    atomic.write_json(marker, {"ident": ident, "lines": n, "rejected": dict(sorted(rejected_by.items()))})
    return crawl, n, dict(sorted(rejected_by.items()))


def _encode(line: dict[str, Any]) -> str:
    """One JSON line. A lone surrogate (valid in JSON, not in UTF-8) is written escaped."""
    text = json.dumps(line, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(line)
    return text + "\n"
