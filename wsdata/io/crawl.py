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
from wsdata.io.textenc import loads_json, lone_surrogate
from wsdata.reasons import REASONS

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


# A reserved field: the reject of a record that `wsdata import` could not stage (wsdata/interop/
# staging.py), {"reason": a registered read.* or pair.* code, "detail": why}. The read stage writes it
# to rejects/ as it is, so an import's reasons (a path outside the roots, a lhotse command source)
# reach the rows and stats.json; a line that has it never becomes a document.
STAGED_REJECT = "_reject"
STAGED_REASON_STAGES = ("read", "pair")

# What a line longer than the limit is replaced by, with its length in bytes after it. Never the
# text of a real line: a byte that is not UTF-8 is decoded to U+FFFD, or with errors="surrogateescape"
# to U+DC80..U+DCFF, never to U+D800.
TOO_LONG = "\ud800line too long: "


def iter_spans(
    path: Path,
    start: int = 0,
    end: int | None = None,
    first_line: int = 1,
    max_bytes: int | None = None,
    errors: str = "replace",
) -> Iterator[tuple[int, str, int]]:
    """(1-based line number, line, byte offset after the line) for every non-blank line of the
    bytes start..end, streamed. Lines end at b"\n" only (JSON lines), so a byte range that starts
    at a line start reads the same lines in any process: that is how a Ray task re-reads its chunk.
    A line of more than `max_bytes` is never held: it is skipped and given as TOO_LONG + its length.
    Bytes that are not UTF-8 are decoded with `errors`: "replace" (U+FFFD), or "surrogateescape"
    for the crawl's chunks, so that `read_record` can refuse an id that holds one instead of storing
    a U+FFFD that another id may share (`loads_json` mends them in every other field).
    """
    with open(path, "rb") as f:
        f.seek(start)
        pos, lineno = start, first_line
        while end is None or pos < end:
            raw = f.readline(max_bytes + 1) if max_bytes else f.readline()
            if not raw:
                return
            if max_bytes and len(raw) > max_bytes and not raw.endswith(b"\n"):
                n = len(raw)
                while raw and not raw.endswith(b"\n"):  # the rest of the line, a MiB at a time, unkept
                    raw = f.readline(1 << 20)
                    n += len(raw)
                pos += n
                yield lineno, f"{TOO_LONG}{n}", pos
            else:
                pos += len(raw)
                line = raw.decode("utf-8", errors=errors)
                if line.strip():
                    yield lineno, line, pos
            lineno += 1


def iter_lines(path: Path, max_bytes: int | None = None) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for every non-blank line, streamed (see `iter_spans`)."""
    for lineno, line, _ in iter_spans(path, max_bytes=max_bytes):
        yield lineno, line


def peek_id(line: str) -> str | None:
    """The line's id if it is a JSON object with a string id that `read_record` accepts (for
    duplicate detection: an id it refuses is no document's, so it repeats none and none repeats it)."""
    try:  # a TOO_LONG marker is no JSON either
        obj = loads_json(line, exact=("id",))
    except ValueError:
        return None
    ident = obj.get("id") if isinstance(obj, dict) else None
    return ident if isinstance(ident, str) and ident and id_problem(ident) is None else None


def id_problem(ident: str) -> str | None:
    """Why `ident` cannot be a document's id, or None. An id is stored, hashed and compared exactly
    (UTF-8 in Parquet, the duplicate check, the validation split): one that UTF-8 cannot hold would
    have to be changed, and two changed ids could become one. Any other string is a legal id."""
    if where := lone_surrogate(ident):
        return f"holds {where}, a lone UTF-16 surrogate or a byte that is not UTF-8, which cannot be stored exactly"
    if "\0" in ident:  # cut short by C strings: file names, ffmpeg's metadata, many terminals and tools
        return "holds a NUL character (U+0000)"
    return None


@functools.cache
def known_fields() -> frozenset[str]:
    return frozenset(_validator().schema["properties"])


