"""Audio in and out: any container ffmpeg reads -> 16 kHz mono int16; segments -> FLAC bytes.

Decoding pipes through one ffmpeg process that resamples and downmixes itself (the approach of
openai/whisper's `load_audio`), streamed into a `Pcm` (wsdata/io/pcm.py) that spills to a temporary
file past a few minutes, so a worker's memory does not grow with the audio's length. ffmpeg's log is
read as it comes: a container that declares more than `limits.max_audio_ms` is stopped before it
is decoded, and one that declares nothing is cut by `-t` one second past the limit.

Measured against pydub's `AudioSegment.from_file` (decode at the source rate, then
`set_frame_rate`), this is faster and ffmpeg's resampler is band-limited, where pydub's
`set_frame_rate` is not; see docs/benchmarks.md. The binary is ffmpeg on PATH, else the one
shipped in the imageio-ffmpeg wheel, so `pip install` alone is enough.
"""

from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import soundfile as sf

from wsdata.constants import SAMPLE_RATE, ms_to_samples
from wsdata.errors import MACHINE_ERRNOS
from wsdata.io import fs, libav
from wsdata.io.pcm import SPILL_BYTES, Pcm


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


def ffmpeg_command(path: str, max_ms: int | None = None, start_ms: int = 0, take_ms: int | None = None) -> list[str]:
    """ffmpeg decoding `path` to 16 kHz mono s16le on stdout. With `max_ms` it stops one second past
    that length (an output option), so a longer file costs no more than the limit; the caller sees
    the excess and rejects the file. `start_ms`/`take_ms` decode one span only (ffmpeg seeks).
    Log lines carry their level ('[error] ...') so the container's header (an info line) and the
    complaints can be told apart."""
    if take_ms is None and max_ms is not None:
        take_ms = max_ms + 1000
    seek = ["-ss", f"{start_ms / 1000:.3f}"] if start_ms else []
    limit = [] if take_ms is None else ["-t", f"{take_ms / 1000:.3f}"]
    return [
        *(ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info"),
        *("-threads", "0", *seek, "-i", path, "-vn", *limit),
        *("-f", "s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-acodec", "pcm_s16le", "-"),
    ]


_PREFIX = re.compile(r"^(\[[^\]]*@[^\]]*\]\s*)?(\[(\w+)\]\s*)?")  # '[in#0 @ 0x..] [error] '
_DURATION = re.compile(r"^\s*Duration:\s*(\d+):(\d\d):(\d\d(?:\.\d+)?)")
_COMPLAINTS = ("warning", "error", "fatal", "panic")
_LOG_LINES = 200  # ffmpeg may warn once per packet of a broken file: keep the first few only


class _Log(threading.Thread):
    """Drains ffmpeg's stderr, so the decoder never blocks on a full pipe; keeps its first lines;
    reads the duration the container declares and, past `max_ms`, stops ffmpeg before it decodes."""

    def __init__(self, proc: subprocess.Popen[bytes], max_ms: int | None):
        super().__init__(daemon=True)
        self.proc, self.max_ms = proc, max_ms
        self.lines: list[tuple[str, str]] = []  # (level, message)
        self.declared_ms: int | None = None

    def run(self) -> None:
        assert self.proc.stderr is not None
        while raw := self.proc.stderr.readline(4096):  # a longer line comes in pieces
            if len(self.lines) >= _LOG_LINES:
                continue
            m = _PREFIX.match(raw.decode("utf-8", "replace").rstrip()[:500])
            assert m is not None  # every part of the pattern is optional
            level, text = m.group(3) or "", m.string[m.end() :].strip()
            self.lines.append((level, text))
            d = _DURATION.match(text) if level in ("", "info") and self.declared_ms is None else None
            if d:
                h, mi, s = int(d.group(1)), int(d.group(2)), float(d.group(3))
                self.declared_ms = round((h * 3600 + mi * 60 + s) * 1000)
                if self.max_ms is not None and self.declared_ms > self.max_ms:
                    self.proc.kill()

    def reason(self) -> str:
        """The first distinct complaints, without ffmpeg's '[in#0 @ 0x..]' prefixes."""
        tagged = any(level for level, _ in self.lines)
        seen: list[str] = []
        for level, text in self.lines:
            said = level in _COMPLAINTS or not tagged
            if said and text and text not in seen and not text.startswith("Error opening input file"):
                seen.append(text)
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


def open_pcm(
    uri: str,
    max_ms: int | None = None,
    remote: fs.Remote = fs.DEFAULT_REMOTE,
    spill_bytes: int = SPILL_BYTES,
    span: tuple[int, int] | None = None,
    backend: str = "libav",
) -> Pcm:
    """Decode `uri` to 16 kHz mono int16 samples, streamed into a Pcm (in memory up to `spill_bytes`,
    then in a temporary file), so memory does not grow with the audio's length. The caller closes
    it. Raises AudioError; audio_too_long when the container declares more than `max_ms` (nothing
    is decoded) or the decoded audio runs past it (decoding stops one second after). `span`
    (start_ms, end_ms) decodes that span only. `backend` "libav": in this process
    (wsdata/io/libav.py), with the ffmpeg pipe for what libav cannot open; "ffmpeg": the pipe."""
    pcm = Pcm(spill_bytes)
    try:
        if fs.is_local(uri):
            fs.size(uri)  # a FIFO or device given to a decoder could block or never end: NotAFile first
        with fs.local_copy(uri, remote) as path:
            if backend == "libav" and libav.available():
                try:
                    libav.decode_into(pcm, path, max_ms, span)
                except libav.LibavCannotOpen:
                    pcm.truncate(0)
                    _ffmpeg_into(pcm, path, max_ms, span)
                except libav.DeclaredTooLong as e:
                    assert max_ms is not None
                    raise AudioError("audio_too_long", _declared_too_long(e.declared_ms, max_ms)) from None
            else:
                _ffmpeg_into(pcm, path, max_ms, span)
    except BaseException as e:
        pcm.close()
        if isinstance(e, OSError) and e.errno in MACHINE_ERRNOS:
            raise  # this machine's disk, not the document: the build stops (wsdata/cli.py)
        if isinstance(e, fs.NotAFile):
            raise AudioError("audio_not_a_file", str(e)) from None
        if isinstance(e, fs.TooLarge):
            raise AudioError("audio_too_large", str(e)) from None
        if isinstance(e, fs.RemoteStalled):  # past limits.remote_total_s or under remote_min_bytes_per_s
            raise AudioError(e.code, str(e)) from None
        if isinstance(e, OSError):
            raise AudioError("audio_unreadable", f"{type(e).__name__}: {e}") from None
        raise
    if max_ms is not None and len(pcm) > ms_to_samples(max_ms):
        pcm.close()
        raise AudioError("audio_too_long", f"longer than {_hms(max_ms)} (limits.max_audio_ms); decoding stopped there")
    return pcm


def decode(uri: str, max_ms: int | None = None, remote: fs.Remote = fs.DEFAULT_REMOTE) -> np.ndarray:
    """The whole signal as one int16 array, shape (n,): for clips and tests. A build uses open_pcm."""
    with open_pcm(uri, max_ms, remote) as pcm:
        return pcm[:]


def decode_span(uri: str, start_ms: int, end_ms: int, remote: fs.Remote = fs.DEFAULT_REMOTE) -> np.ndarray:
    """[start_ms, end_ms) of `uri` as int16, decoding that span only: a reviewer's clip of a long file."""
    with open_pcm(uri, None, remote, span=(start_ms, end_ms)) as pcm:
        return pcm[: ms_to_samples(end_ms - start_ms)]


def _ffmpeg_into(pcm: Pcm, path: str, max_ms: int | None, span: tuple[int, int] | None = None) -> None:
    """Run ffmpeg on the local file `path`, appending its output to `pcm` as it comes."""
    start_ms, take_ms = (span[0], span[1] - span[0]) if span else (0, None)
    cmd = ffmpeg_command(path, max_ms, start_ms, take_ms)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = _Log(proc, max_ms)
    log.start()
    assert proc.stdout is not None
    try:
        while block := proc.stdout.read(1 << 20):
            pcm.append(block)
    finally:
        if proc.poll() is None and sys.exc_info()[0] is not None:
            proc.kill()  # we stopped reading (an error): ffmpeg must not wait on a full pipe
        proc.stdout.close()
        proc.wait()
        log.join()
    if max_ms is not None and log.declared_ms is not None and log.declared_ms > max_ms:
        raise AudioError("audio_too_long", _declared_too_long(log.declared_ms, max_ms))
    if proc.returncode != 0 or len(pcm) == 0:
        with open(path, "rb") as f:
            head = f.read(1024)
        kind = _looks_like_text(head)
        if kind:  # its content is not quoted: a path like /etc/passwd must not leak into the rows
            raise AudioError("audio_not_media", f"the file is {kind}, not audio")
        raise AudioError("audio_undecodable", f"ffmpeg: {log.reason()}")


def _declared_too_long(declared_ms: int, max_ms: int) -> str:
    return f"the file declares {_hms(declared_ms)}, longer than {_hms(max_ms)} (limits.max_audio_ms); not decoded"


def _hms(ms: int) -> str:
    s = ms // 1000
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def encode_flac(samples: np.ndarray) -> bytes:
    """16 kHz mono int16 samples -> FLAC file bytes (lossless; ~half the size of PCM)."""
    buf = io.BytesIO()
    sf.write(buf, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def decode_flac(data: bytes, frames: int = -1) -> np.ndarray:
    """FLAC bytes -> int16 samples: the first `frames` of them (-1: all), nothing past them decoded."""
    samples, rate = sf.read(io.BytesIO(data), frames=frames, dtype="int16")
    if rate != SAMPLE_RATE:
        raise ValueError(f"FLAC at {rate} Hz, expected {SAMPLE_RATE}")
    return samples
