"""Verdicts: one JSON line per judgement in OUT/review/verdicts.jsonl, appended durably.

Each verdict is one `write` of one line to a file opened with O_APPEND, under an exclusive flock,
then fsync: several reviewers (terminals, the review page's threads) can append to the same file at
once without overwriting or interleaving each other, on file systems where O_APPEND alone does not
promise that too (NFS), and a kill at any moment leaves every earlier verdict on disk. A reviewer's
later verdict on an item replaces their earlier one when the report is computed.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wsdata.io import fs
from wsdata.io.textenc import loads_json
from wsdata.layout import Layout

CHOICES = ("right", "wrong", "unsure")  # was the decision (keep or reject) right?
_SURROGATE = re.compile("[\ud800-\udfff]")


def free_text(text: str) -> str:
    """A note or name as typed (a browser's JSON, a terminal, $USER), storable as UTF-8: NFC, and a
    lone UTF-16 surrogate (valid in JSON, not in UTF-8) replaced by U+FFFD, as crawled text is."""
    return unicodedata.normalize("NFC", _SURROGATE.sub("\ufffd", text))


MAX_VERDICTS_BYTES = 512 << 20  # verdicts.jsonl is read whole: about a million verdicts with notes


class VerdictsError(Exception):
    """The build folder's verdicts.jsonl (or quarantine.txt) cannot be used: a link, not a regular
    file, or larger than MAX_VERDICTS_BYTES. The message says which; nothing was read or written."""


def open_for_append(path: Path, mode: int = os.O_WRONLY) -> int:
    """A descriptor appending to `path` (created if absent), which must be a regular file of its own:
    a build folder from someone else could hold a link named verdicts.jsonl to ~/.bashrc, or a FIFO.
    VerdictsError otherwise."""
    try:
        fd = os.open(path, mode | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as e:  # ELOOP: a link; ENXIO: a FIFO nobody reads; EACCES ...
        why = "is a symbolic link" if e.errno == errno.ELOOP else f"cannot be opened ({e.strerror})"
        raise VerdictsError(f"{path} {why}: only a regular file of the build folder is written") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise VerdictsError(f"{path} is not a regular file: nothing is written to it")
    os.set_blocking(fd, True)
    return fd


def read_own(path: Path, limit: int = MAX_VERDICTS_BYTES) -> bytes | None:
    """The bytes of a file the review keeps in the build folder (verdicts, quarantine), None when it
    is absent; VerdictsError when it is a link, not a regular file, or larger than `limit`."""
    if path.is_symlink():
        raise VerdictsError(f"{path} is a symbolic link: only a regular file of the build folder is read")
    try:
        return fs.read_bytes(str(path), limit)
    except FileNotFoundError:
        return None
    except (fs.NotAFile, fs.TooLarge) as e:
        raise VerdictsError(str(e)) from None
    except OSError as e:  # permissions, a loop of links above it
        raise VerdictsError(f"{path} cannot be read ({e.strerror or e})") from None


def append(out: Path, item: dict[str, Any], verdict: str, reviewer: str, note: str = "") -> dict[str, Any]:
    if verdict not in CHOICES:
        raise ValueError(f"verdict {verdict!r} is not one of {CHOICES}")
    rec = {
        "item_id": item["item_id"],
        "position": item["position"],
        "stratum": item["stratum"],
        "source": item["source"],
        "decision": item["decision"],
        "verdict": verdict,
        "note": free_text(note),
        "reviewer": free_text(reviewer),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    line = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
    path = Layout(out).verdicts
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_for_append(path, os.O_RDWR)  # RDWR: the last-byte check
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by close
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":  # a torn last line (disk full) stays alone
            line = b"\n" + line
        written = os.write(fd, line)
        if written != len(line):  # a full disk: say so rather than leave a torn line unremarked
            raise OSError(f"{path}: wrote {written} of {len(line)} bytes of a verdict")
        os.fsync(fd)
    finally:
        os.close(fd)
    return rec


# A verdict line's fields and the types they must have; anything else is not a verdict.
_FIELDS: dict[str, tuple[type, ...]] = {
    "item_id": (str,),
    "stratum": (str,),
    "source": (str, type(None)),
    "decision": (str,),
    "reviewer": (str,),
}


def load(out: Path) -> list[dict[str, Any]]:
    """Every valid verdict of build folder `out`, in file order; see `load_counted`."""
    return load_counted(out)[0]


def load_counted(out: Path) -> tuple[list[dict[str, Any]], int]:
    """(every valid verdict in file order, the number of lines skipped). A line is skipped when it
    is not UTF-8 (a torn last line ends inside a character), not JSON, or not a verdict of the
    shape `append` writes: the file is shared and edited, and must never stop a review."""
    data = read_own(Layout(out).verdicts)
    if data is None:
        return [], 0
    records, skipped = [], 0
    for raw in data.splitlines():
        try:
            rec = loads_json(raw.decode("utf-8"))  # a lone surrogate escape becomes U+FFFD
        except ValueError:  # not UTF-8 (UnicodeDecodeError), not JSON, nested too deeply
            rec = None
        if _is_verdict(rec):
            records.append(rec)
        elif raw.strip():
            skipped += 1
    return records, skipped


def _is_verdict(rec: Any) -> bool:
    return (
        isinstance(rec, dict)
        and rec.get("verdict") in CHOICES
        and all(isinstance(rec.get(k), types) for k, types in _FIELDS.items())
    )


def judged(out: Path) -> set[str]:
    """The ids of the items anyone has judged."""
    return {r["item_id"] for r in load(out)}


def latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each reviewer's last verdict on each item."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        last[(r["item_id"], r["reviewer"])] = r
    return list(last.values())
