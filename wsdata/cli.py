"""The `wsdata` command: build, review, stats, and train / transcribe / evaluate."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from wsdata import __version__
from wsdata.terminal import err, safe

_err = err


def _build(args: argparse.Namespace) -> int:
    return _run_build(args, Path(args.source), "wsdata build")


def _run_build(args: argparse.Namespace, source: Path, cmd: str) -> int:
    """The build of crawl file `source` with the build flags of `args` (`wsdata build` and `import`).
    A folder that holds a build is locked first, so a second command into it stops before loading
    any model; a new folder is locked by orchestrate.build, once every flag has been checked."""
    from wsdata import lock
    from wsdata.layout import Layout

    out = Layout(Path(args.out))
    with lock.hold(out.lock, out.root) if out.work.is_dir() else contextlib.nullcontext():
        return _build_with_flags(args, source, cmd)


def _build_with_flags(args: argparse.Namespace, source: Path, cmd: str) -> int:
    from wsdata import config, orchestrate, summary
    from wsdata.lid.audio import LidError, load_audio_lid

    # The named flags are the common `--set`s: one way to change a setting.
    values = config.parse_set(args.set or [])
    for flag, key in (
        ("audio_lid", "language.audio_lid"),
        ("lid_device", "language.device"),
        ("asr", "agree.asr"),
        ("exclude", "dedup.exclude"),
        ("quarantine", "text.quarantine"),
    ):
        if getattr(args, flag):
            values[key] = getattr(args, flag)
    if args.no_dedup:
        values["dedup.enabled"] = False
    if args.no_text_filters:
        values |= {"machine.enabled": False, "text.gates": False}
    if args.no_language_check:
        values["language.check"] = False
    for key in ("language.audio_lid", "agree.asr"):  # a local model by its absolute path: the card and
        if values.get(key) and Path(values[key]).exists():  # a rerun from elsewhere name the same one
            values[key] = str(Path(values[key]).resolve())
    cfg = config.override(config.load(args.pipeline), values)
    if cfg.dedup.exclude:
        from wsdata.dedup.exclude import ExcludeError, eval_index

        try:  # read it now: a bad file is one clear error, not one per worker
            n = len(eval_index(cfg.dedup.exclude, cfg.dedup.ngram))
        except (ExcludeError, OSError, UnicodeDecodeError) as e:
            _err(f"{cmd}: --exclude {e}")
            return 2
        _err(f"{cmd}: excluding text that overlaps {cfg.dedup.exclude} ({n} distinct {cfg.dedup.ngram}-grams)")
    if cfg.text.quarantine:
        from wsdata.hygiene import load_quarantine

        try:  # read it now: a bad file is one clear error, not a reject of every document
            load_quarantine(cfg.text.quarantine)
        except (OSError, UnicodeDecodeError) as e:
            _err(f"{cmd}: --quarantine {cfg.text.quarantine}: cannot read it as UTF-8 text ({e})")
            return 2
    if cfg.language.audio_lid:
        try:  # fail now, not in every worker: a wrong path or a missing backend is one clear error
            lid = load_audio_lid(cfg.language.audio_lid, cfg.language.device)
        except LidError as e:
            _err(f"{cmd}: --audio-lid {e}")
            return 2
        _err(f"{cmd}: spoken language from {cfg.language.audio_lid} ({lid.kind})")
    else:
        _err(
            f"{cmd}: no --audio-lid: the spoken language is assumed from the transcript's language and the "
            "crawl's `language` claim (a wrong-language transcript whose claim agrees with it is not caught)"
        )
    if cfg.agree.asr:
        try:  # fail now, not in every worker
            asr = load_audio_lid(cfg.agree.asr, cfg.agree.device)
            from wsdata.agree.wer import normalizer

            normalizer("en")
        except (LidError, ImportError) as e:
            _err(f"{cmd}: --asr {e}")
            return 2
        _err(f"{cmd}: captions checked against {cfg.agree.asr} ({asr.kind})")
    stats = orchestrate.build(
        source,
        Path(args.out),
        cfg,
        workers=args.workers,
        progress=not args.quiet,
        engine=args.engine,
        ray_address=args.ray_address,
    )
    print(summary.funnel_text(stats))
    print(f"\nwrote {safe(args.out)}/ (data/, rejects/, review/, stats.json, README.md)")
    return 0


def _import(args: argparse.Namespace) -> int:
    """An existing corpus staged as a crawl in OUT/_work/import/, then built (wsdata/interop/), with
    OUT locked from the staging to the end of the build. Its records may name audio inside the
    corpus's folder only, unless limits.allowed_roots widens that; the build runs under those roots
    plus the staged files' folder."""
    from wsdata import lock
    from wsdata.layout import Layout
    from wsdata.orchestrate import check_out

    out = Path(args.out)
    check_out(out)  # a folder of the user's is refused before the lock is written into it
    with lock.hold(Layout(out).lock, out):
        return _stage_and_build(args)


