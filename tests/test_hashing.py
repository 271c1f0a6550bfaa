"""The stable hash decides held-out documents, no-speech sampling, review samples and exact-duplicate
keys: its values are pinned, since a change would silently reshuffle every existing corpus."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from wsdata.hashing import MAX, stable_hash, stable_hash_signed, unit_interval
from wsdata.languages import iso, whisper


def test_pinned_values():
    assert stable_hash("wsdata-split-v1:yt-Uo9P_bgKdA6") == 1320558224183236120
    assert stable_hash_signed("a b c") == 3516195607690045812


@given(st.text())
def test_signed_is_the_twos_complement_of_the_same_bits(text):
    h = stable_hash(text)
    assert 0 <= h < MAX and 0 <= unit_interval(text) < 1
    want = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)
    assert stable_hash_signed(text) == want and stable_hash_signed(text) % MAX == h


def test_language_codes_one_table():
    assert [iso(c) for c in ("jw", "iw", "nb", "fr")] == ["jv", "he", "no", "fr"]
    assert [whisper(c) for c in ("jv", "he", "no", "fr")] == ["jw", "he", "no", "fr"]


def test_whisper_languages_are_the_bundled_vocabularys():
    from wsdata.languages import WHISPER_LANGUAGES
    from wsdata.vocab import Vocab

    assert WHISPER_LANGUAGES == {iso(code) for code in Vocab.bundled().langs}
