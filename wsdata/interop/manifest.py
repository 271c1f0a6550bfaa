"""A corpus's manifest (JSON lines, a TSV), plain or gzipped, read one bounded line at a time.

Manifests come from other people: a line may be gigabytes long, a small `.gz` may decompress to
far more than the disk holds, a path may name a FIFO. So a manifest must be a regular file, a
line longer than `limits.max_line_bytes` is skipped unread (its record becomes a
`read.line_too_long` reject), and past `limits.max_manifest_bytes` of decompressed text the import
stops with one message. Memory holds one line at most, whatever the file.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from wsdata.io import fs
from wsdata.io.textenc import loads_json

GZIP_MAGIC = b"\x1f\x8b"
SKIP_BLOCK = 1 << 20  # bytes of an over-long line read (and dropped) at a time
# A corpus's split names, to the two a build writes: what is not trained on is held out.
SPLITS = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "validation",
}
MAX_OFFSET_S = 366 * 24 * 3600.0  # a time past a year into a file is a corrupt record, not a span to seek to


class ImportError_(ValueError):
    """The corpus cannot be read at all (not one of its records: those become rejects): a manifest
    that is no regular file, a broken gzip stream, more text than limits.max_manifest_bytes."""


@dataclass(frozen=True)
class Line:
    """One non-blank line: its 1-based number, its text, or None when it was longer than the cap."""

    number: int
    text: str | None
    nbytes: int


def _open(path: Path) -> IO[bytes]:
    try:
        fs.size(str(path))  # NotAFile for a FIFO, device or socket: opening one could block for good
        raw = open(path, "rb")  # noqa: SIM115 - returned, closed by the caller's `with`
    except (OSError, ValueError) as e:
        raise ImportError_(f"{path}: cannot be read ({e})") from None
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


def lines(path: Path, max_line_bytes: int, max_total_bytes: int) -> Iterator[Line]:
    """Every non-blank line of `path` (gzip by its magic bytes), decoded as UTF-8 with
    replacement. A line over `max_line_bytes` is given with text None, its bytes never held.
    ImportError_ past `max_total_bytes` decompressed, or when the gzip stream is broken."""
    total, number = 0, 0
    with _open(path) as f:
        try:
            while raw := f.readline(max_line_bytes + 1):
                number += 1
                n = len(raw)
                if n > max_line_bytes and not raw.endswith(b"\n"):
                    while raw and not raw.endswith(b"\n"):  # the rest of the line, unkept
                        total += len(raw)
                        _check_total(path, total, max_total_bytes)
                        raw = f.readline(SKIP_BLOCK)
                        n += len(raw)
                    total += len(raw)
                    _check_total(path, total, max_total_bytes)
                    yield Line(number, None, n)
                    continue
                total += n
                _check_total(path, total, max_total_bytes)
                text = raw.decode("utf-8", errors="replace")
                if text.strip():
                    yield Line(number, text, n)
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:  # a cut-off or corrupt .gz
            raise ImportError_(f"{path}: broken gzip stream after line {number} ({e})") from None


def _check_total(path: Path, total: int, cap: int) -> None:
    if total > cap:
        raise ImportError_(f"{path}: more than {cap:,} bytes of text (limits.max_manifest_bytes); not read further")


Problem = tuple[str, str]  # (a registered reason code, its detail): one record's reject


def json_objects(path: Path, max_line_bytes: int, max_total_bytes: int) -> Iterator[tuple[int, Any, Problem | None]]:
    """(line number, the line's JSON object or None, why not) for every non-blank line."""
    for line in lines(path, max_line_bytes, max_total_bytes):
        obj, problem = parse_json_line(line)
        yield line.number, obj, problem


def parse_json_line(line: Line) -> tuple[dict[str, Any] | None, Problem | None]:
    """The line's JSON object, or (None, its read.line_too_long / invalid_json / not_an_object)."""
    if line.text is None:
        return None, ("read.line_too_long", f"line {line.number}: {line.nbytes:,} bytes > limits.max_line_bytes")
    try:
        obj = loads_json(line.text)
    except json.JSONDecodeError as e:
        return None, ("read.invalid_json", f"line {line.number}: {e.msg} (column {e.colno})")
    except ValueError as e:  # nested too deeply
        return None, ("read.invalid_json", f"line {line.number}: {e}")
    if not isinstance(obj, dict):
        return None, ("read.not_an_object", f"line {line.number}: a JSON {type(obj).__name__}, not an object")
    return obj, None


def split_of(name: str | None) -> str | None:
    return SPLITS.get((name or "").lower()) if name else None


def seconds(value: Any, name: str, positive: bool = False) -> float | Problem:
    """A manifest's time field in seconds: a finite number >= 0 (> 0 with `positive`), or the
    read.invalid_field problem saying what it is instead (NaN, inf, negative, a string...)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > 0 if positive else value >= 0) and value <= MAX_OFFSET_S:
        return float(value)
    want = "a positive" if positive else "a non-negative"
    return "read.invalid_field", f"{name}: {str(value)[:40]!r} is not {want} number of seconds"
