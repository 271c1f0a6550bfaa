"""The agreement check's model cost: batched transcription (what `--asr` and `wsdata score` run)
against faster-whisper's own `WhisperModel.transcribe` called clip by clip, on the same segments with
the same model (int8, CPU, greedy), in one run; then a whole build with and without `--asr`.

    .venv/bin/python bench/asr.py [--model build/whisper-base-ct2] [--rounds 3]

The segments are the kept speech segments of the bundled minicorpus (real speech in five languages).
The target is on throughput: wall seconds of the whole set, median of `--rounds`, also given as
x realtime per core (audio seconds / (wall seconds x cores)). CPU is user + system of this process
(model threads included, spin-waiting too); a build is a fresh process, its children included.
"""

from __future__ import annotations

import argparse
import json
import os
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

from bench.common import timed, write_section
from tests.helpers import SOURCE
from wsdata.agree.wer import Errors, errors
from wsdata.io.audio import decode_flac
from wsdata.lid.audio import cores, load_audio_lid
from wsdata.verify import read_rows

MARK = "<!-- bench/asr.py writes below this line -->"
TARGET = 2.0  # batched at least 2x the throughput of clip by clip


def build_cost(out: Path, extra: list[str]) -> tuple[float, float]:
    """(CPU s, wall s) of one `wsdata build` of the minicorpus, in a fresh process with its children."""
    shutil.rmtree(out, ignore_errors=True)
    before, w0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    cmd = [sys.executable, "-m", "wsdata", "build", "--source", str(SOURCE), "--out", str(out), "--quiet", *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter() - w0
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "build/whisper-base-ct2"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    a = p.parse_args()
    from faster_whisper import WhisperModel

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        env_cache = {"WSDATA_CACHE": str(tmp / "cache")}
        os.environ.update(env_cache)
        without = [build_cost(tmp / "plain", []) for _ in range(a.rounds)]
        with_asr = [build_cost(tmp / "asr", ["--asr", a.model]) for _ in range(a.rounds)]
        rows = [r for r in read_rows(tmp / "plain" / "data") if not r["no_speech"]]
    clips = [decode_flac(r["audio"]["bytes"]).astype(np.float32) / 32768.0 for r in rows]
    langs = [r["language"] for r in rows]
    translate = [r["task"] == "translate" for r in rows]
    seconds = sum(len(c) for c in clips) / 16000
    ours = load_audio_lid(a.model, "cpu")
    n_cores = cores()
    # faster-whisper's best setting for one caller: a thread per core (its default, 4, oversubscribes a small
    # machine); num_workers > 1 only helps callers that transcribe from several threads at once
    theirs = WhisperModel(a.model, device="cpu", compute_type="int8", cpu_threads=n_cores)

    def batched() -> list[str]:
        out: list[str] = []
        for i in range(0, len(clips), a.batch):
            out += ours.transcribe(clips[i : i + a.batch], langs[i : i + a.batch], translate[i : i + a.batch])
        return out

    def one_by_one() -> list[str]:
        out = []
        for c, lang, t in zip(clips, langs, translate):
            segs, _ = theirs.transcribe(
                c,
                language=lang,
                task="translate" if t else "transcribe",
                beam_size=1,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
            )
            out.append(" ".join(s.text.strip() for s in segs))
        return out

    batched(), one_by_one()  # warm-up: model load, caches
    ours_t, theirs_t = [], []  # (CPU s, wall s) per round
    texts: dict[str, list[str]] = {}
    for _ in range(a.rounds):
        ours_t.append(timed(lambda: texts.__setitem__("ours", batched())))
        theirs_t.append(timed(lambda: texts.__setitem__("theirs", one_by_one())))
    cpu_ours, wall_ours = (statistics.median(x) for x in zip(*ours_t))
    cpu_theirs, wall_theirs = (statistics.median(x) for x in zip(*theirs_t))

    def wer(hyps: list[str]) -> float:
        tot = Errors(0, 0)
        for r, h in zip(rows, hyps):
            tot += errors(r["text"], h, "en" if r["task"] == "translate" else r["language"])
        return tot.rate

    ratio = wall_theirs / wall_ours

    def per_core(wall: float) -> float:
        return seconds / (wall * n_cores)

    plain, plain_wall = (statistics.median(x) for x in zip(*without))
    asr, asr_wall = (statistics.median(x) for x in zip(*with_asr))
    md = [
        MARK,
        "",
        "## The agreement check's model (bench/asr.py)",
        "",
        "```",
        f".venv/bin/python bench/asr.py --rounds {a.rounds}",
        "```",
        "",
        (
            f"Machine: {platform.machine()}, {n_cores} cores, no GPU; Python {platform.python_version()}. "
            f"Model `{Path(a.model).name}` (CTranslate2, int8, greedy) on the {len(clips)} kept speech segments "
            f"of the minicorpus ({seconds / 60:.1f} min of real speech in five languages). Wall and CPU seconds "
            f"of the whole set (CPU: this process with the model's threads), median of {a.rounds}. No GPU figure: "
            "no GPU was lent to this run."
        ),
        "",
        "| transcription | wall s | x realtime per core | CPU s | WER of the captions against it | |",
        "|---|---:|---:|---:|---:|---|",
        (
            f"| batched, {a.batch} clips a call split over {n_cores} single-thread replicas (`--asr`, `wsdata score`) "
            f"| {wall_ours:.1f} | {per_core(wall_ours):.1f} | {cpu_ours:.1f} | {wer(texts['ours']):.1%} "
            f"| {ratio:.2f}x the throughput: target >= {TARGET:.0f}x {'met' if ratio >= TARGET else '**not met**'}; "
            f"{cpu_theirs / cpu_ours:.2f}x less CPU |"
        ),
        (
            f"| faster-whisper `WhisperModel.transcribe`, clip by clip, `cpu_threads={n_cores}` | {wall_theirs:.1f} | "
            f"{per_core(wall_theirs):.1f} | {cpu_theirs:.1f} | {wer(texts['theirs']):.1%} | baseline |"
        ),
        "",
        (
            f"A whole build of the minicorpus (19 lines, {seconds / 60:.1f} min of kept speech) costs "
            f"{plain:.1f} CPU s ({plain_wall:.1f} s wall) without `--asr` and {asr:.1f} CPU s ({asr_wall:.1f} s wall) "
            f"with it (x{asr / plain:.1f} CPU), fresh processes, one worker, median of {a.rounds}; the model load is "
            "part of it."
        ),
    ]
    write_section(Path(a.out), MARK, "\n".join(md) + "\n")
    print("\n".join(md))
    print(json.dumps({"ours": ours_t, "theirs": theirs_t, "build": without, "build_asr": with_asr}))


if __name__ == "__main__":
    main()
