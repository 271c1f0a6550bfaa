"""MinHash signatures of word n-grams, computed for a batch of texts at once with numpy.

The permutations and their arithmetic are datasketch's (`MinHash`, default scheme "affine32":
MurmurHash3's 32-bit finaliser, then h -> a*h + b mod 2^32, minimum per permutation), taken from
datasketch itself, so a signature here equals `datasketch.MinHash(num_perm, seed,
hashfunc=shingle_hash32)` fed the same shingles one by one (tests/dedup/test_minhash.py). What
differs is the shingle hash: a polynomial hash of each word's UTF-8 bytes and a mix of n word
hashes, vectorised over every word of the batch, instead of one SHA-1 call per shingle.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np

from wsdata.cache import cached, package_version
from wsdata.hashing import stable_hash_signed

# A token: one CJK ideograph or kana (those scripts have no spaces), else a run of letters/digits.
_BLOCK = 8192  # shingles per block in `signatures`
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")
_P = np.uint64(1099511628211)  # FNV prime: multiplier of the per-word polynomial hash
_M = np.uint64(0xFFFFFFFFFFFFFFFF)
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_NGRAM = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0x27D4EB2F165667C5,
        0x85EBCA77C2B2AE63,
        0xFF51AFD7ED558CCD,
        0xC4CEB9FE1A85EC53,
        0xD6E8FEB86659FD93,
    ],
    dtype=np.uint64,
)


def tokens(text: str) -> list[str]:
    """Normalised words for dedup: NFKC, case-folded, punctuation dropped (the target stays raw)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def exact_key(words: list[str]) -> int:
    """64-bit key of the normalised word sequence: equal keys are exact duplicates."""
    return stable_hash_signed(" ".join(words))


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX[0]
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX[1]
    return x ^ (x >> np.uint64(31))


