"""Paths and URIs: local files directly, everything else (s3://, gs://, http(s)://) through fsspec."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import fsspec

_REMOTE_HINT = "://"


def resolve(path_or_uri: str, base_dir: Path) -> str:
    """A crawl field's path made absolute: relative paths against the crawl file's folder."""
    if path_or_uri.startswith("file://"):
        return path_or_uri[len("file://") :]
    if _REMOTE_HINT in path_or_uri:
        return path_or_uri
    p = Path(path_or_uri).expanduser()
    return str(p if p.is_absolute() else base_dir / p)


def is_local(uri: str) -> bool:
    return _REMOTE_HINT not in uri


class NotAFile(OSError):
    """A local path that is a folder, device, FIFO or socket: reading it could block or never end."""


class TooLarge(OSError):
    """More bytes than the caller's limit: the rest is never read."""


def _regular(uri: str) -> os.stat_result:
    """`os.stat` of a regular file; NotAFile for anything else (FileNotFoundError when absent)."""
    st = os.stat(uri)
    if not stat.S_ISREG(st.st_mode):
        kinds = (
            (stat.S_ISDIR, "folder"),
            (stat.S_ISFIFO, "FIFO"),
            (stat.S_ISCHR, "character device"),
            (stat.S_ISBLK, "block device"),
            (stat.S_ISSOCK, "socket"),
        )
        kind = next((name for test, name in kinds if test(st.st_mode)), "special file")
        raise NotAFile(f"{uri} is a {kind}, not a regular file")
    return st


def size(uri: str) -> int | None:
    """Size in bytes, or None when the file does not exist. Raises NotAFile for a local path that is
    no regular file, OSError when unreachable."""
    if is_local(uri):
        try:
            return _regular(uri).st_size
        except FileNotFoundError:
            return None
    fs, path = fsspec.core.url_to_fs(uri)
    if not fs.exists(path):
        return None
    return int(fs.size(path) or 0)


def read_bytes(uri: str, limit: int) -> bytes:
    """The whole file, if it holds at most `limit` bytes; TooLarge otherwise, after reading at most
    limit + 1 of them. A local path must be a regular file (NotAFile)."""
    if is_local(uri):
        _regular(uri)
        with open(uri, "rb") as f:
            data = f.read(limit + 1)
    else:
        with fsspec.open(uri, "rb") as f:
            data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{uri} holds more than {limit:,} bytes")
    return data


@contextlib.contextmanager
def local_copy(uri: str) -> Iterator[str]:
    """A local path for `uri`: the file itself, or a temporary download (ffmpeg needs to seek)."""
    if is_local(uri):
        yield uri
        return
    suffix = Path(uri.split("?", 1)[0]).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with fsspec.open(uri, "rb") as src:
            shutil.copyfileobj(src, tmp, length=1 << 20)
        tmp.flush()
        yield tmp.name
