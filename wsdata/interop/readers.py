"""Existing corpora as `Item`s (wsdata/interop/staging.py): Hugging Face datasets, Common Voice
releases, NeMo manifests and lhotse manifests. Column mappings: docs/import-export.md.

A reader never stops at a bad record: it yields what it has (an item without audio or text), and
the build rejects that line with its `read.*` reason, so nothing is lost without a row saying why.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wsdata.interop.staging import Item

FORMATS = ("hf", "commonvoice", "nemo", "lhotse")
TEXT_COLUMNS = ("sentence", "text", "transcription", "transcript", "normalized_text", "raw_transcription")
# A corpus's split names, to the two a build writes: what is not trained on is held out.
SPLITS = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "validation",
}
MAX_MANIFEST_LINE = 1 << 20  # bytes of one manifest line read at most


class ImportError_(ValueError):
    """The corpus cannot be read at all (not one of its records: those become rejects)."""


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


def _split(name: str | None) -> str | None:
    return SPLITS.get((name or "").lower()) if name else None


# -- Common Voice ---------------------------------------------------------------------------------


def _tsv(path: Path) -> Iterator[dict[str, str]]:
    # Sentences hold quotes: no CSV quoting. A field may be long; a line is not a record's limit.
    csv.field_size_limit(MAX_MANIFEST_LINE)
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        yield from csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)


def commonvoice(folder: Path, source: str | None = None) -> Iterator[Item]:
    """validated.tsv's clips (clips/NAME.mp3, `sentence`, `locale`); the split from train.tsv,
    dev.tsv and test.tsv (dev and test held out), clips in none of them to train."""
    split_of: dict[str, str] = {}
    for name in ("train", "dev", "test"):
        if (folder / f"{name}.tsv").is_file():
            split_of.update((r.get("path") or "", SPLITS[name]) for r in _tsv(folder / f"{name}.tsv"))
    for n, row in enumerate(_tsv(folder / "validated.tsv"), start=2):
        clip = row.get("path") or ""
        locale = row.get("locale") or None
        yield Item(
            id=Path(clip).stem if clip else f"validated.tsv-line-{n}",
            text=row.get("sentence"),
            audio=str(folder / "clips" / clip) if clip else None,
            language=locale,
            source=source or f"commonvoice:{locale or folder.name}",
            split=split_of.get(clip, "train"),
            meta={k: row[k] for k in ("client_id", "age", "gender", "accents", "variant") if row.get(k)},
        )


# -- NeMo -----------------------------------------------------------------------------------------


def nemo(manifest: Path, source: str | None = None) -> Iterator[Item]:
    """A NeMo manifest: JSON lines of `audio_filepath` (relative to the manifest's folder),
    `duration` and `offset` in seconds, `text`, `lang`. An utterance with an offset is a span of a
    longer file: cut into its own FLAC when staged."""
    from wsdata.io.crawl import iter_lines

    src = source or f"nemo:{manifest.stem}"
    split = _split(next((s for s in ("train", "dev", "validation", "test") if s in manifest.stem.lower()), None))
    seen: dict[str, int] = {}
    for n, line in iter_lines(manifest, MAX_MANIFEST_LINE):
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict) or not isinstance(rec.get("audio_filepath"), str):
            yield Item(id=f"{manifest.name}-line-{n}", text=None, source=src)  # rejected: no audio
            continue
        path = rec["audio_filepath"]
        audio = path if "://" in path or Path(path).is_absolute() else str(manifest.parent / path)
        ident = Path(path).stem
        item = Item(id=ident, text=rec.get("text"), audio=audio, language=rec.get("lang"), source=src, split=split)
        offset, duration = rec.get("offset"), rec.get("duration")
        if isinstance(offset, int | float) and isinstance(duration, int | float):  # a span of the file
            start = round(offset * 1000)
            item.id = f"{ident}-{start}"
            item.audio_bytes, item.audio = _span_flac(audio, start, start + round(duration * 1000)), None
        if item.id in seen:  # one file named twice: keep both, told apart
            item.id = f"{item.id}-line-{n}"
        seen[item.id] = n
        yield item


def _span_flac(uri: str, start_ms: int, end_ms: int) -> bytes | None:
    """[start_ms, end_ms) of `uri` as FLAC bytes; None when it cannot be decoded (the build then
    rejects the line for its missing audio)."""
    from wsdata.io.audio import AudioError, decode_span, encode_flac

    try:
        return encode_flac(decode_span(uri, start_ms, end_ms))
    except (AudioError, OSError, ValueError, RuntimeError):
        return None


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


def _audio_column(ds: Any) -> str:
    import datasets

    for name, feature in ds.features.items():
        if isinstance(feature, datasets.Audio):
            return name
    if "audio" in ds.features:  # a struct of bytes and path without the Audio type (our own shards)
        return "audio"
    raise ImportError_(f"no Audio column among {list(ds.features)}")


def hf(spec: str, text_column: str | None = None, source: str | None = None) -> Iterator[Item]:
    """Every split of a dataset: `save_to_disk` folder, Parquet files with an Audio column, or a hub
    id. The audio is taken as stored (bytes or a path), never decoded here."""
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
        for i, row in enumerate(ds):
            a = row[audio_col] or {}
            path = a.get("path") or ""
            ident = str(row.get("id") or "") or f"{split_name}-{i:08d}"
            item = Item(
                id=ident,
                text=row[text_col],
                language=row.get("locale") or row.get("language") or None,
                source=row.get("source") or src,
                split=_split(split_name) or "train",
            )
            if a.get("bytes"):
                item.audio_bytes, item.audio_ext = a["bytes"], (Path(path).suffix[1:] or "flac")
            elif path:
                item.audio = path
            yield item


# -- lhotse ---------------------------------------------------------------------------------------


def lhotse(paths: list[Path], source: str | None = None) -> Iterator[Item]:
    """Cuts, or recordings with supervisions, read with lhotse itself (the `interop` extra). A cut
    (or recording) of at most 30 s with one supervision is an utterance; a longer one is a
    recording whose supervisions are cues, segmented by the build. Audio lhotse holds in memory,
    or a cut of part of a file, is loaded by lhotse and staged as FLAC."""
    try:
        from lhotse import CutSet, RecordingSet, SupervisionSet, load_manifest_lazy
    except ImportError:
        raise ImportError_("reading lhotse manifests needs lhotse: pip install 'wsdata[interop]'") from None
    files = [f for p in paths for f in (sorted(p.glob("*.jsonl*")) if p.is_dir() else [p])]
    manifests = [load_manifest_lazy(f) for f in files]
    cuts = [m for m in manifests if isinstance(m, CutSet)]
    if not cuts:
        recs = [m for m in manifests if isinstance(m, RecordingSet)]
        sups = [m for m in manifests if isinstance(m, SupervisionSet)]
        if not recs:
            raise ImportError_(f"{[str(f) for f in files]}: no lhotse cuts or recordings manifest")
        cuts = [CutSet.from_manifests(recordings=r, supervisions=s) for r, s in zip(recs, sups or [None] * len(recs))]
    for f, cutset in zip(files, cuts):
        split = _split(next((s for s in SPLITS if s in f.name.lower()), None))
        for cut in cutset:
            yield _cut_item(cut, source or f"lhotse:{f.name.split('_')[0].split('.')[0]}", split)


def _cut_item(cut: Any, source: str, split: str | None) -> Item:
    from wsdata.constants import CHUNK_MS

    sups = sorted(cut.supervisions, key=lambda s: s.start)
    rec = cut.recording
    lang = next((s.language for s in sups if s.language), None)
    item = Item(id=cut.id, language=lang, source=source, split=split)
    speakers = sorted({s.speaker for s in sups if s.speaker})
    if speakers:
        item.meta["speaker"] = speakers[0] if len(speakers) == 1 else speakers
    whole = rec is not None and abs(cut.start) < 1e-6 and abs(cut.duration - rec.duration) < 1e-3
    src = rec.sources[0] if rec is not None and len(rec.sources) == 1 else None
    if whole and src is not None and src.type == "file":
        item.audio = src.source
    else:  # a window of a file, several channels, or audio lhotse holds: lhotse loads it
        item.audio_bytes = _wav(cut.load_audio(), cut.sampling_rate)
        item.audio_ext = "wav"
    if round(cut.duration * 1000) <= CHUNK_MS and len(sups) <= 1:
        item.text = sups[0].text if sups else None
    else:
        item.cues = [(round(s.start * 1000), round(s.end * 1000), s.text or "") for s in sups]
    return item


def _wav(samples: Any, rate: int) -> bytes:
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    data = np.asarray(samples, dtype=np.float32)
    sf.write(buf, data.T if data.ndim == 2 else data, rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()
