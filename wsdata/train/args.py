"""The trainer's settings and the paper's model sizes, without torch: `wsdata --help` and the
build never import it (tests/test_layering.py)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from wsdata.train.mixture import parse_spec

# name: (layers, width, heads, peak learning rate (Table 19))
SIZES = {
    "tiny": (4, 384, 6, 1.5e-3),
    "base": (6, 512, 8, 1e-3),
    "small": (12, 768, 12, 5e-4),
    "medium": (24, 1024, 16, 2.5e-4),
    "large": (32, 1280, 20, 1.75e-4),
}


@dataclass
class TrainArgs:
    data: str | tuple[str, ...]  # a build folder, or several `DIR[:WEIGHT]` (a mixture, wsdata/train/mixture.py)
    out: str
    model: str | None = "tiny"  # a paper size, from scratch ...
    init: str | None = None  # ... or a Hugging Face id or folder to fine-tune
    steps: int = 10_000
    batch_size: int = 256  # samples per optimiser step, over all ranks (the paper's)
    micro_batch_size: int = 16  # per rank and forward pass; the rest by gradient accumulation
    lr: float | None = None  # default: the size's peak learning rate (Table 19); 1e-5 with --init
    warmup: int = 2048
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    clip: float = 1.0
    p_prev: float = 0.5
    p_timestamps: float = 0.5
    n_mels: int = 80  # from scratch: 80, or 128 as large-v3 (a checkpoint brings its own)
    workers: int = 4  # DataLoader workers per rank (FLAC decode, targets)
    shuffle_buffer: int = 256
    seed: int = 0
    eval_every: int = 500  # 0: only at the end
    eval_batches: int = 8  # 0: no evaluation at all
    save_every: int = 500  # 0: only at the end (or at --stop-at)
    keep_checkpoints: int = 2  # the newest N step-*.pt files are kept
    grad_checkpointing: bool = False
    freeze_encoder: bool = False  # train the decoder only: the usual fine-tune when data or compute is small
    compile: bool = False
    resume: bool = False
    overwrite: bool = False  # start again in a run folder that holds a run (its checkpoints and log go)
    stop_at: int = 0  # stop after this many updates with a checkpoint (a time-limited job); 0 = run to --steps
    device: str = "auto"  # auto, cpu, cuda, cuda:N (torchrun's LOCAL_RANK picks the GPU)
    tiny_dims: str = ""  # for tests: "d_model=64,encoder_layers=2,..." overrides of the size's config
    language_temperature: float = 1.0  # within a build, languages sampled p ~ hours**T (1: as they come)
    max_source_hours: float = 0.0  # within a build, a source sampled down to this many hours (0: no cap)

    def __post_init__(self) -> None:
        self.data = (self.data,) if isinstance(self.data, str) else tuple(self.data)
        if not (self.model or self.init):
            raise ValueError("give --model SIZE or --init CHECKPOINT")
        checks = [
            (self.model is None or self.init is not None or self.model in SIZES, "model", f"one of {', '.join(SIZES)}"),
            (self.steps >= 1, "steps", ">= 1"),
            (self.batch_size >= 1, "batch_size", ">= 1"),
            (self.micro_batch_size >= 1, "micro_batch_size", ">= 1"),
            (self.lr is None or self.lr > 0, "lr", "> 0"),
            (self.warmup >= 0, "warmup", ">= 0"),
            (self.weight_decay >= 0, "weight_decay", ">= 0"),
            (all(0 <= b < 1 for b in self.betas), "betas", "two values in [0, 1)"),
            (self.eps > 0, "eps", "> 0"),
            (self.clip > 0, "clip", "> 0"),
            (0 <= self.p_prev <= 1, "p_prev", "in [0, 1]"),
            (0 <= self.p_timestamps <= 1, "p_timestamps", "in [0, 1]"),
            (self.n_mels in (80, 128), "n_mels", "80 or 128"),
            (self.workers >= 0, "workers", ">= 0"),
            (self.shuffle_buffer >= 1, "shuffle_buffer", ">= 1"),
            (self.eval_every >= 0, "eval_every", ">= 0"),
            (self.eval_batches >= 0, "eval_batches", ">= 0 (0: no evaluation)"),
            (self.save_every >= 0, "save_every", ">= 0"),
            (self.keep_checkpoints >= 1, "keep_checkpoints", ">= 1"),
            (self.stop_at >= 0, "stop_at", ">= 0"),
            (0 <= self.language_temperature <= 1, "language_temperature", "in [0, 1]"),
            (self.max_source_hours >= 0, "max_source_hours", ">= 0"),
            (
                self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
                "device",
                "auto, cpu, cuda or cuda:N",
            ),
        ]
        for f in dataclasses.fields(self):  # inf passes `> 0`, and JSON would hold it as Infinity
            v = getattr(self, f.name)
            if any(isinstance(x, float) and not math.isfinite(x) for x in (v if isinstance(v, tuple) else (v,))):
                raise ValueError(f"--{f.name.replace('_', '-')} {v!r}: must be a finite number")
        for ok, name, want in checks:
            if not ok:
                raise ValueError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: must be {want}")
        for spec in self.data:  # a weight that is no finite number > 0: said before a model is built
            parse_spec(spec)
