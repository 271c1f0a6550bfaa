"""An item's audio for a reviewer: a kept segment's FLAC from the queue, or a reject's span cut from
its source, opened only where the build itself would have opened it.

The queue (review/queue.parquet) is data like any other: a build folder may come from someone else
or be edited by hand. So before a reject's source audio is opened, it passes the checks of the pair
stage (wsdata/stages/pair.py) under the build's own `[limits]` (OUT/_work/build.json, else the
config in stats.json):
- a reject the build refused to open (pair.path_outside_roots, pair.audio_not_a_file, ...,
  `NOT_OPENED`) is never opened: the reviewer is told why there is no audio;
- a local path must lie inside `limits.allowed_roots` (links followed) when the build set any, and be
  a regular file (a FIFO or device could block or never end);
- a build whose `[limits]` cannot be read opens no source audio at all.
Every decode is bounded: at most `MAX_CLIP_MS` of a span, starting no later than
`limits.max_audio_ms`, streamed through the spilling PCM (wsdata/io/pcm.py); a kept segment's FLAC
is decoded to at most `MAX_CLIP_MS` too, whatever its header says.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsdata.config import LimitsConfig
from wsdata.constants import CHUNK_MS, SAMPLE_RATE, ms_to_samples
from wsdata.io import fs
from wsdata.layout import MAX_STATS_BYTES, Layout
from wsdata.terminal import safe

MAX_CLIP_MS = CHUNK_MS  # a reviewer's clip: one Whisper window, 30 s
MAX_CONFIG_BYTES = 4 << 20  # build.json holds a path and the config: kilobytes

# Rejects whose audio the build never opened, and what the reviewer is told instead.
NOT_OPENED: dict[str, str] = {
    "pair.path_outside_roots": "path outside roots (the build's limits.allowed_roots)",
    "pair.audio_not_a_file": "the path is not a regular file (a folder, FIFO, device or socket)",
    "pair.audio_missing": "the build found no file there",
    "pair.audio_empty": "the build found an empty file there",
    "pair.audio_unreadable": "the build could not read it",
    "pair.audio_too_large": "the remote file is larger than limits.max_remote_bytes",
}


class NoAudio(Exception):
    """Why an item has no audio to play; the message is inert text, shown after "no audio: "."""


@dataclass(frozen=True)
class Access:
    """What a review of one build may open: the build's roots and remote bounds, or why nothing."""

    roots: tuple[str, ...] = ()
    remote: fs.Remote = fs.DEFAULT_REMOTE
    max_audio_ms: int = LimitsConfig.max_audio_ms
    refused: str | None = None  # set when the build's limits are unknown: no source audio is opened


def _config(path: Path, limit: int) -> dict[str, Any] | None:
    """The `config` object of a JSON file of the build folder, None when the file is absent;
    ValueError when it is there but unreadable or of the wrong shape."""
    try:
        raw = fs.read_bytes(str(path), limit)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ValueError(f"{path.name}: {e}") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError(f"{path.name} is not JSON") from None
    cfg = data.get("config") if isinstance(data, dict) else None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path.name} holds no config")  # noqa: TRY004 - one error for every unreadable file
    return cfg


def access(out: Path) -> Access:
    """The bounds a review of build folder `out` opens source audio within: the `[limits]` the build
    was made with. Refused (nothing opened) when neither build.json nor stats.json gives them."""
    from wsdata.config import from_dict
    from wsdata.stages.pair import remote  # the build's own bounds of a remote read

    layout = Layout(out)
    try:
        cfg = _config(layout.build_ident, MAX_CONFIG_BYTES)
        if cfg is None:
            cfg = _config(layout.stats, MAX_STATS_BYTES)
        if cfg is None:
            raise ValueError("neither _work/build.json nor stats.json is there")
        built = from_dict({"limits": cfg.get("limits", {})})
    except (ValueError, TypeError) as e:  # ConfigError is a ValueError: a root that is gone, a wrong type
        return Access(refused=f"the build's limits cannot be read ({safe(e, 200)}), so no source audio is opened")
    lim = built.limits
    return Access(tuple(lim.allowed_roots), remote(built), lim.max_audio_ms)