def shingle_hashes(docs: list[list[str]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every word n-gram of every document, and the start of each document's run.

    A document shorter than n words gives one shingle of all its words; an empty one gives none.
    Returns (hashes uint64 (total,), starts int64 (len(docs),)).
    """
    if not 1 <= n <= len(_NGRAM):
        raise ValueError(f"n-gram size {n} not in [1, {len(_NGRAM)}]")
    lens = np.array([len(d) for d in docs], dtype=np.int64)
    flat = [w for d in docs for w in d]
    if not flat:
        return np.zeros(0, np.uint64), np.zeros(len(docs), np.int64)
    # One UTF-8 buffer with a NUL after each word (tokens never hold one): no per-word encode call.
    data8 = np.frombuffer(("\x00".join(flat)).encode("utf-8"), dtype=np.uint8)
    seps = np.flatnonzero(data8 == 0)
    wstart = np.concatenate(([0], seps + 1))
    wlen = np.append(seps, len(data8)) - wstart
    span = np.append(wlen[:-1] + 1, wlen[-1])  # bytes up to the next word: the word and its NUL
    pos = np.arange(len(data8), dtype=np.int64) - np.repeat(wstart, span)  # the NUL adds 0 * P^len
    data = data8.astype(np.uint64)
    with np.errstate(over="ignore"):  # every product below wraps mod 2^64 on purpose
        powers = np.full(int(wlen.max()) + 1, _P, dtype=np.uint64)
        powers[0] = 1
        powers = np.cumprod(powers, dtype=np.uint64)  # P^0, P^1, ... mod 2^64
        words = _splitmix(np.add.reduceat(data * powers[pos], wstart) + wlen.astype(np.uint64))
        # n-gram k of a document: words k..k+n-1 combined with fixed odd multipliers, then mixed.
        dstart = np.concatenate(([0], np.cumsum(lens)[:-1]))
        n_sh = np.where(lens >= n, lens - n + 1, np.minimum(lens, 1))  # shingles per document
        first = np.repeat(dstart, n_sh) + (np.arange(n_sh.sum()) - np.repeat(np.cumsum(n_sh) - n_sh, n_sh))
        width = np.repeat(np.minimum(lens, n), n_sh)  # words in each shingle (< n for short docs)
        acc = np.zeros(len(first), dtype=np.uint64)
        for j in range(n):
            take = j < width
            acc[take] += words[first[take] + j] * _NGRAM[j]
        out = _splitmix(acc)
    return out, np.concatenate(([0], np.cumsum(n_sh)[:-1])).astype(np.int64)


def shingle_hash32(shingle: bytes) -> int:
    """The same 32-bit shingle hash for one shingle (words joined by spaces), for datasketch's
    `hashfunc`: the scalar twin of `shingle_hashes`, used to check it."""
    words = shingle.decode("utf-8").split(" ")
    h, _ = shingle_hashes([words], len(words))
    return int(h[0] >> np.uint64(32))


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (datasketch's pre-mix for the affine32 scheme)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@functools.lru_cache(maxsize=4)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own permutation parameters (a, b), uint32 (num_perm,) each. Kept in wsdata's
    cache (wsdata/cache.py): importing datasketch pulls in scipy, 0.5 CPU s per process."""

    def derive() -> dict[str, np.ndarray]:
        from datasketch import MinHash

        m = MinHash(num_perm=num_perm, seed=seed)
        if getattr(m, "scheme", "affine32") != "affine32":
            raise RuntimeError(f"datasketch's default MinHash scheme is {m.scheme!r}; wsdata follows 'affine32'")
        a, b = m.permutations
        return {"a": a.astype(np.uint32), "b": b.astype(np.uint32)}

    got = cached("minhash-permutations", f"datasketch {package_version('datasketch')} {num_perm} {seed}", derive)
    return got["a"], got["b"]


def signatures(docs: list[list[str]], n: int, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures, uint32 (len(docs), num_perm); an empty document's row is all 2^32-1."""
    h64, starts = shingle_hashes(docs, n)
    out = np.full((len(docs), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    if len(h64) == 0:
        return out
    a, b = permutations(num_perm, seed)
    h = _fmix32((h64 >> np.uint64(32)).astype(np.uint32))
    ends = np.append(starts[1:], len(h))
    # Documents in blocks of ~8k shingles: the (shingles, num_perm) products stay in cache, and
    # multiply, add and min run in place on one buffer.
    buf = np.empty((_BLOCK, num_perm), dtype=np.uint32)
    i = 0
    while i < len(docs):
        j = int(np.searchsorted(ends, starts[i] + _BLOCK, side="right"))
        j = max(j, i + 1)  # one document longer than a block gets a block of its own
        lo, hi = int(starts[i]), int(ends[j - 1])
        block = buf[: hi - lo] if hi - lo <= _BLOCK else np.empty((hi - lo, num_perm), dtype=np.uint32)
        np.multiply(h[lo:hi, None], a, out=block)
        np.add(block, b, out=block)
        nonempty = np.flatnonzero(ends[i:j] > starts[i:j]) + i
        out[nonempty] = np.minimum.reduceat(block, starts[nonempty] - lo, axis=0)
        i = j
    return out


# LSH finds candidates; each candidate pair is then verified on its full signatures (estimated
# Jaccard >= threshold), which removes the false positives. So the bands are chosen to miss few
# true pairs: false negatives weigh 0.9 in datasketch's optimiser, false positives 0.1.
LSH_WEIGHTS = (0.1, 0.9)


@functools.lru_cache(maxsize=4)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) for a Jaccard threshold, by datasketch's own optimiser with `LSH_WEIGHTS`
    (kept in wsdata's cache, as the permutations are)."""

    def derive() -> dict[str, np.ndarray]:
        from datasketch.lsh import _optimal_param

        return {"bands_rows": np.array(_optimal_param(threshold, num_perm, *LSH_WEIGHTS), dtype=np.int64)}

    key = f"datasketch {package_version('datasketch')} {threshold!r} {num_perm} {LSH_WEIGHTS}"
    bands, rows = cached("lsh-params", key, derive)["bands_rows"].tolist()
    return int(bands), int(rows)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of equal MinHash values, row by row: the unbiased Jaccard estimate. (n, P) -> (n,)."""
    return (a == b).mean(axis=1)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band: equal keys = equal band (the LSH bucket). int64 (n, bands)."""
    n = sig.shape[0]
    blocks = sig[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        acc = np.zeros((n, bands), dtype=np.uint64)
        for r in range(rows):
            acc = _splitmix(acc ^ blocks[:, :, r] + np.uint64(r + 1) * _NGRAM[r % len(_NGRAM)])
    return acc.view(np.int64)
