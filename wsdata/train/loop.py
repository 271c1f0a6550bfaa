"""The training loop, top to bottom: set up (DDP, model, optimiser, data), resume, step, evaluate,
checkpoint. `torchrun --nproc_per_node N -m wsdata.cli train ...` runs it on N GPUs (or processes)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from wsdata.io import atomic
from wsdata.io.fs import _regular, under
from wsdata.layout import Layout
from wsdata.terminal import err
from wsdata.train import convert, mixture, safeload
from wsdata.train import model as mdl
from wsdata.train.args import SIZES, TrainArgs
from wsdata.train.data import ShardStream, collate
from wsdata.train.decode import edit_counts, greedy
from wsdata.train.features import LogMel
from wsdata.vocab import Vocab


def _lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    """Linear warm-up over `warmup` updates, then linear decay to zero at `total` (Appendix F)."""
    return lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup))


MAX_LATEST_BYTES = 4096  # checkpoints/latest holds one file name
# what a checkpoint holds (all tensors and plain values: it loads with torch.load(weights_only=True))
CHECKPOINT_KEYS = {
    "model": dict,
    "optimizer": dict,
    "scheduler": dict,
    "step": int,
    "batches": list,  # per rank: micro batches consumed
    "positions": list,  # per rank, per reader: the last row of its stream consumed
    "skipped_rows": list,  # per rank: rows skipped as unreadable so far
    "mixture": list,  # per rank, per build: {language: [samples, hours]}
    "args": dict,
    "rng": dict,
}


def _save_checkpoint(path: Path, state: dict, keep: int) -> None:
    """Write to a temp name, fsync, rename, then point `latest` at it; keep the newest `keep`."""
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(state, f)
    atomic.write_text(path.parent / "latest", path.name)
    for old in sorted(path.parent.glob("step-*.pt"))[:-keep]:
        old.unlink()


def _latest(ckpt_dir: Path) -> Path:
    """The checkpoint `checkpoints/latest` names. A run folder may come from anyone: the name must be
    a file name inside checkpoints/ (no absolute path, no `..`), a link must stay inside it, and the
    file must be a regular file (a FIFO would block)."""
    latest = ckpt_dir / "latest"
    try:
        _regular(str(latest))
        with open(latest, "rb") as f:
            raw = f.read(MAX_LATEST_BYTES + 1)
        name = raw.decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"--resume: {latest} cannot be read ({e})") from None
    if len(raw) > MAX_LATEST_BYTES or not name or Path(name).name != name or name in (".", "..") or "\0" in name:
        raise ValueError(
            f"--resume: {latest} names {name[:200]!r}, not a file in {ckpt_dir} (absolute paths and .. are refused)"
        )
    path = ckpt_dir / name
    if not under(str(path), (str(ckpt_dir),)):
        raise ValueError(f"--resume: {path} is a link that leads outside {ckpt_dir}: refused")
    try:
        _regular(str(path))
    except OSError as e:
        raise ValueError(f"--resume: {latest} names {path}: {e.strerror or 'not a regular file'}") from None
    return path


def _load_checkpoint(path: Path) -> dict:
    """A checkpoint's state, loaded with weights_only=True (tensors and plain values only: no pickled
    object is ever built, nothing in the file runs), with the keys and types wsdata writes."""
    try:
        state = safeload.load(path)  # on the CPU: RNG states stay CPU tensors
    except ValueError as e:
        raise ValueError(f"--resume: {e}") from None
    found = state if isinstance(state, dict) else {}
    bad = [k for k, t in CHECKPOINT_KEYS.items() if not isinstance(found.get(k), t)]
    if bad:
        raise ValueError(f"--resume: {path}: not a wsdata checkpoint of this version (no or odd {', '.join(bad)})")
    return state


def _rng_state(cuda: bool, device: torch.device) -> dict:
    """Every generator's state as tensors and plain values (numpy's key array as a list of ints)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [name, keys.tolist(), pos, has_gauss, gauss],
        "cuda": torch.cuda.get_rng_state(device) if cuda else None,
    }


def _set_rng_state(rng: dict, cuda: bool, device: torch.device) -> None:
    torch.set_rng_state(rng["torch"])
    if cuda and rng.get("cuda") is not None:
        torch.cuda.set_rng_state(rng["cuda"], device)
    version, internal, gauss_next = rng["python"]
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))


