"""`wsdata train`, `wsdata transcribe`, `wsdata evaluate`: argument parsing and the two small
commands that use a trained model."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from wsdata.train.args import SIZES, TrainArgs

HELP = {  # --help text of TrainArgs' flags ("%(default)s" is argparse's)
    "steps": "optimiser updates (%(default)s)",
    "batch_size": "samples per update over all ranks (%(default)s, the paper's)",
    "micro_batch_size": "samples per forward pass and rank; the rest is gradient accumulation (%(default)s)",
    "lr": "peak learning rate (default: the size's, Table 19; 1e-5 with --init)",
    "warmup": "linear warm-up updates, then linear decay to zero (%(default)s)",
    "weight_decay": "AdamW weight decay, not on biases and norms (%(default)s)",
    "betas": "AdamW betas (%(default)s)",
    "eps": "AdamW epsilon (%(default)s)",
    "clip": "gradient-norm clipping (%(default)s)",
    "p_prev": "probability of conditioning on the previous text (%(default)s)",
    "p_timestamps": "probability of timestamp targets when a row has cues (%(default)s)",
    "n_mels": "log-mel bins from scratch: 80, or 128 as large-v3 (%(default)s)",
    "workers": "DataLoader workers per rank, decoding FLAC (%(default)s)",
    "shuffle_buffer": "rows in each reader's shuffle buffer (%(default)s)",
    "seed": "data order seed (%(default)s)",
    "eval_every": "updates between evaluations; 0: only at the end (%(default)s)",
    "eval_batches": "validation batches per evaluation; 0: none (%(default)s)",
    "save_every": "updates between checkpoints; 0: only at the end (%(default)s)",
    "keep_checkpoints": "newest checkpoints kept (%(default)s)",
    "grad_checkpointing": "recompute activations in the backward pass (less memory)",
    "freeze_encoder": "train the decoder only (a common fine-tuning choice: less compute and memory)",
    "compile": "torch.compile the model",
    "resume": "continue from RUN/checkpoints/latest",
    "overwrite": "start again in a RUN folder that holds a run (deletes its checkpoints, log and model)",
    "stop_at": "stop after this many updates with a checkpoint, for time-limited jobs (0: run to --steps)",
    "device": "auto, cpu, cuda or cuda:N (%(default)s)",
    "tiny_dims": "override model dimensions, e.g. d_model=64,encoder_layers=2 (tests, experiments)",
    "language_temperature": "within each build, sample languages with p ~ hours**T; 0.3-0.5 lifts rare ones "
    "(%(default)s: as they come)",
    "max_source_hours": "within each build, sample a source with more hours down to this many (0: no cap)",
}


def add_parsers(sub: argparse._SubParsersAction) -> None:

    t = sub.add_parser("train", help="train a Whisper model on built shards (torchrun for many GPUs)")
    t.add_argument(
        "--data",
        required=True,
        action="append",
        metavar="DIR[:WEIGHT]",
        help="a build folder (DIR/data/train-*.parquet); repeat for a mixture, each with a sampling weight "
        "(default 1), e.g. --data crawl --data cv:0.5",
    )
    t.add_argument("--out", required=True, help="run folder: checkpoints/, log.jsonl, model/")
    g = t.add_mutually_exclusive_group()
    g.add_argument("--model", choices=list(SIZES), default=None, help="a paper size, from scratch")
    g.add_argument(
        "--init",
        help="fine-tune this checkpoint: a Hugging Face Whisper id or folder, a CTranslate2 Whisper folder "
        "(float16/32), or an openai-whisper .pt (converted once into RUN/init/)",
    )
    defaults = TrainArgs(data="", out="")
    for f in dataclasses.fields(TrainArgs):
        if f.name in ("data", "out", "model", "init"):
            continue
        flag, v = "--" + f.name.replace("_", "-"), getattr(defaults, f.name)
        help_ = HELP[f.name]
        if isinstance(v, bool):
            t.add_argument(flag, action="store_true", help=help_)
        elif isinstance(v, tuple):
            t.add_argument(flag, type=float, nargs=len(v), default=v, metavar="B", help=help_)
        else:
            t.add_argument(flag, type=type(v) if v is not None else float, default=v, metavar="N", help=help_)
    t.set_defaults(func=_clean_errors(_train))

    for name, fn, help_ in (
        ("transcribe", _transcribe, "transcribe or caption audio files of any length with a Whisper model"),
        ("evaluate", _evaluate, "loss and WER of a trained model on a build's validation data"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument(
            "--model",
            required=True,
            help="a run folder (its model/), a Hugging Face Whisper folder or id, a CTranslate2 Whisper folder, "
            "or an openai-whisper .pt",
        )
        if name == "transcribe":
            p.add_argument("--language", default=None, help="a language code; default: detected from the first 30 s")
            p.add_argument("--task", choices=["transcribe", "translate"], default="transcribe")
            p.add_argument(
                "--format",
                choices=["text", "srt", "vtt"],
                default="text",
                help="text: one TSV line per file (path, text); srt/vtt: captions with times (default: text)",
            )
            p.add_argument("--out-dir", default=None, help="write captions here as STEM.srt / STEM.vtt")
            p.add_argument("audio", nargs="+")
        else:
            p.add_argument("--data", required=True)
            p.add_argument("--batches", type=int, default=32)
        p.set_defaults(func=_clean_errors(fn, model_failures=True))


def _train(args: argparse.Namespace) -> int:
    from wsdata.train.loop import train

    kw = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainArgs)}
    kw["betas"] = tuple(kw["betas"])
    if not kw["model"] and not kw["init"]:
        kw["model"] = "tiny"
    print(json.dumps(train(TrainArgs(**kw))))
    return 0


def _clean_errors(
    fn: Callable[[argparse.Namespace], int], model_failures: bool = False
) -> Callable[[argparse.Namespace], int]:
    """Bad flags, a missing or unreadable model, data folder or checkpoint, an unknown language code:
    one line and exit 2. `model_failures`: also a model that loads but fails when it runs (torch's
    RuntimeError or IndexError from a folder of mismatched shapes), for transcribe and evaluate; in
    training such an error is more likely the trainer's own, and its traceback is kept."""
    errors: tuple[type[Exception], ...] = (ValueError, KeyError, OSError)
    if model_failures:
        errors += (RuntimeError, IndexError)

    def run(args: argparse.Namespace) -> int:
        from wsdata.terminal import safe

        try:
            return fn(args)
        except errors as e:
            what = safe(e.args[0] if isinstance(e, KeyError) and e.args else e, 400)
            if isinstance(e, (RuntimeError, IndexError)):
                what = f"the model failed to run ({type(e).__name__}: {what})"
            print(f"wsdata {args.command}: {what}", file=sys.stderr)
            return 2

    return run