def _stage_and_build(args: argparse.Namespace) -> int:
    from wsdata import config
    from wsdata.interop import readers, staging
    from wsdata.layout import Layout
    from wsdata.stages.pair import remote

    first, layout = args.corpus[0], Layout(Path(args.out))
    cfg = config.override(config.load(args.pipeline), config.parse_set(args.set or []))
    try:
        fmt = readers.detect(Path(first)) if args.format == "auto" else args.format
        if fmt != "hf" and not all(Path(c).exists() for c in args.corpus):
            raise readers.ImportError_(f"{' '.join(args.corpus)}: no such file or folder")
        if fmt != "lhotse" and len(args.corpus) > 1:
            raise readers.ImportError_(f"one corpus at a time for --format {fmt} (several manifests: lhotse only)")
        roots = cfg.limits.allowed_roots or readers.corpus_roots(fmt, args.corpus)
        limits = cfg.limits
        items = {
            "commonvoice": lambda: readers.commonvoice(Path(first), args.name, limits),
            "nemo": lambda: readers.nemo(Path(first), args.name, limits),
            "hf": lambda: readers.hf(first, args.text_column, args.name, readers.hf_folder(first)),
            "lhotse": lambda: readers.lhotse([Path(c) for c in args.corpus], args.name, limits),
        }[fmt]()
        ident = {
            "format": fmt,
            "corpus": [str(Path(c).resolve()) if Path(c).exists() else c for c in args.corpus],
            "text_column": args.text_column,
            "name": args.name,
            "roots": list(roots),
            "limits": {k: getattr(limits, k) for k in ("max_line_bytes", "max_manifest_bytes", "max_audio_ms")},
        }
        bounds = staging.Bounds(roots, limits.max_audio_ms, remote(cfg), cfg.decode.backend)
        crawl, n, rejected = staging.stage(items, layout.import_work, ident, bounds)
    except (readers.ImportError_, ValueError, OSError, KeyError) as e:
        _err(f"wsdata import: {safe(e, 400)}")
        return 2
    _err(f"wsdata import: {n} records of a {fmt} corpus, staged as a crawl ({safe(crawl)})")
    if rejected:
        counts = ", ".join(f"{reason} {count}" for reason, count in rejected.items())
        _err(f"wsdata import: {sum(rejected.values())} records are rejects already ({counts}); see rejects/")
    if rejected.get("pair.path_outside_roots"):
        shown = ", ".join(safe(r) for r in roots)
        _err(
            f"wsdata import: audio outside {shown} is not read; to allow it: "
            '--set limits.allowed_roots=["/FOLDER", ...]'
        )
    # The build reads the corpus's files and the staged ones, and nothing else.
    build_roots = [*roots, str(layout.import_work.resolve())]
    args.set = [*(args.set or []), f"limits.allowed_roots={json.dumps(build_roots)}"]
    return _run_build(args, crawl, "wsdata import")


