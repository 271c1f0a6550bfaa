"""Audio in and out: any container ffmpeg reads -> 16 kHz mono int16; segments -> FLAC bytes.

Decoding pipes through one ffmpeg process that resamples and downmixes itself (the approach of
openai/whisper's `load_audio`). Measured against pydub's `AudioSegment.from_file` (decode at the
source rate, then `set_frame_rate`), this is faster and ffmpeg's resampler is band-limited, where
pydub's `set_frame_rate` is not; see docs/benchmarks.md. The binary is ffmpeg on PATH, else the one
shipped in the imageio-ffmpeg wheel, so `pip install` alone is enough.
"""

from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess

import numpy as np
import soundfile as sf

from wsdata.constants import SAMPLE_RATE, ms_to_samples
from wsdata.io import fs


class AudioError(Exception):
    """The audio cannot be used; `code` is the pair.* reason suffix, the message a user's detail."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code


@functools.cache
def ffmpeg_exe() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - it is a dependency
        raise AudioError("audio_undecodable", "no ffmpeg on PATH and imageio-ffmpeg is not installed") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_command(path: str, max_ms: int | None = None) -> list[str]:
    """ffmpeg decoding `path` to 16 kHz mono s16le on stdout. With `max_ms` it stops one second past
    that length (an output option), so a longer file costs no more memory than the limit; the caller
    sees the excess and rejects the file."""
    limit = [] if max_ms is None else ["-t", f"{max_ms / 1000 + 1:.3f}"]
    return [
        *(ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "warning", "-threads", "0", "-i", path, "-vn"),
        *limit,
        *("-f", "s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-acodec", "pcm_s16le", "-"),
    ]


_FFMPEG_PREFIX = re.compile(r"^\[[^\]]*\]\s*")


def _ffmpeg_reason(stderr: bytes) -> str:
    """The first distinct lines of ffmpeg's complaint, without '[in#0 @ 0x..]' prefixes."""
    seen: list[str] = []
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = _FFMPEG_PREFIX.sub("", line).strip()
        if line and line not in seen and not line.startswith("Error opening input file"):
            seen.append(line)
    return "; ".join(seen[:3]) or "ffmpeg produced no audio"


def _looks_like_text(head: bytes) -> str | None:
    """Name the kind of text file that was saved under an audio name, or None."""
    probe = head.lstrip().lower()
    for marker, kind in (
        (b"<!doctype html", "an HTML page"),
        (b"<html", "an HTML page"),
        (b"<?xml", "an XML document"),
        (b"{", "a JSON document"),
    ):
        if probe.startswith(marker):
            return kind
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:512]):
        return "plain text"
    return None


def decode(uri: str, max_ms: int | None = None, remote: fs.Remote = fs.DEFAULT_REMOTE) -> np.ndarray:
    """Decode `uri` to 16 kHz mono int16 samples, shape (n,). Raises AudioError, with code
    audio_too_long when the audio lasts longer than `max_ms` (decoding stops just past it)."""
    try:
        if fs.is_local(uri):
            fs.size(uri)  # a FIFO or device given to ffmpeg could block or never end: NotAFile first
        with fs.local_copy(uri, remote) as path:
            proc = subprocess.run(ffmpeg_command(path, max_ms), capture_output=True, check=False)
            if proc.returncode != 0 or not proc.stdout:
                with open(path, "rb") as f:
                    head = f.read(1024)
                kind = _looks_like_text(head)
                if kind:  # its content is not quoted: a path like /etc/passwd must not leak into the rows
                    raise AudioError("audio_not_media", f"the file is {kind}, not audio")
                raise AudioError("audio_undecodable", f"ffmpeg: {_ffmpeg_reason(proc.stderr)}")
    except fs.NotAFile as e:
        raise AudioError("audio_not_a_file", str(e)) from None
    except fs.TooLarge as e:
        raise AudioError("audio_too_large", str(e)) from None
    except OSError as e:
        raise AudioError("audio_unreadable", f"{type(e).__name__}: {e}") from None
    samples = np.frombuffer(proc.stdout[: len(proc.stdout) // 2 * 2], dtype=np.int16)
    if max_ms is not None and len(samples) > ms_to_samples(max_ms):
        raise AudioError("audio_too_long", f"longer than {max_ms / 3.6e6:.2f} h (limits.max_audio_ms)")
    return samples


def encode_flac(samples: np.ndarray) -> bytes:
    """16 kHz mono int16 samples -> FLAC file bytes (lossless; ~half the size of PCM)."""
    buf = io.BytesIO()
    sf.write(buf, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def decode_flac(data: bytes) -> np.ndarray:
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    if rate != SAMPLE_RATE:
        raise ValueError(f"FLAC at {rate} Hz, expected {SAMPLE_RATE}")
    return samples
