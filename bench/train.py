"""Our trainer vs Hugging Face's Seq2SeqTrainer: same shards, model, batch and targets, one run.
Writes its section of docs/benchmarks.md.

    .venv/bin/python bench/train.py [--sizes tiny] [--steps 12] [--batch 8]        # CPU, a smoke figure
    python bench/train.py --sizes tiny,base,small --steps 60 --batch 64 --workers 8  # on a GPU

The baseline is the standard Hugging Face recipe: a `datasets` Parquet dataset, a collator that
decodes the FLAC and runs `WhisperFeatureExtractor` on the CPU, `Seq2SeqTrainer` with the same
optimiser settings (bf16 on CUDA) and the same number of DataLoader workers. Both use wsdata's
multitask targets, so only the machinery differs. samples/s is measured after the first 2 updates
(warm-up); MFU on known GPUs, from the same FLOPs count for both (wsdata.train.model.flops_per_sample).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_section
from wsdata import config
from wsdata.orchestrate import build

MARK = "<!-- bench/train.py writes below this line -->"


def ours(data: Path, out: Path, size: str, steps: int, batch: int, workers: int) -> float:
    from wsdata.train.args import TrainArgs
    from wsdata.train.loop import train

    train(
        TrainArgs(
            data=str(data),
            out=str(out),
            model=size,
            steps=steps,
            batch_size=batch,
            micro_batch_size=batch,
            warmup=2,
            workers=workers,
            eval_every=0,
            eval_batches=1,
            save_every=0,
        )
    )
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    # samples/s after warm-up: from the cumulative rate at step 2 and at the end
    t_end = log[-1]["step"] * batch / log[-1]["samples_per_s"]
    t_2 = 2 * batch / log[1]["samples_per_s"]
    return (len(log) - 2) * batch / (t_end - t_2)


def huggingface(data: Path, out: Path, size: str, steps: int, batch: int, workers: int) -> float:
    import numpy as np
    import torch
    from datasets import load_dataset
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, TrainerCallback, WhisperFeatureExtractor

    from wsdata.io.audio import decode_flac
    from wsdata.train.args import SIZES
    from wsdata.train.model import build as build_model
    from wsdata.train.targets import target
    from wsdata.vocab import Vocab

    vocab = Vocab.bundled()
    fe = WhisperFeatureExtractor()
    ds = load_dataset(
        "parquet", data_files=sorted(str(p) for p in (data / "data").glob("train-*.parquet")), split="train"
    ).with_format(None)
    ds = ds.cast_column("audio", __import__("datasets").Audio(decode=False))
    rng = random.Random(0)

    def collate(rows):
        audio = [decode_flac(r["audio"]["bytes"]).astype(np.float32) / 32768 for r in rows]
        feats = fe(audio, sampling_rate=16000, return_tensors="pt").input_features
        tg = [target(r, vocab, rng) for r in rows]
        n = max(len(t[0]) for t in tg)
        ids = torch.tensor([t[0] + [0] * (n - len(t[0])) for t in tg])
        labels = torch.tensor([t[1] + [-100] * (n - len(t[1])) for t in tg])
        return {"input_features": feats, "decoder_input_ids": ids, "labels": labels}

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **k):
            times.append(time.perf_counter())

    model = build_model(size, None, vocab)
    cuda = torch.cuda.is_available()
    targs = Seq2SeqTrainingArguments(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=batch,
        learning_rate=SIZES[size][3],
        warmup_steps=2,
        lr_scheduler_type="linear",
        adam_beta1=0.9,
        adam_beta2=0.98,
        adam_epsilon=1e-6,
        weight_decay=0.1,
        max_grad_norm=1.0,
        bf16=cuda,
        dataloader_num_workers=workers,
        report_to=[],
        save_strategy="no",
        remove_unused_columns=False,
        logging_steps=10**9,
    )
    Seq2SeqTrainer(model=model, args=targs, train_dataset=ds, data_collator=collate, callbacks=[Clock()]).train()
    return (len(times) - 2) * batch / (times[-1] - times[1])


def mean_decoder_tokens(data: Path) -> float:
    """Mean decoder positions per sample of the corpus's targets (prompt and timestamps at their rates)."""
    import pyarrow.parquet as pq

    from wsdata.train.targets import target
    from wsdata.vocab import Vocab

    vocab, rng = Vocab.bundled(), random.Random(0)
    rows = [r for p in sorted((data / "data").glob("train-*.parquet")) for r in pq.read_table(p).to_pylist()]
    return sum(len(target(r, vocab, rng)[0]) for r in rows) / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="tiny")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers, the same for both")
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    a = ap.parse_args()
    import torch

    from wsdata.train.model import config_for, flops_per_sample, peak_flops
    from wsdata.vocab import Vocab

    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name() if cuda else f"CPU ({os.cpu_count()} cores)"
    peak = peak_flops(device) if cuda else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "corpus"
        build(ROOT / "tests/data/minicorpus/crawl.jsonl", data, config.load("default"), progress=False)
        n_tok = mean_decoder_tokens(data)
        for size in a.sizes.split(","):
            o = ours(data, Path(tmp) / f"ours-{size}", size, a.steps, a.batch, a.workers)
            h = huggingface(data, Path(tmp) / f"hf-{size}", size, a.steps, a.batch, a.workers)
            flops = flops_per_sample(config_for(size, Vocab.bundled()), n_tok)
            rows.append((size, o, h, flops * o / peak if peak else None, flops * h / peak if peak else None))
    md = [
        MARK,
        "",
        "## Trainer (bench/train.py)",
        "",
        "```",
        f".venv/bin/python bench/train.py --sizes {a.sizes} --steps {a.steps} --batch {a.batch} --workers {a.workers}",
        "```",
        "",
        (
            f"Device: {device}; Python {platform.python_version()}. The minicorpus build (22 real segments), batch "
            f"{a.batch}, {a.steps} updates, {a.workers} DataLoader workers, samples/s after 2 warm-up updates; the"
            f" same model, targets and optimiser settings in both. MFU from {n_tok:.0f} decoder tokens per sample"
            f" ({'peak ' + format(peak / 1e12, '.0f') + ' TFLOP/s bf16' if peak else 'no known peak: not computed'})."
        ),
        "",
        "| size | wsdata train | Seq2SeqTrainer | ratio | MFU wsdata | MFU Seq2SeqTrainer |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def pct(x: float | None) -> str:
        return f"{x:.1%}" if x is not None else "–"

    md += [
        f"| {s} | {o:.2f} samples/s | {h:.2f} samples/s | **{o / h:.2f}x** | {pct(mo)} | {pct(mh)} |"
        for s, o, h, mo, mh in rows
    ]
    md.append("")
    write_section(Path(a.out), MARK, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
