"""A worker's peak memory does not grow with the audio's length: a build of 2 h of audio peaks within
100 MB of a build of its first 104 s, where holding the decoded 2 h alone would take 230 MB.
A memory cap, not a timing (docs/benchmarks.md has the 1 h and 10 h figures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import EN_AUDIO, EN_SRT
from wsdata.io.audio import ffmpeg_exe

MB = 1 << 20
HOURS = 2


def long_recording(path: Path, hours: int) -> Path:
    """The real English clip followed by `hours` of digital silence: an 8 kHz 8-bit WAV, cheap to
    write (58 MB for 2 h) and decoded to 16 kHz int16 like any other file."""
    cmd = [
        *(ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(EN_AUDIO)),
        *("-f", "lavfi", "-t", str(hours * 3600), "-i", "anullsrc=r=8000:cl=mono"),
        *("-filter_complex", "[0:a]aresample=8000,aformat=channel_layouts=mono[a];[a][1:a]concat=n=2:v=0:a=1"),
        *("-c:a", "pcm_u8", "-f", "wav", str(path)),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def build_peak_rss(tmp: Path, audio: Path) -> tuple[int, dict]:
    """Peak RSS in bytes of a process that builds a one-document crawl over `audio` (one chunk: the
    build runs in that process), and the build's stats. Linux: /proc/self/status."""
    tmp.mkdir(exist_ok=True)
    src = tmp / f"{audio.stem}.jsonl"
    line = {"id": audio.stem, "audio": str(audio), "transcript": str(EN_SRT), "language": "en"}
    src.write_text(json.dumps(line) + "\n")
    out = tmp / f"out-{audio.stem}"
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into a child's ru_maxrss across exec, and
    # the parent here is pytest, which may have loaded a model.
    code = f"""
import json, re
from wsdata.cli import main
rc = main(["build", "--source", {str(src)!r}, "--out", {str(out)!r}, "--quiet"])
status = open("/proc/self/status").read()
print(json.dumps([rc, int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rc, peak_kb = json.loads(proc.stdout.strip().splitlines()[-1])
    assert rc == 0
    return peak_kb * 1024, json.loads((out / "stats.json").read_text())


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS is read from Linux's /proc")
def test_peak_memory_does_not_grow_with_audio_length(tmp_path):
    build_peak_rss(tmp_path / "warm", EN_AUDIO)  # fills the model cache, which costs memory once
    short, _ = build_peak_rss(tmp_path, EN_AUDIO)
    long, stats = build_peak_rss(tmp_path, long_recording(tmp_path / "long.wav", HOURS))
    assert stats["documents"]["kept"] == 1  # decoded to the end and cut, not rejected early
    assert stats["hours"]["in"] > HOURS
    decoded = HOURS * 3600 * 16000 * 2
    assert long - short < 100 * MB < decoded, (short / MB, long / MB)
    assert long < 1024 * MB, (short / MB, long / MB)
