"""Arrays derived from installed packages, kept on disk so that a process does not derive them
again: langid's model (1.3 CPU s to unpack from its bz2 string, 20 ms to load from here) and
datasketch's MinHash permutations and LSH parameters (importing datasketch pulls in scipy).

The key names the package version and the inputs, so an upgrade derives anew. The folder is
$WSDATA_CACHE, else $XDG_CACHE_HOME/wsdata, else ~/.cache/wsdata. A cache that cannot be read or
written is not an error: the arrays are derived again. Files hold plain arrays (no pickles).
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from wsdata.hashing import stable_hash
from wsdata.io import atomic

Arrays = dict[str, np.ndarray]


def cache_dir() -> Path:
    if os.environ.get("WSDATA_CACHE"):
        return Path(os.environ["WSDATA_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wsdata"


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def cached(name: str, key: str, derive: Callable[[], Arrays]) -> Arrays:
    """`derive()`, or what it returned for the same `key` before."""
    path = cache_dir() / f"{name}-{stable_hash(key):016x}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError):  # none yet, or unreadable: derive it
        pass
    arrays = derive()
    try:
        with atomic.atomic_path(path, unique=True) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    except OSError:  # a read-only home: derive it each time
        pass
    return arrays
