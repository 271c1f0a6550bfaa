"""Helpers shared by the benchmark scripts: CPU clocks, the baselines' decoders, docs/benchmarks.md."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from wsdata.clock import cpu_seconds  # this process and its waited-for children (ffmpeg)
from wsdata.io.audio import ffmpeg_exe


def timed(fn) -> tuple[float, float]:
    c0, w0 = cpu_seconds(), time.perf_counter()
    fn()
    return cpu_seconds() - c0, time.perf_counter() - w0


def whisper_load_audio(path: str) -> np.ndarray:
    """openai/whisper audio.load_audio, as published (int16 kept: the float scaling is not decode)."""
    cmd = [
        ffmpeg_exe(),
        "-nostdin",
        "-threads",
        "0",
        "-i",
        path,
        "-f",
        "s16le",
        "-ac",
        "1",
        "-acodec",
        "pcm_s16le",
        "-ar",
        "16000",
        "-",
    ]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(out, np.int16)


def pydub_decode(path: str) -> np.ndarray:
    """pydub's default path: decode at the source rate to WAV, then downmix and resample in Python.

    `AudioSegment.from_file` first runs ffprobe, which the pip-only set-up lacks (imageio-ffmpeg
    ships ffmpeg alone); where it is missing we run the same ffmpeg-to-WAV command pydub runs
    after probing, and load that WAV with pydub.
    """
    import io

    from pydub import AudioSegment

    if shutil.which("ffprobe"):
        seg = AudioSegment.from_file(path)
    else:
        cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", path, "-vn", "-acodec", "pcm_s16le", "-f", "wav", "-"]
        seg = AudioSegment.from_wav(io.BytesIO(subprocess.run(cmd, capture_output=True, check=True).stdout))
    seg = seg.set_channels(1).set_frame_rate(16000).set_sample_width(2)
    return np.array(seg.get_array_of_samples(), dtype=np.int16)


def write_section(path: Path, mark: str, body: str) -> None:
    """Replace one script's part of docs/benchmarks.md: from its marker line ("" = the top) to the
    next script's marker, keeping the other scripts' parts as they are."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    parts = old.split("\n<!-- bench/")  # parts[0]: this script's top part; then one per marker
    sections = {"": parts[0]} | {"<!-- bench/" + p.split("\n", 1)[0]: "<!-- bench/" + p for p in parts[1:]}
    sections[mark] = (mark + "\n" if mark else "") + body.removeprefix(mark + "\n" if mark else "").rstrip() + "\n"
    order = ["", *sorted(k for k in sections if k)]
    path.write_text("\n".join(sections[k].rstrip() + "\n" for k in order if k in sections), encoding="utf-8")
