"""wsdata's cache of derived arrays: derived once, read back equal, derived again when unusable;
and what it holds for langid and datasketch equals what those packages compute."""

from __future__ import annotations

import numpy as np

from wsdata import cache


def test_derived_once_then_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("WSDATA_CACHE", str(tmp_path))
    calls = []

    def derive():
        calls.append(1)
        return {"a": np.arange(5, dtype=np.int64), "s": np.array(["x", "yz"])}

    first, again = cache.cached("t", "k1", derive), cache.cached("t", "k1", derive)
    assert len(calls) == 1 and np.array_equal(first["a"], again["a"]) and again["s"].tolist() == ["x", "yz"]
    cache.cached("t", "k2", derive)  # another key: derived anew
    assert len(calls) == 2
    for f in tmp_path.iterdir():
        f.write_bytes(b"not an npz")  # a damaged file is derived again, not an error
    assert cache.cached("t", "k1", derive)["a"].tolist() == [0, 1, 2, 3, 4] and len(calls) == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_unwritable_cache_still_derives(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("WSDATA_CACHE", str(blocker / "sub"))  # under a file: cannot be created
    assert cache.cached("t", "k", lambda: {"a": np.ones(2)})["a"].tolist() == [1.0, 1.0]


def test_cached_minhash_parameters_are_datasketchs():
    from datasketch import MinHash
    from datasketch.lsh import _optimal_param

    from wsdata.dedup.minhash import LSH_WEIGHTS, lsh_params, permutations

    a, b = permutations(128, 1)
    want_a, want_b = MinHash(num_perm=128, seed=1).permutations
    assert np.array_equal(a, want_a.astype(np.uint32)) and np.array_equal(b, want_b.astype(np.uint32))
    assert lsh_params(0.8, 128) == _optimal_param(0.8, 128, *LSH_WEIGHTS)


def test_cached_langid_model_classifies_as_langid():
    from langid.langid import LanguageIdentifier, model

    from wsdata.lid import text_language

    li = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    for text in ("Bonjour tout le monde, comment allez-vous ?", "Per favore inserisci il codice.", "Привет, мир!"):
        lang, p = li.classify(text)
        got = text_language(text)
        assert got[0] == lang and abs(got[1] - p) < 1e-9
