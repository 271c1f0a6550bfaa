"""The read stage: one crawl line to a Document, or a `read.*` reject. Never loads the file whole."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

from wsdata import languages
from wsdata.datamodel import Document, Reject
from wsdata.io import fs
from wsdata.io.textenc import loads_json

SCHEMA_FILE = "crawl-record.v1.schema.json"


def schemas_dir() -> Path:
    here = Path(__file__).resolve().parent.parent
    for cand in (here / "schemas", here.parent / "schemas"):
        if (cand / SCHEMA_FILE).is_file():
            return cand
    raise FileNotFoundError(f"{SCHEMA_FILE} not found beside the wsdata package")


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads((schemas_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def iter_spans(
    path: Path, start: int = 0, end: int | None = None, first_line: int = 1
) -> Iterator[tuple[int, str, int]]:
    """(1-based line number, line, byte offset after the line) for every non-blank line of the
    bytes start..end, streamed. Lines end at b"\n" only (JSON lines), so a byte range that starts
    at a line start reads the same lines in any process: that is how a Ray task re-reads its chunk.
    """
    with open(path, "rb") as f:
        f.seek(start)
        pos, lineno = start, first_line
        for raw in f:
            if end is not None and pos >= end:
                return
            pos += len(raw)
            line = raw.decode("utf-8", errors="replace")
            if line.strip():
                yield lineno, line, pos
            lineno += 1


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for every non-blank line, streamed."""
    for lineno, line, _ in iter_spans(path):
        yield lineno, line


def peek_id(line: str) -> str | None:
    """The line's id if it is a JSON object with a string id (for duplicate detection)."""
    try:
        obj = loads_json(line)
    except ValueError:
        return None
    ident = obj.get("id") if isinstance(obj, dict) else None
    return ident if isinstance(ident, str) and ident else None


def read_record(
    line: str, lineno: int, base_dir: Path, duplicate_of: int | None = None
) -> Document | tuple[str | None, Reject]:
    """Parse and validate one line. Returns a Document, or (doc id if known, Reject)."""
    try:
        obj: Any = loads_json(line)
    except json.JSONDecodeError as e:
        return None, Reject("read.invalid_json", f"line {lineno}: {e.msg} (column {e.colno}): {line[:80]!r}")
    except ValueError as e:  # nested too deeply for the parser
        return None, Reject("read.invalid_json", f"line {lineno}: {e}: {line[:80]!r}")
    if not isinstance(obj, dict):
        return None, Reject("read.not_an_object", f"line {lineno}: a JSON {type(obj).__name__}, not an object")
    ident = obj.get("id") if isinstance(obj.get("id"), str) and obj.get("id") else None
    errors = sorted(_validator().iter_errors(obj), key=lambda e: (e.validator != "required", list(e.path)))
    if errors:
        e = errors[0]
        if e.validator in ("required", "anyOf"):
            missing = "transcript or text" if e.validator == "anyOf" else e.message.split("'")[1]
            return ident, Reject("read.missing_field", f"line {lineno}: no {missing!r} field")
        where = ".".join(str(p) for p in e.path) or "record"
        return ident, Reject("read.invalid_field", f"line {lineno}: {where}: {e.message[:160]}")
    if duplicate_of is not None:
        return ident, Reject("read.duplicate_id", f"line {lineno}: id {ident!r} already used on line {duplicate_of}")
    transcript = obj.get("transcript")
    doc = Document(
        id=obj["id"],
        line=lineno,
        audio_uri=fs.resolve(obj["audio"], base_dir),
        transcript_uri=fs.resolve(transcript, base_dir) if transcript else None,
        # A timed transcript wins over inline text when a line has both.
        inline_text=None if transcript else obj.get("text"),
        language=languages.claim(obj["language"]) if obj.get("language") else None,
        caption_kind=obj.get("caption_kind") or None,
        source=obj.get("source") or None,
        passthrough={k: obj[k] for k in ("url", "license", "meta") if k in obj},
    )
    if obj.get("language") and obj["language"] != doc.language:  # normalised (en-US -> en) or unknown (None)
        doc.evidence["language_claim"] = obj["language"]
    return doc