def unknown_fields(obj: dict[str, Any]) -> list[str]:
    """The keys of a crawl line that the contract does not name (a typo, or a field of another tool)."""
    known = known_fields()
    return sorted(str(k)[:64] for k in obj if k not in known)[:20]


def did_you_mean(key: str) -> str | None:
    """The contract's field that `key` most likely misspells (transcipt -> transcript), if any."""
    import difflib

    close = difflib.get_close_matches(key.lower(), sorted(known_fields()), n=1, cutoff=0.6)
    return close[0] if close else None


def _hint(unknown: list[str]) -> str:
    parts = []
    for k in unknown[:5]:
        guess = did_you_mean(k)
        parts.append(f"{k!r}" + (f" (did you mean {guess!r}?)" if guess else ""))
    return f"; fields outside the contract: {', '.join(parts)}" if parts else ""


def staged_reject(value: Any, lineno: int) -> Reject:
    """The reject a staged line carries; read.invalid_field when it is not one of a registered
    read.* or pair.* reason (a hand-written crawl cannot pass off other stages' verdicts)."""
    reason = value.get("reason") if isinstance(value, dict) else None
    detail = value.get("detail") if isinstance(value, dict) else None
    if isinstance(reason, str) and reason in REASONS and reason.split(".", 1)[0] in STAGED_REASON_STAGES:
        return Reject(reason, detail[:1000] if isinstance(detail, str) else "")
    return Reject("read.invalid_field", f"line {lineno}: {STAGED_REJECT}: not a registered read.* or pair.* reject")


def read_record(
    line: str, lineno: int, base_dir: Path, duplicate_of: int | None = None
) -> Document | tuple[str | None, Reject]:
    """Parse and validate one line. Returns a Document, or (doc id if known, Reject)."""
    if line.startswith(TOO_LONG):
        size = line[len(TOO_LONG) :]
        return None, Reject("read.line_too_long", f"line {lineno}: {int(size):,} bytes > limits.max_line_bytes")
    try:
        obj: Any = loads_json(line, exact=("id",))
    except json.JSONDecodeError as e:
        return None, Reject("read.invalid_json", f"line {lineno}: {e.msg} (column {e.colno}): {line[:80]!r}")
    except ValueError as e:  # nested too deeply for the parser
        return None, Reject("read.invalid_json", f"line {lineno}: {e}: {line[:80]!r}")
    if not isinstance(obj, dict):
        return None, Reject("read.not_an_object", f"line {lineno}: a JSON {type(obj).__name__}, not an object")
    ident = obj.get("id") if isinstance(obj.get("id"), str) and obj.get("id") else None
    if ident is not None and (why := id_problem(ident)):  # the reject row cannot name it either
        return None, Reject("read.invalid_field", f"line {lineno}: id {ascii(ident)[:120]} {why}")
    if STAGED_REJECT in obj:
        return ident, staged_reject(obj[STAGED_REJECT], lineno)
    errors = sorted(_validator().iter_errors(obj), key=lambda e: (e.validator != "required", list(e.path)))
    unknown = unknown_fields(obj)
    if errors:
        e = errors[0]
        if e.validator in ("required", "anyOf"):
            missing = "transcript or text" if e.validator == "anyOf" else e.message.split("'")[1]
            return ident, Reject("read.missing_field", f"line {lineno}: no {missing!r} field" + _hint(unknown))
        where = ".".join(str(p) for p in e.path) or "record"
        return ident, Reject("read.invalid_field", f"line {lineno}: {where}: {e.message[:160]}")
    if duplicate_of is not None:
        return ident, Reject("read.duplicate_id", f"line {lineno}: id {ident!r} already used on line {duplicate_of}")
    for key in ("audio", "transcript"):
        if isinstance(obj.get(key), str) and (why := fs.location_problem(obj[key])):
            return ident, Reject("read.invalid_field", f"line {lineno}: {key}: {why}")
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
        split=obj.get("split") or None,
        unknown_fields=unknown,
    )
    if obj.get("language") and obj["language"] != doc.language:  # normalised (en-US -> en) or unknown (None)
        doc.evidence["language_claim"] = obj["language"]
    return doc
