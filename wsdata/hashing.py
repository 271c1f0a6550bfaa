"""One stable hash for every deterministic choice: held-out documents, no-speech sub-sampling,
review samples, repeated ids and exact-duplicate keys.

Python's `hash()` changes with PYTHONHASHSEED; these must be the same on every machine, process
and rerun, so they are blake2b digests read as integers.
"""

from __future__ import annotations

import hashlib
import re

MAX = 2**64  # stable_hash(...) is in [0, MAX)


def stable_hash(text: str) -> int:
    """Unsigned 64-bit hash of `text`."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def stable_hash_signed(text: str) -> int:
    """The same 64 bits as a signed integer (an Arrow/Polars int64 column)."""
    h = stable_hash(text)
    return h - MAX if h >= MAX // 2 else h


def unit_interval(text: str) -> float:
    """`text` mapped uniformly onto [0, 1): a seeded coin for fractions (held-out share)."""
    return stable_hash(text) / MAX


def file_stem(text: str, keep: str = "-", digits: int = 16) -> str:
    """`text` as a file name for any file system: word characters and `keep` as they are, the rest
    "_", at most 80 of them, then `digits` hex digits of its hash, so two long texts never share one."""
    readable = re.sub(rf"[^\w{re.escape(keep)}]+", "_", text, flags=re.ASCII)[:80]
    return f"{readable}-{stable_hash(text) % (16**digits):0{digits}x}"
