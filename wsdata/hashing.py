"""One stable hash for every deterministic choice: held-out documents, no-speech sub-sampling,
review samples, repeated ids and exact-duplicate keys.

Python's `hash()` changes with PYTHONHASHSEED; these must be the same on every machine, process
and rerun, so they are blake2b digests read as integers.
"""

from __future__ import annotations

import hashlib

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
