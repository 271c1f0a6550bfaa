"""Decode and build speed against baselines measured in the same run. Writes docs/benchmarks.md.

    .venv/bin/python bench/run.py [--rounds 5] [--copies 8]

1. Decode, per file of tests/data/minicorpus (opus, mp3, flac, 8-48 kHz): wsdata's decode vs the
   ffmpeg pipe of openai/whisper's `load_audio` vs pydub (`from_file` + `set_channels(1)` +
   `set_frame_rate(16000)`), interleaved round by round; figure: x realtime per CPU core (audio
   seconds / CPU seconds of this process and its ffmpeg children).
2. Build vs decode-only: `wsdata build` (one worker) of a crawl repeating the corpus's decodable
   documents `--copies` times under new ids, against decoding the same files alone.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wsdata import config  # noqa: E402
from wsdata.io.audio import decode, ffmpeg_exe  # noqa: E402
from wsdata.runner import build  # noqa: E402

MINI = ROOT / "tests/data/minicorpus"
FILES = ["yt-Uo9P_bgKdA6.opus", "vm-097850963.opus", "yt-6YitTZQC4DX.opus", "yt-KVbFJfQaQpD.mp3",
         "yt-CM7teu_jDF_.flac", "yt-F7K1ZWJNSsh.opus"]  # fmt: skip


def cpu_seconds() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def timed(fn) -> tuple[float, float]:
    c0, w0 = cpu_seconds(), time.perf_counter()
    fn()
    return cpu_seconds() - c0, time.perf_counter() - w0


def whisper_load_audio(path: str) -> np.ndarray:
    """openai/whisper audio.load_audio, as published (int16 kept: the float scaling is not decode)."""
    cmd = [ffmpeg_exe(), "-nostdin", "-threads", "0", "-i", path, "-f", "s16le", "-ac", "1", "-acodec", "pcm_s16le",
           "-ar", "16000", "-"]  # fmt: skip
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


def bench_decode(rounds: int) -> list[dict]:
    import pydub

    pydub.AudioSegment.converter = ffmpeg_exe()
    paths = [str(MINI / "media" / f) for f in FILES]
    seconds = {p: len(decode(p)) / 16000 for p in paths}
    impls = {"wsdata": decode, "ffmpeg pipe (whisper load_audio)": whisper_load_audio, "pydub": pydub_decode}
    cpu: dict[str, list[float]] = {k: [] for k in impls}
    wall: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            c, w = timed(lambda: all(fn(p) is not None for p in paths))  # results dropped as they come
            cpu[name].append(c)
            wall[name].append(w)
    total = sum(seconds.values())
    return [{"impl": k, "audio_s": total, "cpu_s": statistics.median(cpu[k]), "wall_s": statistics.median(wall[k]),
             "x_rt_per_core": total / statistics.median(cpu[k])} for k in impls]  # fmt: skip


def bench_build(copies: int, rounds: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="wsdata-bench-"))
    try:
        lines = [json.loads(x) for x in (MINI / "crawl.jsonl").read_text().splitlines() if x.startswith('{"id": "yt-') or x.startswith('{"id": "vm-')]
        keep = [r for r in lines if Path(r["audio"]).name in FILES]
        crawl = tmp / "crawl.jsonl"
        with open(crawl, "w") as f:
            for k in range(copies):
                for r in keep:
                    r = dict(r, id=f"{r['id']}-{k}", audio=str(MINI / r["audio"]),
                             **({"transcript": str(MINI / r["transcript"])} if "transcript" in r else {}))  # fmt: skip
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
        paths = [str(MINI / r["audio"]) for r in keep] * copies
        audio_s = sum(len(decode(str(MINI / r["audio"]))) for r in keep) / 16000 * copies
        b_cpu, d_cpu = [], []
        for i in range(rounds):
            out = tmp / f"out{i}"
            c, _ = timed(lambda: build(crawl, out, config.load("default"), workers=1, progress=False))
            b_cpu.append(c)
            c, _ = timed(lambda: all(decode(p) is not None for p in paths))  # no list: memory as in a build
            d_cpu.append(c)
            shutil.rmtree(out)
        b, d = statistics.median(b_cpu), statistics.median(d_cpu)
        return {"docs": len(paths), "audio_s": audio_s, "build_cpu_s": b, "decode_cpu_s": d,
                "build_x_rt": audio_s / b, "decode_x_rt": audio_s / d, "ratio": d / b}  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_section(path: Path, mark: str, body: str) -> None:
    """Replace one script's part of docs/benchmarks.md: from its marker line ("" = the top) to the
    next script's marker, keeping the other scripts' parts as they are."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    parts = old.split("\n<!-- bench/")  # parts[0]: this script's top part; then one per marker
    sections = {"": parts[0]} | {"<!-- bench/" + p.split("\n", 1)[0]: "<!-- bench/" + p for p in parts[1:]}
    sections[mark] = (mark + "\n" if mark else "") + body.removeprefix(mark + "\n" if mark else "").rstrip() + "\n"
    order = ["", *sorted(k for k in sections if k)]
    path.write_text("\n".join(sections[k].rstrip() + "\n" for k in order if k in sections), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    a = ap.parse_args()
    dec = bench_decode(a.rounds)
    bld = bench_build(a.copies, max(3, a.rounds // 2))
    base = dec[1]["x_rt_per_core"]
    ffv = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    md = [
        "# Benchmarks",
        "",
        "Ratios against a baseline measured in the same run; absolute figures beside them. Reproduce with",
        "",
        "```",
        f".venv/bin/python bench/run.py --rounds {a.rounds} --copies {a.copies}",
        "```",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}, "
        f"{__import__('os').cpu_count()} cores; {ffv}.",
        "",
        "## Decode (target: wsdata >= 0.9x the ffmpeg pipe)",
        "",
        f"{len(FILES)} files of tests/data/minicorpus (Opus 48 kHz, MP3 32 kHz, FLAC 16 kHz; "
        f"{dec[0]['audio_s'] / 60:.1f} min of audio), to 16 kHz mono int16; median of {a.rounds} rounds, interleaved.",
        "x realtime per core = audio seconds / CPU seconds (this process plus its ffmpeg children).",
        "",
        "| decoder | vs ffmpeg pipe | x realtime per core | CPU s | wall s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in dec:
        md.append(f"| {r['impl']} | {r['x_rt_per_core'] / base:.2f}x | {r['x_rt_per_core']:.0f} | {r['cpu_s']:.3f} | {r['wall_s']:.3f} |")
    md += [
        "",
        "wsdata's decode is that same ffmpeg pipe (resampling and downmix inside ffmpeg, band-limited), so the",
        "ratio is ~1 by construction; pydub decodes at the source rate and resamples in a second step without",
        "an anti-aliasing filter (tests/io/test_audio.py checks that ours removes a tone above 8 kHz).",
        "",
        "## Whole build vs decode alone (target: build >= 0.5x decode-only throughput)",
        "",
        f"`wsdata build`, one worker, default pipeline, on {bld['docs']} documents ({bld['audio_s'] / 3600:.2f} h:",
        f"the corpus's decodable documents repeated {a.copies}x under new ids), against decoding the same files alone.",
        "",
        "| job | vs decode only | x realtime per core | CPU s |",
        "|---|---:|---:|---:|",
        f"| decode only | 1.00x | {bld['decode_x_rt']:.0f} | {bld['decode_cpu_s']:.2f} |",
        f"| wsdata build (read, pair, machine, text, decode, VAD, segment, text gates, langid, FLAC encode, Parquet write; no audio model) | {bld['ratio']:.2f}x | "
        f"{bld['build_x_rt']:.0f} | {bld['build_cpu_s']:.2f} |",
        "",
        "On the 2-core machine these figures were taken on, the build's CPU time came out slightly *below* the",
        "decode-only loop's in every round. Both are dominated by starting one ffmpeg process per file and",
        "reading its pipe; VAD, segmenting, FLAC encoding and Parquet writing add little. Read a ratio near 1",
        "as 'the stages after decode are cheap', not as a speed-up; the difference is not explained yet.",
        "",
    ]
    write_section(Path(a.out), "", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
