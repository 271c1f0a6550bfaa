"""Paths and URIs: local files directly, everything else (s3://, gs://, http(s)://) through fsspec."""

from __future__ import annotations

import contextlib
import os
import shutil
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


def size(uri: str) -> int | None:
    """Size in bytes, or None when the file does not exist. Raises OSError when unreachable."""
    if is_local(uri):
        try:
            st = os.stat(uri)
        except FileNotFoundError:
            return None
        if not os.path.isfile(uri):
            raise IsADirectoryError(f"{uri} is a directory")
        return st.st_size
    fs, path = fsspec.core.url_to_fs(uri)
    if not fs.exists(path):
        return None
    return int(fs.size(path) or 0)


def read_bytes(uri: str) -> bytes:
    if is_local(uri):
        return Path(uri).read_bytes()
    with fsspec.open(uri, "rb") as f:
        return f.read()


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
