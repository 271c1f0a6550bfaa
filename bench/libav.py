"""In-process decoding (libav + soxr) against the ffmpeg pipe, in one run on the same files.

    .venv/bin/python bench/libav.py [--docs 40] [--files 12] [--rounds 3]

1. Decode, CPU seconds of this process and its ffmpeg children, per core: the pipe (`[decode]
   backend = "ffmpeg"`), libav + soxr (the default), and the floor (PyAV decoding only, at the
   source rate: no downmix, no resampling). Opus files of bench/corpus.py, and MP3 and AAC
   re-encodings of them.
2. The whole build of the corpus (one worker, no audio model) with each backend: x realtime per
   core, and the shares of decode, VAD and FLAC encoding from the build's CPU clock.
3. Quality against the pipe: SNR of the difference and sample counts on real files of every format
   in tests/data (and ../shared/data/speech when present), and the aliasing of a swept sine wholly
   above 8 kHz (RMS left after resampling to 16 kHz; 0 is perfect).
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import timed, write_section
from bench.corpus import make_corpus
from wsdata import config
from wsdata.clock import CpuClock
from wsdata.io.audio import ffmpeg_exe, open_pcm
from wsdata.orchestrate import build

MARK = "<!-- bench/libav.py writes below this line -->"


def decode_with(backend: str, path: str) -> int:
    with open_pcm(path, backend=backend) as p:
        return len(p)


def floor(path: str) -> int:
    """PyAV decoding alone, at the source rate: what no resampler can beat."""
    import av

    n = 0
    with av.open(path) as c:
        for frame in c.decode(c.streams.audio[0]):
            n += frame.samples
    return n


def bench_decode(paths: list[str], rounds: int) -> list[dict]:
    seconds = sum(decode_with("ffmpeg", p) for p in paths) / 16000
    impls = {
        "ffmpeg pipe": lambda p: decode_with("ffmpeg", p),
        "libav + soxr": lambda p: decode_with("libav", p),
        "floor: PyAV decode only": floor,
    }
    cpu: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(rounds):  # interleaved: drift in the machine's speed hits all alike
        for name, fn in impls.items():
            c, _ = timed(lambda fn=fn: [fn(p) for p in paths])
            cpu[name].append(c)
    return [{"impl": k, "x_rt": seconds / statistics.median(v), "cpu_s": statistics.median(v)} for k, v in cpu.items()]


def reencode(paths: list[str], dest: Path, codec: list[str], ext: str) -> list[str]:
    out = []
    for p in paths:
        target = dest / f"{Path(p).stem}.{ext}"
        if not target.exists():
            subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", p, *codec, str(target)], check=True)
        out.append(str(target))
    return out


def bench_build(crawl: Path, backend: str, work: Path) -> dict:
    cfg = config.override(config.load("default"), {"decode.backend": backend})
    clock = CpuClock()
    out = work / f"build-{backend}"
    c, _ = timed(lambda: build(crawl, out, cfg, progress=False, clock=clock))

    stats = json.loads((out / "stats.json").read_text())
    audio_s = stats["hours"]["in"] * 3600
    spent = dict(clock.spent)
    total = sum(spent.values()) or 1.0
    return {
        "backend": backend,
        "cpu_s": c,
        "x_rt": audio_s / c,
        "audio_h": stats["hours"]["in"],
        "shares": {k: spent.get(k, 0.0) / total for k in ("decode", "vad", "flac")},
    }


def decodes(path: str) -> bool:
    """Whether the pipe decodes `path` (the test data's broken files have nothing to compare)."""
    from wsdata.io.audio import AudioError

    try:
        with open_pcm(path, backend="ffmpeg"):
            return True
    except AudioError:
        return False


def snr_db(ref: np.ndarray, x: np.ndarray) -> float:
    n = min(len(ref), len(x))
    r, d = ref[:n].astype(np.float64), ref[:n].astype(np.float64) - x[:n].astype(np.float64)
    return 10 * np.log10(max(np.sum(r**2), 1.0) / max(np.sum(d**2), 1e-9))


def quality(files: list[str], tmp: Path) -> tuple[list[dict], dict]:
    rows = []
    for f in files:
        with open_pcm(f, backend="ffmpeg") as a, open_pcm(f, backend="libav") as b:
            x, y = a[:], b[:]
        rows.append({"file": Path(f).name, "pipe": len(x), "libav": len(y), "snr": snr_db(x, y)})
    import soundfile as sf

    t = np.arange(48000 * 2) / 48000
    f_hz = 8500 + (23000 - 8500) * t / t[-1] / 2
    sweep = (np.sin(2 * np.pi * np.cumsum(f_hz) / 48000) * 16000).astype(np.int16)
    sf.write(tmp / "sweep.wav", sweep, 48000)
    alias = {}
    for backend in ("ffmpeg", "libav"):
        with open_pcm(str(tmp / "sweep.wav"), backend=backend) as p:
            y = p[:].astype(np.float64)[800:-800]
        alias[backend] = float(np.sqrt(np.mean(y**2)))
    return rows, alias


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=40)
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--corpus", default=str(ROOT / "build/bench-corpus-libav"))
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    a = ap.parse_args()
    crawl = make_corpus(Path(a.corpus), a.docs)
    opus = sorted(str(p) for p in (Path(a.corpus) / "media").glob("*.opus"))[: a.files]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        sets = {
            "Opus 48 kHz (the corpus)": opus,
            "MP3 128 kb/s 44.1 kHz": reencode(opus, tmp, ["-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100"], "mp3"),
            "AAC 96 kb/s 44.1 kHz (M4A)": reencode(opus, tmp, ["-c:a", "aac", "-b:a", "96k", "-ar", "44100"], "m4a"),
        }
        dec = {name: bench_decode(paths, a.rounds) for name, paths in sets.items()}
        builds = [bench_build(crawl, b, tmp) for b in ("ffmpeg", "libav")]
        real = sorted(str(p) for p in (ROOT / "tests/data/minicorpus/media").iterdir())
        shared = ROOT.parent / "shared" / "data" / "speech"
        real += sorted(str(p) for p in shared.rglob("*") if p.suffix in (".flac", ".wav", ".mp3", ".opus"))[:10]
        q, alias = quality([f for f in real if decodes(f)], tmp)

    md = [
        MARK,
        "",
        "## Decoding in-process: libav + soxr against the ffmpeg pipe (bench/libav.py)",
        "",
        "```",
        f".venv/bin/python bench/libav.py --docs {a.docs} --files {a.files} --rounds {a.rounds}",
        "```",
        "",
        (
            f"CPU seconds of the process and its ffmpeg children (median of {a.rounds} interleaved rounds), "
            f"{len(opus)} files of bench/corpus.py (~2 min each) and their re-encodings; x realtime per core."
        ),
        "",
        "| files | decoder | x realtime per core | vs the ffmpeg pipe |",
        "|---|---|---:|---:|",
    ]
    for name, rows in dec.items():
        base = rows[0]["x_rt"]
        md += [f"| {name} | {r['impl']} | {r['x_rt']:,.0f} | {r['x_rt'] / base:.2f}x |" for r in rows]
    b0, b1 = builds
    md += [
        "",
        (
            f"The whole build of the corpus ({b0['audio_h']:.2f} h, one worker, no audio model), CPU of the "
            "process and its children:"
        ),
        "",
        "| decode backend | x realtime per core | decode share | VAD share | FLAC share |",
        "|---|---:|---:|---:|---:|",
    ]
    md += [
        f"| {b['backend']} | {b['x_rt']:,.0f} | {b['shares']['decode']:.1%} | {b['shares']['vad']:.1%} | "
        f"{b['shares']['flac']:.1%} |"
        for b in builds
    ]
    md += [
        "",
        f"Whole build: {b1['x_rt'] / b0['x_rt']:.2f}x the ffmpeg pipe's pace.",
        "",
        "Against the pipe's output on real files (sample counts, and the SNR of the difference):",
        "",
        "| file | samples (pipe) | samples (libav) | SNR |",
        "|---|---:|---:|---:|",
    ]
    md += [f"| {r['file']} | {r['pipe']} | {r['libav']} | {r['snr']:.1f} dB |" for r in q]
    md += [
        "",
        (
            f"Aliasing: a sweep over 8.5-23 kHz at 48 kHz (RMS 11,300) leaves RMS {alias['ffmpeg']:.1f} through "
            f"the pipe's resampler and {alias['libav']:.1f} through soxr (HQ)."
        ),
        "",
    ]
    write_section(Path(a.out), MARK, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
