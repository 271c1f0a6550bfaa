"""Decontamination: drop crawl text that overlaps an evaluation set (the paper removed TED-LIUM 3).

The evaluation transcripts' word n-grams (the same shingles and hash as MinHash) form a sorted
array; a document or segment is dropped when at least `dedup.eval_overlap` of its own n-grams are
in it. Containment, not Jaccard: a 30 s segment holding one evaluation utterance and a bit of the
next is still caught. The array is the size of the evaluation set, never of the crawl.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from wsdata.dedup.minhash import shingle_hashes, tokens

MIN_SHINGLES = 10  # shorter texts are not judged: a few common words would match any evaluation set


class ExcludeError(ValueError):
    """The evaluation file cannot be read; the message says why."""


def read_texts(path: Path) -> list[str]:
    """Text lines, JSON lines (a `text` field each) or Parquet (a `text` column)."""
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
            if "text" not in schema.names:
                raise ExcludeError(f"{path}: no `text` column (columns: {', '.join(schema.names)})")
            values = pq.read_table(path, columns=["text"])["text"].to_pylist()
        except pa.ArrowException as e:
            raise ExcludeError(f"{path}: not a readable Parquet file ({e})") from None
        if any(v is not None and not isinstance(v, str) for v in values):
            raise ExcludeError(f"{path}: the `text` column does not hold strings")
        return [t for t in values if t]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ExcludeError(f"{path}: not UTF-8 text ({e})") from None
    if path.suffix in (".jsonl", ".json"):
        out = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
            except (ValueError, KeyError, TypeError, RecursionError):
                text = None
            if not isinstance(text, str):
                raise ExcludeError(f"{path}:{n}: not a JSON object with a string `text` field")
            out.append(text)
        return out
    return [line for line in lines if line.strip()]


@functools.lru_cache(maxsize=2)
def eval_index(path: str, ngram: int) -> np.ndarray:
    """Sorted unique n-gram hashes of every evaluation transcript."""
    texts = read_texts(Path(path))
    if not texts:
        raise ExcludeError(f"{path}: no transcripts in it")
    h, _ = shingle_hashes([tokens(t) for t in texts], ngram)
    return np.unique(h)


def overlap(text: str, path: str, ngram: int) -> float | None:
    """Share of the text's n-grams found in the evaluation set; None when too short to judge."""
    h, _ = shingle_hashes([tokens(text)], ngram)
    if len(h) < MIN_SHINGLES:
        return None
    index = eval_index(path, ngram)
    pos = np.minimum(np.searchsorted(index, h), len(index) - 1)
    return float(np.mean(index[pos] == h))
