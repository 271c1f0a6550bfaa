"""The one atomic writer: a file (or folder) appears whole under its name, or not at all.

Everything is written under `NAME.tmp` beside its destination, synced, then renamed over it. A
killed build leaves only `*.tmp` files, which the next run deletes (`TMP_SUFFIX`), so a reader or
a resumed build never sees half a file. A completion marker is written this way last.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"


def tmp_path(path: Path, unique: bool = False) -> Path:
    """`NAME.tmp` beside `path`; `NAME.PID.tmp` when other processes may write the same file."""
    return path.with_name(path.name + (f".{os.getpid()}" if unique else "") + TMP_SUFFIX)


def commit(tmp: Path, path: Path) -> None:
    """Sync `tmp` (a file) to disk and rename it to `path`; a folder is renamed as it is."""
    if tmp.is_file():
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: Path, unique: bool = False) -> Iterator[Path]:
    """A temporary path to write `path` through; committed when the block ends without error.
    `unique`: a temporary name of this process's own, for files several processes may write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path, unique)
    remove(tmp)
    try:
        yield tmp
    except BaseException:
        remove(tmp)
        raise
    commit(tmp, path)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=1, ensure_ascii=False))
