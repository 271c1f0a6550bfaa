"""In-process decoding: libav through PyAV, downmixed to mono, resampled to 16 kHz by soxr.

The ffmpeg pipe (wsdata/io/audio.py) costs a process, a pipe and ffmpeg's own resampler per file;
here the codec runs in this process and soxr resamples about a second of audio at a time (never
single frames: its per-call cost would dominate). Memory stays bounded: decoded blocks go straight
into the caller's Pcm (wsdata/io/pcm.py), which spills to disk past its limit.

Errors keep the ffmpeg path's reasons: `audio_too_long` from the container's declared duration
(nothing decoded) or past the limit while decoding here; a file libav cannot open or decode a
single frame of (not media, a codec the wheel lacks, broken) is `LibavCannotOpen`, and the caller
runs the ffmpeg pipe on it, which names the reason as it always has. A file that breaks part way
keeps what decoded, as the pipe does.
"""

from __future__ import annotations

import functools

import numpy as np

from wsdata.constants import SAMPLE_RATE, ms_to_samples
from wsdata.io.pcm import Pcm

BLOCK_S = 1.0  # seconds of source audio per resampler call


class LibavCannotOpen(Exception):
    """The container or codec is unknown to this libav: try the ffmpeg pipe."""


class DeclaredTooLong(Exception):
    """The container declares more than the limit: nothing is decoded (the caller's audio_too_long)."""

    def __init__(self, declared_ms: int):
        super().__init__(declared_ms)
        self.declared_ms = declared_ms


@functools.cache
def available() -> bool:
    try:
        import av  # noqa: F401
        import soxr  # noqa: F401
    except ImportError:
        return False
    return True


def _mono(frame: object) -> np.ndarray:
    """A decoded frame as float32 mono, shape (n,): planar or packed, any sample format."""
    x = frame.to_ndarray()  # type: ignore[attr-defined]
    channels = len(frame.layout.channels)  # type: ignore[attr-defined]
    if x.dtype.kind in "iu":  # integer samples: to [-1, 1)
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    else:
        x = x.astype(np.float32, copy=False)
    if x.shape[0] == channels:  # planar: (channels, n)
        return x.mean(axis=0) if channels > 1 else x[0]
    return x.reshape(-1, channels).mean(axis=1) if channels > 1 else x.reshape(-1)  # packed: (1, n * channels)


def decode_into(pcm: Pcm, path: str, max_ms: int | None, span: tuple[int, int] | None = None) -> int | None:
    """Append `path`'s audio (or [start_ms, end_ms) of it) to `pcm` as 16 kHz mono int16; returns the
    duration the container declares (ms) or None. Raises LibavCannotOpen or wsdata's AudioError."""
    import av
    import soxr

    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as e:  # not a container libav knows, or not media at all
        raise LibavCannotOpen(str(e)) from None
    with container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise LibavCannotOpen("no audio stream")
        declared = int(container.duration // 1000) if container.duration else None
        if max_ms is not None and declared is not None and declared > max_ms:
            raise DeclaredTooLong(declared)
        start_ms, end_ms = span if span else (0, None)
        if start_ms:  # to the keyframe before, then drop what precedes the span (as ffmpeg's -ss does)
            container.seek(start_ms * 1000, any_frame=False, backward=True)
        limit = ms_to_samples(end_ms - start_ms) if end_ms is not None else None
        if limit is None and max_ms is not None:
            limit = ms_to_samples(max_ms + 1000)  # as ffmpeg's -t: a second past the limit, then stop
        # Where the stream ends by its container (an MP4 edit list trims an AAC encoder's padding):
        # samples past it are dropped, as the ffmpeg pipe drops them.
        tb = stream.time_base
        end_s = float(((stream.start_time or 0) + stream.duration) * tb) if stream.duration and tb else None
        resampler, rate = None, 0
        block: list[np.ndarray] = []
        queued = written = 0

        def emit(x: np.ndarray, last: bool = False) -> bool:
            nonlocal written
            y = resampler.resample_chunk(x, last=last) if resampler is not None else x
            pcm16 = np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)
            if limit is not None:
                pcm16 = pcm16[: max(0, limit - written)]
            pcm.append(pcm16.tobytes())
            written += len(pcm16)
            return limit is not None and written >= limit

        try:
            for frame in container.decode(stream):
                if resampler is None:
                    rate = frame.sample_rate
                    resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
                x = _mono(frame)
                if end_s is not None and frame.pts is not None:
                    room = round((end_s - float(frame.pts * frame.time_base)) * rate)
                    if room <= 0:
                        continue
                    x = x[:room]
                if start_ms and frame.pts is not None:  # samples before the span's start are dropped
                    t0_ms = float(frame.pts * frame.time_base) * 1000
                    skip = round((start_ms - t0_ms) * rate / 1000)
                    if skip >= len(x):
                        continue
                    x = x[max(0, skip) :]
                    start_ms = 0  # the rest follows on
                block.append(x)
                queued += len(x)
                if queued >= BLOCK_S * rate:
                    if emit(np.concatenate(block)):
                        return declared
                    block, queued = [], 0
        except av.error.FFmpegError as e:
            if written == 0 and not block:  # nothing decoded: the ffmpeg pipe says why, as it always has
                raise LibavCannotOpen(str(e)) from None
            # a truncated file: keep what decoded, as the ffmpeg path does
        if resampler is None:
            raise LibavCannotOpen("no audio frame decoded")
        emit(np.concatenate(block) if block else np.zeros(0, np.float32), last=True)
    return declared