def _export(args: argparse.Namespace) -> int:
    from wsdata.interop import export as ex

    try:
        counts = ex.export(Path(args.dir), args.format, Path(args.out), args.speech_only)
    except ex.ExportError as e:
        _err(f"wsdata export: {safe(e, 400)}")
        return 2
    done = ", ".join(f"{n} {split}" for split, n in counts.items())
    print(f"wrote {done} segments to {safe(args.out)}/ as {args.format}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from wsdata import summary
    from wsdata.layout import Layout

    named = [(Path(d).resolve().name, summary.read_stats(Layout(Path(d)))) for d in args.dir]  # BuildError: exit 2
    if args.json:
        print(json.dumps(named[0][1] if len(named) == 1 else dict(named), indent=1))
        return 0
    try:
        print(summary.funnel_text(named[0][1]) if len(named) == 1 else summary.combined_text(named))
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # a stats.json of other numbers
        _err(f"wsdata stats: {safe(args.dir[0])} does not hold a wsdata build's stats.json ({type(e).__name__}: {e})")
        return 2
    return 0


def _score(args: argparse.Namespace) -> int:
    """`wsdata score` with the build folder locked: it writes DIR/scores/ and DIR/review/queue.parquet."""
    from wsdata import lock
    from wsdata.layout import Layout

    out = Path(args.dir)
    if not (Layout(out).stats.is_file() or Layout(out).work.is_dir()):  # no build: the message below
        return _score_locked(args)
    with lock.hold(Layout(out).lock, out):
        return _score_locked(args)


def _score_locked(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from wsdata.agree import score as sc
    from wsdata.agree.wer import normalizer
    from wsdata.layout import Layout
    from wsdata.lid.audio import LidError, load_audio_lid

    out = Path(args.dir)
    if args.batch_size < 1 or args.worst < 0:  # before the model loads: a wrong flag is one line at once
        what = (
            f"--batch-size {args.batch_size}: at least 1" if args.batch_size < 1 else f"--worst {args.worst}: 0 or more"
        )
        _err(f"wsdata score: {what}")
        return 2
    if not Layout(out).stats.is_file():
        _err(f"wsdata score: {safe(Layout(out).stats)} not found (is {safe(out)} a finished build?)")
        return 2
    try:
        model = load_audio_lid(args.model, args.device)
        normalizer("en")
    except (LidError, ImportError) as e:
        _err(f"wsdata score: --model {e}")
        return 2
    on_shard = None if args.quiet else (lambda name: _err(f"wsdata score: scored {name}"))
    try:
        done = sc.score(out, model, args.model, args.batch_size, on_shard)
    except LidError as e:  # the model loaded but cannot run: every shard scored so far is kept
        _err(f"wsdata score: --model {e}")
        return 2
    if done.skipped:
        _err(f"wsdata score: {done.skipped} segments not scored: audio that is not 16 kHz mono FLAC, or no caption")
    if done.unreadable:
        for name, why in done.unreadable.items():
            _err(f"wsdata score: {name} cannot be read as Parquet ({why}): not scored")
        _err(f"wsdata score: {len(done.unreadable)} shards could not be read; the others are scored")
        return 2
    files = sorted(done.dest.glob("*.parquet"))
    if not files:
        print(f"{safe(out)} has no kept segments: nothing to score")
        return 0
    table = pa.concat_tables(pq.read_table(f) for f in files)
    try:
        added = sc.add_worst_to_queue(out, table, done.dest.name, args.worst) if args.worst else 0
    except sc.ScoreError as e:
        _err(f"wsdata score: {e}; the scores are in {done.dest}/")
        return 2
    edits, words = sum(table["edits"].to_pylist()), sum(table["words"].to_pylist())
    print(f"scored {table.num_rows} kept speech segments under {safe(args.model)}: WER {edits / max(1, words):.1%}")
    print(f"wrote {safe(done.dest)}/ ; {added} worst segments added to the review queue (stratum {sc.WORST_STRATUM})")
    print("sources by WER x hours: wsdata review DIR --report")
    return 0


def _review(args: argparse.Namespace) -> int:
    from wsdata.review.command import review

    return review(args)


def _add_build_flags(b: argparse.ArgumentParser) -> None:
    """The flags of a build: `wsdata build`'s, and `wsdata import`'s (an import is a build)."""
    b.add_argument("--pipeline", default="default", help="preset name in pipelines/ or a .toml file")
    b.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="change one setting of the preset (repeatable), e.g. --set segment.vad_mode=3; "
        "the keys are in pipelines/default.toml",
    )
    b.add_argument(
        "--workers",
        type=int,
        default=None,
        help="chunks at once: local processes (default 1) or Ray tasks (default: the cluster's CPUs); "
        "the output is the same for any N",
    )
    b.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local processes, or Ray Data (pip install 'wsdata[ray]'); same output, see docs/scaling.md",
    )
    b.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="Ray cluster to join (e.g. ray://head:10001 or auto); default: start a local Ray instance",
    )
    b.add_argument(
        "--audio-lid",
        default=None,
        metavar="MODEL",
        help="Whisper model for spoken-language ID: a Hugging Face id or folder, or a CTranslate2 folder "
        "(= --set language.audio_lid=MODEL)",
    )
    b.add_argument("--lid-device", default=None, help="auto (default), cpu, cuda or cuda:N (= --set language.device=)")
    b.add_argument(
        "--asr",
        default=None,
        metavar="MODEL",
        help="Whisper model that checks each kept segment's caption against its transcript (agree stage; "
        "as --audio-lid, or a `wsdata train` run; pip install 'wsdata[asr]'; = --set agree.asr=MODEL)",
    )
    b.add_argument(
        "--exclude",
        default=None,
        metavar="FILE",
        help="evaluation transcripts to keep out of the corpus (text lines, JSONL or Parquet with `text`; "
        "= --set dedup.exclude=FILE)",
    )
    b.add_argument("--no-dedup", action="store_true", help="skip duplicate removal (= --set dedup.enabled=false)")
    b.add_argument(
        "--no-text-filters",
        action="store_true",
        help="keep machine-like and too fast or slow text: a curated corpus (= --set machine.enabled=false "
        "--set text.gates=false; cleaning and the token limit stay)",
    )
    b.add_argument(
        "--no-language-check",
        action="store_true",
        help="keep a transcript whose language disagrees with the audio or claim (= --set language.check=false)",
    )
    b.add_argument(
        "--quarantine",
        default=None,
        metavar="FILE",
        help="sources to drop, one per line, written by `wsdata review DIR --quarantine SOURCE` "
        "(= --set text.quarantine=FILE)",
    )
    b.add_argument("--quiet", action="store_true", help="no progress bar")