def finite(d: dict) -> dict:
    """`d` with non-finite floats (a diverged loss, no validation batch) as None: JSON has no NaN."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}


def _next(it: Iterator[dict]) -> dict:
    """The next batch. A reader that stops (every row of a build unreadable) raises ValueError in its
    DataLoader worker; the loader raises it again with the worker's traceback as its text: keep the
    message, the traceback's last line."""
    try:
        return next(it)
    except ValueError as e:
        lines = str(e).strip().splitlines()
        if len(lines) > 1 and "DataLoader worker" in lines[0]:
            raise ValueError(lines[-1].removeprefix("ValueError: ")) from None
        raise


def _vocab(init: str | None) -> Vocab:
    """The bundled vocabulary from scratch; with --init the checkpoint's own tokenizer (large-v3's ids
    differ from the others' after the language tokens)."""
    if not init:
        return Vocab.bundled()
    folder = Path(init)
    if not folder.is_dir():
        from huggingface_hub import hf_hub_download

        try:
            folder = Path(hf_hub_download(init, "tokenizer.json")).parent
        except Exception as e:  # noqa: BLE001 - the hub's many error types (offline, no such repo, gated)
            raise ValueError(
                f"--init {init}: not a folder, and its tokenizer.json could not be fetched ({e})"
            ) from None
    return Vocab.from_folder(folder)


# flags that fix which samples each rank reads: resuming with other values would not continue the stream
STREAM_ARGS = ("seed", "batch_size", "micro_batch_size", "workers", "shuffle_buffer", "p_prev", "p_timestamps")
STREAM_ARGS += ("data", "language_temperature", "max_source_hours")


def _save_mixture(path: Path, comps: list[mixture.Component], per_rank: list[list[dict]]) -> None:
    """RUN/mixture.json: what each build gave the run so far, summed over ranks, against its weight."""
    total: list[dict[str, list[float]]] = [{} for _ in comps]
    for seen in per_rank:
        for t, m in zip(total, seen):
            for lang, (n, h) in m.items():
                sums = t.setdefault(lang, [0, 0.0])
                sums[0] += n
                sums[1] += h
    text = json.dumps(mixture.realised(comps, total), indent=1, ensure_ascii=False, allow_nan=False)
    atomic.write_text(path, text)


RUN_FILES = ("args.json", "log.jsonl", "mixture.json", "checkpoints", "model", "init")


def _check_run_folder(a: TrainArgs, out: Path, master: bool) -> None:
    """Refuse to mix two runs in one folder: --resume needs a checkpoint there, a fresh run needs no
    run there (or --overwrite, which deletes it). A model to fine-tune must exist or be a hub id."""
    from wsdata import modelspec

    if a.init and (why := modelspec.missing(a.init)):
        raise ValueError(f"--init {why}")
    if a.resume and a.overwrite:
        raise ValueError("--resume and --overwrite: continue the run, or start it again, not both")
    if a.resume and not (out / "checkpoints" / "latest").exists():
        raise ValueError(f"--resume: {out} has no checkpoint (checkpoints/latest) to continue from")
    for name in ("args.json", "log.jsonl"):  # written in place: a link would write elsewhere, a FIFO block
        p = out / name
        if a.resume and (p.is_symlink() or (p.exists() and not p.is_file())):
            raise ValueError(f"--resume: {p} is a link or no regular file: a run writes only its own files")
    found = [n for n in RUN_FILES if (out / n).exists()]
    if found and not a.resume and not a.overwrite:
        raise ValueError(
            f"--out {out} holds a run ({', '.join(found)}): --resume to continue it, --overwrite to start again"
        )
    if found and a.overwrite and master:
        for n in found:
            atomic.remove(out / n)


def _check_resume(a: TrainArgs, state: dict, world: int) -> None:
    before = state["args"]
    defaults = {f.name: f.default for f in dataclasses.fields(TrainArgs)}  # a key older checkpoints lack
    for k in STREAM_ARGS:
        was, now = before.get(k, defaults.get(k)), getattr(a, k)
        if k == "data":  # stored as a list (JSON), or a string before mixtures
            was, now = (
                ([was] if isinstance(was, str) else list(was) if isinstance(was, list | tuple) else was),
                list(now),
            )
        if was != now:
            raise ValueError(
                f"--resume with --{k.replace('_', '-')} {getattr(a, k)!r}, but the checkpoint was "
                f"written with {was!r}: the data stream would not continue where it stopped"
            )
    if len(state["batches"]) != world:
        raise ValueError(f"--resume on {world} ranks, but the checkpoint was written by {len(state['batches'])}")


