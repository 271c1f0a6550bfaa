"""MinHash signatures equal datasketch's, shingles behave, and LSH banding agrees with datasketch."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import speech_rows
from wsdata.dedup.minhash import band_keys, exact_key, lsh_params, shingle_hash32, shingle_hashes, signatures, tokens

TEXTS = [r["text"] for r in speech_rows()]


def datasketch_minhash(words: list[str], n: int, num_perm: int = 128, seed: int = 1) -> MinHash:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash32)
    shingles = [" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))] if words else []
    for s in shingles:
        m.update(s.encode("utf-8"))
    return m


def test_tokens_normalise_case_punctuation_and_cjk():
    assert tokens("Hello, WORLD! It's 10:30.") == ["hello", "world", "it", "s", "10", "30"]
    assert tokens("ﬁne Straße") == ["fine", "strasse"]  # NFKC, then case folding
    assert tokens("お電話ありがとう") == list("お電話ありがとう")  # no spaces: one token per character
    assert exact_key(tokens("Hello, world.")) == exact_key(tokens("hello world"))


@pytest.mark.parametrize("n", [1, 3, 5])
def test_signatures_equal_datasketch_on_real_text(n):
    docs = [tokens(t) for t in TEXTS] + [[], tokens("Sì.")]
    sig = signatures(docs, n, 128, 1)
    for words, row in zip(docs, sig):
        assert np.array_equal(datasketch_minhash(words, n).hashvalues, row)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.text(alphabet="abcé жы", min_size=1, max_size=6).map(str.strip).filter(bool), max_size=30),
        min_size=1,
        max_size=8,
    )
)
def test_signatures_equal_datasketch_on_any_words(docs):
    docs = [[w for w in d if " " not in w] for d in docs]
    sig = signatures(docs, 3, 64, 7)
    for words, row in zip(docs, sig):
        assert np.array_equal(datasketch_minhash(words, 3, 64, 7).hashvalues, row)


def test_short_and_empty_documents():
    h, starts = shingle_hashes([["a"], [], ["a", "b", "c", "d"]], 3)
    assert list(starts) == [0, 1, 1] and len(h) == 1 + 0 + 2


def test_lsh_params_come_from_datasketch():
    from datasketch.lsh import _optimal_param

    assert lsh_params(0.8, 128) == _optimal_param(0.8, 128, 0.1, 0.9) == (14, 9)
    b, r = lsh_params(0.5, 256)
    assert b * r <= 256
    # Recall-leaning bands: a pair at the threshold is a candidate with probability >= 0.85.
    b, r = lsh_params(0.8, 128)
    assert 1 - (1 - 0.8**r) ** b >= 0.85


def test_band_keys_bucket_like_datasketch_lsh():
    """Two documents share a band key exactly when datasketch's MinHashLSH returns them as candidates."""
    rng = np.random.default_rng(0)
    base = [tokens(t) for t in TEXTS[:60]]
    docs = []
    for words in base:  # each text, and a copy with 0, 1 or 3 words replaced
        docs.append(words)
        edited = list(words)
        for _ in range(int(rng.integers(0, 4))):
            if edited:
                edited[int(rng.integers(len(edited)))] = "zzz"
        docs.append(edited)
    b, r = lsh_params(0.5, 128)
    sig = signatures(docs, 1, 128, 1)
    assert b > 1
    keys = band_keys(sig, b, r)
    lsh = MinHashLSH(threshold=0.5, num_perm=128, params=(b, r))
    hashes = []
    for i, words in enumerate(docs):
        m = datasketch_minhash(words, 1)
        hashes.append(m)
        lsh.insert(i, m)
    for i in range(len(docs)):
        theirs = set(lsh.query(hashes[i])) - {i}
        ours = {j for j in range(len(docs)) if j != i and (keys[i] == keys[j]).any()}
        assert ours == theirs
