"""The training loop, top to bottom: set up (DDP, model, optimiser, data), resume, step, evaluate,
checkpoint. `torchrun --nproc_per_node N -m wsdata.cli train ...` runs it on N GPUs (or processes)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from wsdata.train import model as mdl
from wsdata.train.data import ShardStream, collate, shard_files
from wsdata.train.decode import greedy, wer
from wsdata.train.features import LogMel
from wsdata.train.vocab import Vocab

PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12}  # dense bf16


@dataclass
class TrainArgs:
    data: str
    out: str
    model: str | None = "tiny"  # a paper size, from scratch ...
    init: str | None = None  # ... or a Hugging Face id or folder to fine-tune
    steps: int = 10_000
    batch_size: int = 256  # samples per optimiser step, over all ranks (the paper's)
    micro_batch_size: int = 16  # per rank and forward pass; the rest by gradient accumulation
    lr: float | None = None  # default: the size's peak learning rate (Table 19)
    warmup: int = 2048
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    clip: float = 1.0
    p_prev: float = 0.5
    p_timestamps: float = 0.5
    workers: int = 2  # DataLoader workers per rank (FLAC decode)
    shuffle_buffer: int = 256
    seed: int = 0
    eval_every: int = 500
    eval_batches: int = 8
    save_every: int = 500
    grad_checkpointing: bool = False
    compile: bool = False
    resume: bool = False
    stop_at: int = 0  # stop after this many updates with a checkpoint (a time-limited job); 0 = run to --steps
    device: str = "auto"
    tiny_dims: str = ""  # for tests: "d_model=64,encoder_layers=2,..." overrides of the size's config

    def __post_init__(self) -> None:
        if not (self.model or self.init):
            raise ValueError("give --model SIZE or --init CHECKPOINT")
        for k in ("steps", "batch_size", "micro_batch_size"):
            if getattr(self, k) < 1:
                raise ValueError(f"--{k.replace('_', '-')} {getattr(self, k)}: must be >= 1")


def _lr_lambda(warmup: int, total: int):  # noqa: ANN202
    """Linear warm-up over `warmup` updates, then linear decay to zero at `total` (Appendix F)."""
    return lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup))


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    (path.parent / "latest.tmp").write_text(path.name)
    os.replace(path.parent / "latest.tmp", path.parent / "latest")


def train(a: TrainArgs) -> dict:
    # --- processes and device
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
    cuda = torch.cuda.is_available() if a.device == "auto" else a.device.startswith("cuda")
    if ddp:
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if ddp else (0, 1)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
    master = rank == 0
    out = Path(a.out)
    accum = a.batch_size // (a.micro_batch_size * world)
    if accum < 1 or accum * a.micro_batch_size * world != a.batch_size:
        raise ValueError(f"--batch-size {a.batch_size} is not a multiple of micro batch x ranks "
                         f"({a.micro_batch_size} x {world})")  # fmt: skip

    # --- vocabulary, model, optimiser
    vocab = Vocab.from_folder(Path(a.init)) if a.init and Path(a.init).is_dir() else Vocab.bundled()
    dims = {k: int(v) for k, v in (x.split("=") for x in a.tiny_dims.split(",") if x)}
    model = mdl.build(a.model, a.init, vocab, **dims).to(device)
    if a.grad_checkpointing:
        model.gradient_checkpointing_enable()
    size = a.model if a.model in mdl.SIZES else "small"
    lr = a.lr if a.lr is not None else mdl.SIZES[size][3]
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]  # no decay on biases and norms
    rest = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=lr, betas=a.betas, eps=a.eps, fused=cuda)  # fmt: skip
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(a.warmup, a.steps))
    logmel = LogMel(model.config.num_mel_bins).to(device)
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None) if ddp else model
    fwd = torch.compile(net) if a.compile else net

    # --- data
    stream = ShardStream(shard_files(Path(a.data), "train"), vocab, a.seed, rank, world, a.shuffle_buffer,
                         a.micro_batch_size, a.p_prev, a.p_timestamps)  # fmt: skip
    step, batches = 0, 0
    ckpt_dir = out / "checkpoints"
    if a.resume and (ckpt_dir / "latest").exists():
        state = torch.load(ckpt_dir / (ckpt_dir / "latest").read_text().strip(), map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, batches = state["step"], state["batches"][rank]
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
    stream.skip_batches = batches
    loader = DataLoader(stream, batch_size=a.micro_batch_size, collate_fn=collate, num_workers=a.workers,
                        pin_memory=cuda, persistent_workers=a.workers > 0)  # fmt: skip
    it = iter(loader)

    # --- the loop
    log_path = out / "log.jsonl"
    if master:
        out.mkdir(parents=True, exist_ok=True)
        (out / "args.json").write_text(json.dumps(dataclasses.asdict(a), indent=1))
    bar = tqdm(total=a.steps, initial=step, disable=not master, unit="step", dynamic_ncols=True)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
    peak = next((v for k, v in PEAK_FLOPS.items() if cuda and k in torch.cuda.get_device_name()), None)
    t0, samples0, tokens = time.perf_counter(), 0, 0.0
    last: dict = {}
    end = min(a.steps, a.stop_at) if a.stop_at else a.steps
    while step < end:
        model.train()
        loss_sum = 0.0
        for micro in range(accum):
            b = next(it)
            batches += 1
            feats = logmel(b["audio"].to(device, non_blocking=True))
            ids, labels = b["input_ids"].to(device), b["labels"].to(device)
            sync = not ddp or micro == accum - 1
            with amp, (torch.enable_grad() if sync else net.no_sync()):
                logits = fwd(input_features=feats, decoder_input_ids=ids).logits
                loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
            (loss / accum).backward()
            loss_sum += loss.item() / accum
            samples0 += len(ids)
            tokens += float((labels != -100).sum()) / max(1, len(ids)) * len(ids)
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        dt = time.perf_counter() - t0
        sps = samples0 * world / dt
        last = {"step": step, "loss": loss_sum, "lr": sched.get_last_lr()[0], "grad_norm": float(gnorm),
                "samples_per_s": sps, "audio_hours_per_s": sps * 30 / 3600}  # fmt: skip
        if peak:
            last["mfu"] = mdl.flops_per_sample(model.config, tokens / max(1, samples0)) * sps / (peak * world)
        if a.eval_every and step % a.eval_every == 0 or step == a.steps:
            last.update(evaluate(model, logmel, vocab, Path(a.data), a.micro_batch_size, a.eval_batches, device, amp))
        if master:
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum:.3f}", lr=f"{last['lr']:.2e}", sps=f"{sps:.1f}")
            with open(log_path, "a") as f:
                f.write(json.dumps(last) + "\n")
        if step % a.save_every == 0 or step == end:
            all_batches = [batches]
            if ddp:
                gathered: list = [None] * world
                torch.distributed.all_gather_object(gathered, batches)
                all_batches = gathered
            if master:
                _save_checkpoint(ckpt_dir / f"step-{step:07d}.pt", {
                    "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "step": step, "batches": all_batches, "args": dataclasses.asdict(a),
                    "rng": {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()},
                })  # fmt: skip
    bar.close()
    if master and step == a.steps:
        mdl.save(model, vocab, out / "model")
    if ddp:
        torch.distributed.destroy_process_group()
    return last


@torch.no_grad()
def evaluate(model: torch.nn.Module, logmel: LogMel, vocab: Vocab, data: Path, batch_size: int, n_batches: int,
             device: torch.device, amp) -> dict:  # noqa: ANN001  # fmt: skip
    """Loss and greedy WER on the validation shards (the train shards when there are none)."""
    files = shard_files(data, "validation") or shard_files(data, "train")
    stream = ShardStream(files, vocab, seed=1234, shuffle_buffer=1, batch_size=batch_size, p_prev=0.0,
                         p_timestamps=0.0, loop=False)  # fmt: skip
    model.eval()
    losses, refs, hyps = [], [], []
    for i, b in enumerate(DataLoader(stream, batch_size=batch_size, collate_fn=collate)):
        if i >= n_batches:
            break
        feats = logmel(b["audio"].to(device))
        with amp:
            logits = model(input_features=feats, decoder_input_ids=b["input_ids"].to(device)).logits
        losses.append(F.cross_entropy(logits.float().flatten(0, 1), b["labels"].to(device).flatten(), ignore_index=-100).item())
        prefixes = [list(ids[: list(ids).index(vocab.notimestamps) + 1]) if vocab.notimestamps in ids else [vocab.sot]
                    for ids in b["input_ids"].tolist()]  # fmt: skip
        out = greedy(model, feats, prefixes, vocab)
        refs += b["text"]
        hyps += [vocab.decode(o) for o in out]
    model.train()
    return {"val_loss": float(np.mean(losses)) if losses else math.nan, "val_wer": wer(refs, hyps) if refs else math.nan}