def _model_dir(path: str) -> Path:
    """A run's model/, a Hugging Face folder, or the conversion of a CTranslate2 folder or an
    openai-whisper .pt (made once, in wsdata's cache)."""
    from wsdata import modelspec
    from wsdata.cache import cache_dir
    from wsdata.train.convert import converted

    if why := modelspec.missing(path):
        raise ValueError(why)
    p = Path(path)
    return p / "model" if (p / "model" / "config.json").is_file() else Path(converted(path, cache_dir() / "models"))


def _load(path: str):
    import torch

    from wsdata.modelspec import json_object
    from wsdata.train.features import LogMel
    from wsdata.train.model import load
    from wsdata.vocab import Vocab

    folder = _model_dir(path)
    for name in ("config.json", "generation_config.json", "preprocessor_config.json"):
        if (folder / name).is_file():  # read as data first: an empty, broken or list-shaped file is one line
            json_object(folder / name)
    vocab = Vocab.from_folder(folder)  # before the weights: a bad tokenizer.json fails at once
    try:
        model = load(folder).eval()
    except (RuntimeError, TypeError, AttributeError) as e:  # transformers' for a config of the wrong types
        raise ValueError(f"{folder}: cannot load the model ({type(e).__name__}: {str(e)[:300]})") from None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device), LogMel(model.config.num_mel_bins).to(device), vocab, device