def checked_uri(item: dict[str, Any], acc: Access) -> str:
    """The audio path or URI of a rejected item, once it passed the build's checks; NoAudio otherwise."""
    uri = item.get("audio_uri")
    if not isinstance(uri, str) or not uri:
        raise NoAudio("this reject is a crawl line that names no usable audio")
    reason = item.get("reason")
    if reason in NOT_OPENED:
        raise NoAudio(f"{NOT_OPENED[reason]}; {reason}, never opened: {safe(uri, 300)}")
    if acc.refused:
        raise NoAudio(acc.refused)
    if "\0" in uri:
        raise NoAudio("the path holds a NUL byte")
    uri = uri.removeprefix("file://")  # a local path like any other (fsspec would read it unchecked)
    if not fs.is_local(uri):
        scheme = uri.split("://", 1)[0].lower()
        if scheme not in fs.REMOTE_SCHEMES:  # zip://, memory://, ...: fsspec reaches local files through them
            raise NoAudio(f"a {safe(scheme, 20)}:// URI is never fetched (only {', '.join(fs.REMOTE_SCHEMES)})")
        return uri  # fetched as the build fetches: within limits.remote_timeout_s and max_remote_bytes
    try:
        if acc.roots and not fs.under(uri, acc.roots):
            raise NoAudio(f"path outside roots: {safe(uri, 300)} is outside limits.allowed_roots")
        if fs.size(uri) is None:
            raise NoAudio(f"no such file: {safe(uri, 300)}")
    except fs.NotAFile as e:
        raise NoAudio(safe(e, 300)) from None
    except (OSError, ValueError) as e:  # ENAMETOOLONG, a loop of links, permissions
        raise NoAudio(f"{safe(uri, 300)}: {safe(e.__class__.__name__)}") from None
    return uri


def _span(item: dict[str, Any], acc: Access) -> tuple[int, int]:
    """[start_ms, end_ms) of the clip: the item's span, at most MAX_CLIP_MS from its start (the
    first MAX_CLIP_MS when it names none)."""
    start, end = item.get("start_ms"), item.get("end_ms")
    start = 0 if start is None else start
    if not isinstance(start, int) or not 0 <= start <= acc.max_audio_ms:
        raise NoAudio("the item's start is not a time within the audio (limits.max_audio_ms)")
    end = start + MAX_CLIP_MS if not isinstance(end, int) else min(end, start + MAX_CLIP_MS)
    if end <= start:
        raise NoAudio("the item's span is empty")
    return start, end


def excerpt(item: dict[str, Any], acc: Access) -> np.ndarray:
    """A rejected item's span of its source audio as 16 kHz int16 (at most MAX_CLIP_MS); NoAudio
    when it may not be opened, or cannot be decoded."""
    from wsdata.errors import MACHINE_ERRNOS
    from wsdata.io.audio import AudioError, open_pcm

    uri = checked_uri(item, acc)
    start, end = _span(item, acc)
    try:
        with open_pcm(uri, None, acc.remote, span=(start, end)) as pcm:
            samples = pcm[: ms_to_samples(end - start)]
    except OSError as e:
        if e.errno in MACHINE_ERRNOS:
            raise  # this machine's disk, not the item
        raise NoAudio(safe(e, 300)) from None
    except (AudioError, ValueError, RuntimeError) as e:  # soundfile's errors are RuntimeErrors
        raise NoAudio(safe(e, 300)) from None
    if not len(samples):
        raise NoAudio("the source decodes to nothing in this span")
    return samples


def flac_samples(data: bytes) -> np.ndarray:
    """A kept segment's FLAC (from the queue) as 16 kHz int16, at most MAX_CLIP_MS of it."""
    import soundfile as sf

    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if f.samplerate != SAMPLE_RATE:
                raise NoAudio(f"the queue's FLAC is at {f.samplerate} Hz, not {SAMPLE_RATE}")
            samples = f.read(ms_to_samples(MAX_CLIP_MS), dtype="int16", always_2d=True)
    except (RuntimeError, ValueError, TypeError) as e:  # soundfile's errors are RuntimeErrors
        raise NoAudio(f"the queue's FLAC cannot be decoded ({safe(e, 200)})") from None
    return samples[:, 0] if samples.shape[1] else samples.reshape(-1)
