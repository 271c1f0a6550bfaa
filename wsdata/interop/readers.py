"""Existing corpora as `Item`s (wsdata/interop/staging.py): Hugging Face datasets, Common Voice
releases, NeMo manifests and lhotse manifests (wsdata/interop/lhotse_manifests.py). Column
mappings: docs/import-export.md.

A corpus is someone else's data, read as data only. A reader never stops at a bad record: the
record becomes an item that carries its reject (a registered reason and why), which the build writes
to rejects/, so nothing is lost without a row saying why. Manifests are read one bounded line at a
time (wsdata/interop/manifest.py). A path a record names is made absolute against the corpus's
folder here and checked against the roots when staged, before anything reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wsdata.config import LimitsConfig
from wsdata.interop import manifest
from wsdata.interop.manifest import SPLITS, ImportError_, Problem, seconds, split_of
from wsdata.interop.staging import Item, audio_uri, rejected

__all__ = ["FORMATS", "ImportError_", "commonvoice", "detect", "hf", "lhotse", "nemo"]

FORMATS = ("hf", "commonvoice", "nemo", "lhotse")
TEXT_COLUMNS = ("sentence", "text", "transcription", "transcript", "normalized_text", "raw_transcription")
_EXT = re.compile(r"^[A-Za-z0-9]{1,8}$")  # a staged file's extension, from a record's path


def detect(path: Path) -> str:
    """The format of `path` from what it holds; ImportError_ when it is none of them."""
    if path.is_dir():
        if (path / "validated.tsv").is_file():
            return "commonvoice"
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file() or any(path.glob("*.parquet")):
            return "hf"
        if any(path.glob("*cuts*.jsonl*")) or any(path.glob("*recordings*.jsonl*")):
            return "lhotse"
    name = path.name
    if name.endswith(".parquet"):
        return "hf"
    if ".jsonl" in name and any(k in name for k in ("cuts", "recordings", "supervisions")):
        return "lhotse"
    if name.endswith((".json", ".jsonl")):
        return "nemo"
    raise ImportError_(
        f"{path}: not a Hugging Face dataset, Common Voice folder, NeMo or lhotse manifest; give --format"
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def corpus_roots(fmt: str, corpus: list[str]) -> tuple[str, ...]:
    """The folders a corpus's records may name audio in when the user gives no limits.allowed_roots:
    its own (a Common Voice or dataset folder, each manifest's folder); a hub dataset: the caches
    `datasets` downloads it to."""
    if fmt == "hf" and hf_folder(corpus[0]) is None:
        try:
            import datasets
            from huggingface_hub import constants
        except ImportError:
            return ()  # reading it fails first, with the install hint
        caches = (datasets.config.HF_DATASETS_CACHE, constants.HF_HUB_CACHE)
        return tuple(str(Path(c).resolve()) for c in caches if Path(c).is_dir())
    folders = [Path(c) if Path(c).is_dir() else Path(c).parent for c in corpus]
    return tuple(dict.fromkeys(str(f.resolve()) for f in folders))


# -- Common Voice ---------------------------------------------------------------------------------


def _tsv(
    path: Path, limits: LimitsConfig, required: tuple[str, ...] = ("path",)
) -> Iterator[tuple[int, dict[str, str] | None, Problem | None]]:
    """(line number, row by the header's names, or why the line is no row). Sentences hold quotes:
    no CSV quoting, a tab separates cells, as Common Voice writes them. An empty file has no rows;
    a header without the `required` columns is an ImportError_."""
    rows = manifest.lines(path, limits.max_line_bytes, limits.max_manifest_bytes)
    head = next(rows, None)
    if head is None:
        return
    names = (head.text or "").lstrip("\ufeff").rstrip("\r\n").split("\t")
    missing = [c for c in required if c not in names]
    if missing:
        raise ImportError_(f"{path}: no {', '.join(missing)} column in its header line; not a Common Voice TSV")
    for line in rows:
        if line.text is None:
            yield line.number, None, ("read.line_too_long", f"{path.name} line {line.number}: {line.nbytes:,} bytes")
            continue
        cells = line.text.rstrip("\r\n").split("\t")
        yield line.number, dict(zip(names, cells)), None


def commonvoice(folder: Path, source: str | None = None, limits: LimitsConfig | None = None) -> Iterator[Item]:
    """validated.tsv's clips (clips/NAME.mp3, `sentence`, `locale`); the split from train.tsv,
    dev.tsv and test.tsv (dev and test held out), clips in none of them to train."""
    limits = limits or LimitsConfig()
    splits: dict[str, str] = {}
    for name in ("train", "dev", "test"):
        if (folder / f"{name}.tsv").is_file():
            splits.update((r.get("path") or "", SPLITS[name]) for _, r, _ in _tsv(folder / f"{name}.tsv", limits) if r)
    for n, row, problem in _tsv(folder / "validated.tsv", limits, ("path", "sentence")):
        if row is None:
            assert problem is not None
            yield rejected(f"validated.tsv-line-{n}", problem, source)
            continue
        yield cv_item(row, n, folder, source, splits)


def cv_item(row: dict[str, str], n: int, folder: Path, source: str | None, splits: dict[str, str]) -> Item:
    """One validated.tsv row as an item: clips/`path` (inside the folder, checked when staged)."""
    clip = row.get("path") or ""
    locale = row.get("locale") or None
    src = source or f"commonvoice:{locale or folder.name}"
    ident = (Path(clip).stem if "\x00" not in clip else "") or f"validated.tsv-line-{n}"
    if not clip:
        return rejected(ident, ("read.missing_field", f"validated.tsv line {n}: no `path`"), src)
    if row.get("sentence") is None:
        return rejected(ident, ("read.missing_field", f"validated.tsv line {n}: no `sentence`"), src)
    return Item(
        id=ident,
        text=row["sentence"],
        audio=audio_uri(clip, folder / "clips"),
        language=locale,
        source=src,
        split=splits.get(clip, "train"),
        meta={k: row[k] for k in ("client_id", "age", "gender", "accents", "variant") if row.get(k)},
    )


# -- NeMo -----------------------------------------------------------------------------------------


def nemo(manifest_path: Path, source: str | None = None, limits: LimitsConfig | None = None) -> Iterator[Item]:
    """A NeMo manifest: JSON lines of `audio_filepath` (relative to the manifest's folder),
    `duration` and `offset` in seconds, `text`, `lang`. An utterance with an offset is a span of a
    longer file: cut into its own FLAC when staged."""
    limits = limits or LimitsConfig()
    src = source or f"nemo:{manifest_path.stem}"
    stem = manifest_path.stem.lower()
    split = split_of(next((s for s in ("train", "dev", "validation", "test") if s in stem), None))
    seen: set[str] = set()
    for n, obj, problem in manifest.json_objects(manifest_path, limits.max_line_bytes, limits.max_manifest_bytes):
        item = (
            nemo_record(obj, n, manifest_path, src, split)
            if obj is not None
            else rejected(f"{manifest_path.name}-line-{n}", problem or ("read.invalid_json", f"line {n}"), src)
        )
        if item.id in seen:  # one file named twice: keep both, told apart
            item.id = f"{item.id}-line-{n}"
        seen.add(item.id)
        yield item


def nemo_record(rec: dict[str, Any], n: int, manifest_path: Path, src: str, split: str | None) -> Item:
    """One manifest line's object as an item, or its reject (a missing path, a bad time)."""
    path = rec.get("audio_filepath")
    if not isinstance(path, str) or not path:
        return rejected(f"{manifest_path.name}-line-{n}", ("read.missing_field", f"line {n}: no `audio_filepath`"), src)
    ident = (Path(path).stem if "\x00" not in path else "") or f"{manifest_path.name}-line-{n}"
    text = rec.get("text")
    if not isinstance(text, str):
        return rejected(ident, ("read.missing_field", f"line {n}: no `text` string"), src)
    item = Item(
        id=ident,
        text=text,
        audio=audio_uri(path, manifest_path.parent),
        language=_text(rec.get("lang")),
        source=src,
        split=split,
    )
    offset, duration = rec.get("offset"), rec.get("duration")
    if duration is not None:
        d = seconds(duration, f"line {n}: duration", positive=True)
        if isinstance(d, tuple):
            return rejected(ident, d, src)
        duration = d
    if offset is not None:
        o = seconds(offset, f"line {n}: offset")
        if isinstance(o, tuple):
            return rejected(ident, o, src)
        offset = o
    if offset is not None and duration is not None:  # a span of the file
        start = round(offset * 1000)
        item.id = f"{ident}-{start}"
        item.span = (start, start + max(1, round(duration * 1000)))
    return item


# -- Hugging Face datasets ------------------------------------------------------------------------


def _load_hf(spec: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise ImportError_("reading a Hugging Face dataset needs datasets: pip install 'wsdata[interop]'") from None
    try:
        return _open_hf(datasets, spec)
    except ImportError_:
        raise
    except Exception as e:  # noqa: BLE001 - datasets raises many kinds (not found, offline, bad files): one line
        raise ImportError_(f"{spec}: {type(e).__name__}: {e}") from None


def _open_hf(datasets: Any, spec: str) -> Any:
    path = Path(spec)
    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
        return datasets.load_from_disk(str(path))
    if path.is_dir() or path.suffix == ".parquet":
        files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
        if not files:
            raise ImportError_(f"{spec}: no Parquet files in it")
        by_split: dict[str, list[str]] = {}
        for f in files:
            split = next((s for s in SPLITS if f.name.startswith(s)), "train")
            by_split.setdefault(split, []).append(str(f))
        return datasets.load_dataset("parquet", data_files=by_split)
    return datasets.load_dataset(spec)  # a hub id, where the network allows


def hf_folder(spec: str) -> Path | None:
    """The folder a dataset's relative audio paths are relative to: the dataset's own (a hub id: None)."""
    path = Path(spec)
    if path.is_dir():
        return path.resolve()
    return path.resolve().parent if path.exists() else None


def _audio_column(ds: Any) -> str:
    import datasets

    for name, feature in ds.features.items():
        if isinstance(feature, datasets.Audio):
            return name
    if "audio" in ds.features:  # a struct of bytes and path without the Audio type, or a path column
        return "audio"
    raise ImportError_(f"no Audio column among {list(ds.features)}")


def hf(
    spec: str, text_column: str | None = None, source: str | None = None, base: Path | None = None
) -> Iterator[Item]:
    """Every split of a dataset: `save_to_disk` folder, Parquet files with an Audio column, or a hub
    id. The audio is taken as stored (bytes or a path, relative to `base`), never decoded here."""
    import datasets

    loaded = _load_hf(spec)
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("train", loaded)]
    src = source or f"hf:{Path(spec).name or spec}"
    for split_name, ds in splits:
        audio_col = _audio_column(ds)
        if isinstance(ds.features[audio_col], datasets.Audio):
            ds = ds.cast_column(audio_col, datasets.Audio(decode=False))
        text_col = text_column or next((c for c in TEXT_COLUMNS if c in ds.features), None)
        if text_col is None or text_col not in ds.features:
            raise ImportError_(
                f"no text column {text_column or TEXT_COLUMNS} among {list(ds.features)}; give --text-column"
            )
        for i, row in enumerate(_rows(ds, spec, split_name)):
            yield hf_item(row, i, split_name, audio_col, text_col, src, base)


def _rows(ds: Any, spec: str, split_name: str) -> Iterator[dict[str, Any]]:
    """The dataset's rows; a file that breaks part way (a corrupt Parquet page) is one error."""
    rows, i = iter(ds), 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as e:  # noqa: BLE001 - pyarrow and datasets raise many kinds: one line
            raise ImportError_(f"{spec}: {split_name} row {i}: {type(e).__name__}: {e}") from None
        yield row
        i += 1


def hf_item(
    row: dict[str, Any], i: int, split_name: str, audio_col: str, text_col: str, src: str, base: Path | None
) -> Item:
    """One dataset row as an item: the audio's bytes, or its path (a path column, or an Audio
    struct without bytes), relative to `base`; its reject when it has neither, or no text."""
    ident = str(row.get("id") or "")[:1000] or f"{split_name}-{i:08d}"
    source = _text(row.get("source")) or src
    a = row.get(audio_col)
    if isinstance(a, str):  # a column of paths
        a = {"path": a}
    if not isinstance(a, dict):
        return rejected(ident, ("read.missing_field", f"row {i} of {split_name}: no audio in `{audio_col}`"), source)
    text = row.get(text_col)
    if not isinstance(text, str):
        return rejected(ident, ("read.missing_field", f"row {i} of {split_name}: no `{text_col}` string"), source)
    item = Item(
        id=ident,
        text=text,
        language=_text(row.get("locale")) or _text(row.get("language")),
        source=source,
        split=split_of(split_name) or "train",
    )
    data, path = a.get("bytes"), a.get("path")
    path = path if isinstance(path, str) else ""
    if isinstance(data, bytes | bytearray) and data:
        ext = Path(path.replace("\x00", "")).suffix[1:]
        item.audio_bytes, item.audio_ext = bytes(data), (ext if _EXT.match(ext) else "flac")
    elif path:
        item.audio = audio_uri(path, base)
    else:
        return rejected(ident, ("read.missing_field", f"row {i} of {split_name}: no audio bytes or path"), source)
    return item


# -- lhotse ---------------------------------------------------------------------------------------


def lhotse(paths: list[Path], source: str | None = None, limits: LimitsConfig | None = None) -> Iterator[Item]:
    """Cuts, or recordings with supervisions (wsdata/interop/lhotse_manifests.py)."""
    from wsdata.interop import lhotse_manifests

    return lhotse_manifests.items(paths, source, limits)