def _transcribe(args: argparse.Namespace) -> int:
    """Each file whole, the paper's long-form way (wsdata/train/longform.py): a TSV line of text per
    file, or SRT/VTT captions (to stdout for one file, else into --out-dir). Exit 1 if any file failed."""
    import numpy as np
    import torch
    from transformers import WhisperFeatureExtractor

    from wsdata.constants import CHUNK_SAMPLES
    from wsdata.io.audio import AudioError, open_pcm
    from wsdata.terminal import safe
    from wsdata.train import longform
    from wsdata.train.decode import detect_language, greedy

    if args.format != "text" and len(args.audio) > 1 and not args.out_dir:
        raise ValueError(f"--format {args.format} with {len(args.audio)} files needs --out-dir")
    model, logmel, vocab, device = _load(args.model)
    features = WhisperFeatureExtractor(feature_size=model.config.num_mel_bins)
    task = vocab.translate if args.task == "translate" else vocab.transcribe
    if args.language:
        vocab.lang(args.language)  # an unknown code fails here, before any audio is decoded
    from tqdm import tqdm

    failed = 0
    for path in tqdm(args.audio, desc="transcribe", unit="file", file=sys.stderr, disable=None, leave=False):
        try:
            with open_pcm(path) as pcm:
                samples = pcm[:].astype(np.float32) / 32768.0
        except AudioError as e:
            print(f"{path}: {safe(e)}", file=sys.stderr)
            failed += 1
            continue
        first = np.zeros(CHUNK_SAMPLES, dtype=np.float32)  # the first 30 s, zero-padded
        first[: min(len(samples), CHUNK_SAMPLES)] = samples[:CHUNK_SAMPLES]
        with torch.inference_mode():
            enc = model.get_encoder()(logmel(torch.from_numpy(first)[None].to(device)))
            language = args.language or detect_language(model, enc, vocab)[0]  # Whisper's way: the first 30 s
            if args.format == "text" and len(samples) <= CHUNK_SAMPLES:  # one window: greedy, as evaluate decodes
                prefix = [vocab.sot, vocab.lang(language), task, vocab.notimestamps]
                gen = model.generation_config  # a converted checkpoint's suppressed tokens; none for a run
                ids = greedy(
                    model,
                    enc,
                    [prefix],
                    vocab,
                    suppress=gen.suppress_tokens or (),
                    suppress_at_start=gen.begin_suppress_tokens or (),
                )[0]
                caps = [longform.Caption(0, len(samples) // 16, vocab.decode(ids))]
            else:
                caps = longform.transcribe_long(model, features, samples, language, args.task)
        # Inert text whatever the model emits: a model trained on crawled text may emit controls.
        caps = [longform.Caption(c.start_ms, c.end_ms, safe(c.text)) for c in caps]
        if args.format == "text":
            print(f"{path}\t{longform.text(caps)}")
            continue
        body = longform.srt(caps) if args.format == "srt" else longform.vtt(caps)
        if args.out_dir:
            from wsdata.io import atomic

            dest = Path(args.out_dir) / f"{Path(path).stem}.{args.format}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_text(dest, body)
            print(f"{path}\t{dest}")
        else:
            sys.stdout.write(body)
    return 1 if failed else 0


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from wsdata.layout import Layout
    from wsdata.train.loop import evaluate, finite

    if args.batches < 1:
        raise ValueError(f"--batches {args.batches}: must be >= 1")
    if not Layout(Path(args.data)).shards("validation"):
        raise ValueError(f"--data {args.data}: no validation shards (data/validation-*.parquet) to evaluate on")
    model, logmel, vocab, device = _load(args.model)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)
    result = evaluate(model, logmel, vocab, [Path(args.data)], 8, args.batches, torch.device(device), amp)
    print(json.dumps(finite(result)))  # no batch at all (every row unreadable): null, not NaN
    return 0