class Terminated(KeyboardInterrupt):
    """SIGTERM, which schedulers, `timeout` and `kill` send: the command stops as on Ctrl-C."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises Terminated while the command runs (main thread only: a caller's thread cannot
    take signals); the caller's handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def main(argv: list[str] | None = None) -> int:
    with _sigterm_as_interrupt():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(prog="wsdata", description=__doc__)
    p.add_argument("--version", action="version", version=f"wsdata {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="crawl.jsonl -> Whisper-ready Parquet shards")
    b.add_argument("--source", required=True, help="crawl file (JSON lines, docs/pipeline.md)")
    b.add_argument("--out", required=True, help="output folder (resumable: rerun the same command)")
    _add_build_flags(b)
    b.set_defaults(func=_build)

    i = sub.add_parser("import", help="an existing corpus (HF datasets, Common Voice, NeMo, lhotse) -> a wsdata build")
    i.add_argument(
        "corpus",
        nargs="+",
        help="a `save_to_disk` folder, Parquet files or hub id; a Common Voice folder; a NeMo manifest; "
        "lhotse manifests (cuts, or recordings and supervisions)",
    )
    i.add_argument("--format", choices=["auto", "hf", "commonvoice", "nemo", "lhotse"], default="auto")
    i.add_argument("--out", required=True, help="output folder, a build like any other (resumable)")
    i.add_argument(
        "--text-column",
        default=None,
        help="hf: the transcript column (default: the first of sentence, text, transcription, ...)",
    )
    i.add_argument("--name", default=None, help="the rows' `source` (default: FORMAT:NAME of the corpus)")
    _add_build_flags(i)
    i.set_defaults(func=_import)

    e = sub.add_parser("export", help="a build's segments for NeMo, lhotse or webdataset loaders")
    e.add_argument("dir")
    e.add_argument("--format", choices=["nemo", "lhotse", "webdataset"], required=True)
    e.add_argument("--out", required=True, help="a new or empty folder")
    e.add_argument("--speech-only", action="store_true", help="leave out the no-speech segments")
    e.set_defaults(func=_export)

    r = sub.add_parser("review", help="audit the sampled review queue of a build; --report for filter precision")
    r.add_argument("dir")
    r.add_argument("--report", action="store_true", help="precision per filter with Wilson intervals, + report.html")
    r.add_argument("--quarantine", metavar="SOURCE", help="record a source to drop in the next build")
    r.add_argument(
        "--quarantine-worst",
        type=int,
        metavar="N",
        help="record the N sources with the highest WER x hours under the latest `wsdata score`",
    )
    r.add_argument("--reviewer", help="your name in the verdicts (default: $USER)")
    r.add_argument("--player", help="audio player command (default: ffplay, aplay, paplay or afplay, if found)")
    r.add_argument("--web", action="store_true", help="review in a web browser: serve the queue and the live report")
    r.add_argument("--host", default="127.0.0.1", help="--web: address to listen on; any but localhost needs a token")
    r.add_argument("--port", type=int, default=8377, help="--web: port to listen on (0: any free port)")
    r.add_argument("--token", action="store_true", help="--web: ask for a token on localhost too (a shared server)")
    r.set_defaults(func=_review)

    try:  # the trainer's commands need the `train` extra (torch, transformers)
        from wsdata.train.cli import add_parsers

        add_parsers(sub)
    except ImportError as e:
        missing = str(e)
        for name in ("train", "transcribe", "evaluate"):
            sub.add_parser(name, help=f"needs pip install 'wsdata[train]' ({missing})").set_defaults(
                stub=True,  # takes any flags: the install hint, never "unrecognized arguments"
                func=lambda a, m=missing: (
                    _err(f"wsdata {a.command}: install the train extra: pip install 'wsdata[train]' ({m})") or 2
                ),
            )

    c = sub.add_parser("score", help="per-segment WER of a built corpus under a model (DIR/scores/); resumable")
    c.add_argument("dir")
    c.add_argument(
        "--model", required=True, help="a Whisper model as for --asr: CTranslate2 folder, HF id/folder, RUN/model"
    )
    c.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    c.add_argument("--batch-size", type=int, default=8, help="segments per model call (1 or more)")
    c.add_argument(
        "--worst", type=int, default=20, help="worst-scoring kept segments added to the review queue (0: none)"
    )
    c.add_argument("--quiet", action="store_true", help="no line per scored shard")
    c.set_defaults(func=_score)

    s = sub.add_parser("stats", help="print the funnel and hours per language of a build; of several, side by side")
    s.add_argument("dir", nargs="+")
    s.add_argument("--json", action="store_true", help="print stats.json as is")
    s.set_defaults(func=_stats)

    args, extra = p.parse_known_args(argv)
    if extra and not getattr(args, "stub", False):
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    from wsdata.config import ConfigError
    from wsdata.errors import BuildError, FatalError

    try:
        return args.func(args)
    except (ConfigError, BuildError) as e:
        _err(f"wsdata {args.command}: {e}")
        return 2
    except FatalError as e:  # a model, an extra or the disk, met by whichever worker or task: one line
        _err(f"wsdata {args.command}: {safe(e, 400)}")
        if e.resumable:
            _err(f"wsdata {args.command}: every finished part is on disk; rerun the same command to resume")
        return e.exit_code
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (Terminated); the workers are stopped by now
        again = (
            "rerun with --resume to continue from the last checkpoint"
            if args.command == "train"
            else "rerun the same command to resume"
        )
        _err(f"\nwsdata {args.command}: interrupted; {again}")
        return 128 + (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)
    except OSError as e:  # the output's disk, not one document: a document's I/O errors are its rejects
        _err(f"wsdata {args.command}: {type(e).__name__}: {e}")
        if args.command == "build":
            _err("wsdata build: every finished part is on disk; rerun the same command to resume")
        return 1


if __name__ == "__main__":
    sys.exit(main())