def _resume(path: Path, state: dict, rank: int, n_readers: int, n_builds: int, restore: Callable[[], None]) -> tuple:
    """(step, micro batches, reader positions, skipped rows, mixture counts) of this rank, after
    `restore` (weights, optimiser, scheduler, RNGs): values that do not fit this run are one
    message, not a traceback from deep inside torch."""
    try:
        positions = [int(p) for p in state["positions"][rank]]
        if len(positions) != n_readers or min(positions) < 0:
            raise ValueError(f"{len(positions)} reader positions for {n_readers} readers")
        restore()
        seen = list(state["mixture"][rank])
        if len(seen) != n_builds or not all(isinstance(m, dict) for m in seen):
            raise ValueError(f"counts of {len(seen)} builds for {n_builds}")
        counts = int(state["step"]), int(state["batches"][rank]), positions, int(state["skipped_rows"][rank])
        return (*counts, seen)
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        msg = (str(e).strip().splitlines() or [""])[0][:300]
        raise ValueError(f"--resume: {path}: does not fit this run ({type(e).__name__}: {msg})") from None


def train(a: TrainArgs) -> dict:
    # --- processes and device
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
    cuda = torch.cuda.is_available() if a.device == "auto" else a.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise ValueError(f"--device {a.device}: torch sees no CUDA device (a CPU build of torch?)")
    if ddp:
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if ddp else (0, 1)
    local = int(os.environ.get("LOCAL_RANK", a.device[5:] if a.device.startswith("cuda:") else "0"))
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)  # TF32 stays off: fp32 matmuls are only the log-mel's, kept exact
    master = rank == 0
    out = Path(a.out)
    _check_run_folder(a, out, master)
    if ddp:
        torch.distributed.barrier()  # every rank has looked at the folder before rank 0 writes to it
    accum = a.batch_size // (a.micro_batch_size * world)
    if accum < 1 or accum * a.micro_batch_size * world != a.batch_size:
        raise ValueError(
            f"--batch-size {a.batch_size} is not a multiple of micro batch x ranks ({a.micro_batch_size} x {world})"
        )

    # --- vocabulary, model, optimiser
    init = a.init
    if init and convert.kind(init) != "transformers":  # a CTranslate2 folder or a .pt: converted once, in the run
        if master:
            convert.converted(init, out / "init")
        if ddp:
            torch.distributed.barrier()
        init = convert.converted(init, out / "init")
    vocab = _vocab(init)
    dims = {k: int(v) for k, v in (x.split("=") for x in a.tiny_dims.split(",") if x)}
    model = mdl.build(None if init else a.model, init, vocab, a.n_mels, **dims).to(device)
    if a.grad_checkpointing:
        model.gradient_checkpointing_enable()  # non-reentrant in transformers 5: safe under DDP
    if a.freeze_encoder:
        model.freeze_encoder()  # transformers' own: no gradients, so autograd never records the encoder
    lr = a.lr if a.lr is not None else mdl.FINE_TUNE_LR if a.init else SIZES[a.model][3]
    trained = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trained if p.dim() >= 2]  # no decay on biases and norms
    rest = [p for p in trained if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": a.weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=lr,
        betas=a.betas,
        eps=a.eps,
        fused=cuda,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(a.warmup, a.steps))
    logmel = LogMel(model.config.num_mel_bins).to(device)
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None) if ddp else model
    fwd = torch.compile(net) if a.compile else net

    # --- data
    comps = mixture.plan(a.data, a.language_temperature, a.max_source_hours)
    folders = [c.folder for c in comps]
    if master and a.eval_batches and not any(Layout(d).shards("validation") for d in folders):
        warnings.warn(
            f"no validation shards in {', '.join(map(str, folders))}: this run logs no val_loss or val_wer "
            "(build with write.validation_fraction > 0, or train on a mixture that has some)",
            stacklevel=1,
        )
    stream = ShardStream(
        comps,
        vocab,
        a.seed,
        rank,
        world,
        a.shuffle_buffer,
        a.micro_batch_size,
        a.p_prev,
        a.p_timestamps,
    )
    step, batches, skipped = 0, 0, 0  # skipped: this rank's rows skipped as unreadable
    n_readers = max(1, a.workers)
    positions = [0] * n_readers  # per reader: the last row of its stream consumed
    seen: list[dict[str, list[float]]] = [{} for _ in comps]  # per build: language -> [samples, hours] read
    ckpt_dir = out / "checkpoints"
    if a.resume:
        path = _latest(ckpt_dir)
        state = _load_checkpoint(path)
        _check_resume(a, state, world)

        def restore() -> None:  # weights and optimiser state follow their parameters to the device
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            _set_rng_state(state["rng"], cuda, device)

        step, batches, positions, skipped, seen = _resume(path, state, rank, n_readers, len(comps), restore)
    stream.start, stream.rotate = positions, batches % n_readers
    loader = DataLoader(
        stream,
        batch_size=a.micro_batch_size,
        collate_fn=collate,
        num_workers=a.workers,
        pin_memory=cuda,
        persistent_workers=a.workers > 0,
    )
    it = iter(loader)

    # --- the loop
    log_path = out / "log.jsonl"
    if master:
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out / "args.json", json.dumps(dataclasses.asdict(a), indent=1))
    bar = tqdm(total=a.steps, initial=step, disable=not master, unit="step", dynamic_ncols=True)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
    peak = mdl.peak_flops(torch.cuda.get_device_name()) if cuda else None
    t0, paused, samples, tokens = time.perf_counter(), 0.0, 0, 0  # this process's; paused: eval and saving
    last: dict = {}
    end = min(a.steps, a.stop_at) if a.stop_at else a.steps
    try:  # the bar ends its line before any error is said
        while step < end:
            model.train()
            loss_sum = torch.zeros((), device=device)  # summed on the device: no host sync per micro batch
            for micro in range(accum):
                b = _next(it)
                batches += 1
                positions[b["reader"][-1]] = b["position"][-1]  # a batch is one reader's, in its order
                skipped += sum(b["skipped"])
                feats = logmel(b["audio"].to(device, non_blocking=True))  # (micro, n_mels, 3000), fp32
                ids, labels = b["input_ids"].to(device, non_blocking=True), b["labels"].to(device, non_blocking=True)
                sync = not ddp or micro == accum - 1  # DDP all-reduces gradients only on the last micro batch
                with contextlib.nullcontext() if sync else net.no_sync():
                    with amp:  # bf16 matmuls on CUDA; the loss in fp32
                        logits = fwd(input_features=feats, decoder_input_ids=ids, use_cache=False).logits
                        loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
                    (loss / accum).backward()
                loss_sum += loss.detach() / accum
                samples += len(ids)
                tokens += b["n_tokens"]
                for c, lang, ms in zip(b["component"], b["language"], b["duration_ms"]):
                    counts = seen[c].setdefault(lang, [0, 0.0])
                    counts[0] += 1
                    counts[1] += ms / 3.6e6
            skipped_all = skipped
            if ddp:  # the logged loss is the mean over ranks, the skipped rows their sum
                sums = torch.stack([loss_sum, torch.tensor(float(skipped), device=device)])
                torch.distributed.all_reduce(sums)
                loss_sum, skipped_all = sums[0] / world, int(sums[1].item())
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            lr_now = opt.param_groups[0]["lr"]  # the rate of this update (the scheduler moves on below)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            sps = samples * world / (time.perf_counter() - t0 - paused)
            last = {
                "step": step,
                "loss": loss_sum.item(),
                "lr": lr_now,
                "grad_norm": float(gnorm),
                "samples_per_s": sps,
                "audio_hours_per_s": sps * 30 / 3600,
                "skipped_rows": skipped_all,  # rows no sample could be made of (bad audio, text or types), so far
            }
            if len(comps) > 1:  # this rank's samples per build so far (mixture.json has every rank's)
                last["mixture"] = {c.name: sum(v[0] for v in m.values()) for c, m in zip(comps, seen)}
            if peak:
                last["mfu"] = mdl.flops_per_sample(model.config, tokens / samples) * sps / (peak * world)
            t_pause = time.perf_counter()
            if (a.eval_every and step % a.eval_every == 0) or step == a.steps:
                ev = evaluate(
                    model, logmel, vocab, folders, a.micro_batch_size, a.eval_batches, device, amp, rank, world
                )
                last.update(ev)
            if master:
                bar.update(1)
                bar.set_postfix(
                    loss=f"{last['loss']:.3f}",
                    lr=f"{last['lr']:.2e}",
                    sps=f"{sps:.1f}",
                    **({"mfu": f"{last['mfu']:.1%}"} if peak else {}),
                )
                with open(log_path, "a") as f:
                    f.write(json.dumps(finite(last)) + "\n")
            if (a.save_every and step % a.save_every == 0) or step == end:
                mine = (batches, list(positions), skipped, seen)
                gathered: list = [mine]
                if ddp:
                    gathered = [None] * world
                    torch.distributed.all_gather_object(gathered, mine)
                all_batches, all_positions, all_skipped, all_seen = (list(x) for x in zip(*gathered))
                if master:
                    _save_checkpoint(
                        ckpt_dir / f"step-{step:07d}.pt",
                        {
                            "model": model.state_dict(),
                            "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(),
                            "step": step,
                            "batches": all_batches,
                            "positions": all_positions,
                            "skipped_rows": all_skipped,
                            "mixture": all_seen,
                            "args": dataclasses.asdict(a),
                            "rng": _rng_state(cuda, device),
                        },
                        a.keep_checkpoints,
                    )
                    _save_mixture(out / "mixture.json", comps, all_seen)
            paused += time.perf_counter() - t_pause
    finally:
        bar.close()
    if master and last.get("skipped_rows"):
        err(f"wsdata train: {last['skipped_rows']} rows skipped: unreadable audio, text or types (see the warnings)")
    if master and step == a.steps:
        mdl.save(model, vocab, out / "model")
    if ddp:
        torch.distributed.destroy_process_group()
    return finite(last)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    logmel: LogMel,
    vocab: Vocab,
    folders: list[Path],
    batch_size: int,
    n_batches: int,
    device: torch.device,
    amp: torch.autocast,
    rank: int = 0,
    world: int = 1,
) -> dict:
    """Loss and greedy WER on the first `n_batches` of the builds' validation shards; {} when they
    have none (training data is never scored as validation). Under DDP rank r takes batches r,
    r + world, ... and the sums are all-reduced."""
    files = [f for d in folders for f in Layout(d).shards("validation")]
    if not files or n_batches == 0:
        return {}
    stream = ShardStream(
        files, vocab, seed=1234, shuffle_buffer=1, batch_size=batch_size, p_prev=0.0, p_timestamps=0.0, loop=False
    )
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss sum, batches, word errors, words
    bar = tqdm(total=n_batches, desc="evaluate", unit="batch", leave=False, disable=None if rank == 0 else True)
    for i, b in enumerate(DataLoader(stream, batch_size=batch_size, collate_fn=collate)):
        if i >= n_batches:
            break
        bar.update(1)
        if i % world != rank:
            continue
        feats = logmel(b["audio"].to(device))
        with amp:  # the encoder once, for the loss and for decoding
            enc = model.get_encoder()(feats)
            logits = model(encoder_outputs=enc, decoder_input_ids=b["input_ids"].to(device), use_cache=False).logits
            prefixes = [
                ids[: ids.index(vocab.notimestamps) + 1] if vocab.notimestamps in ids else [vocab.sot]
                for ids in b["input_ids"].tolist()
            ]
            out = greedy(model, enc, prefixes, vocab)
        loss = F.cross_entropy(logits.float().flatten(0, 1), b["labels"].to(device).flatten(), ignore_index=-100)
        errors, words = edit_counts(b["text"], [vocab.decode(o) for o in out])
        sums += torch.tensor([loss.item(), 1, errors, words], dtype=torch.float64, device=device)
    bar.close()
    if world > 1:
        torch.distributed.all_reduce(sums)
    model.train()
    loss_sum, n, errors, words = sums.tolist()
    return {"val_loss": loss_sum / n if n else math.nan, "val_wer": errors / max(1.0, words) if n else math.nan}
