"""Written-language ID: our fast path gives langid's own answer on real transcripts."""

from __future__ import annotations

import pytest

from tests.helpers import MINI, speech_rows
from wsdata.io.textenc import decode_text
from wsdata.lid import _langid, iso, text_language

TEXTS = [r["text"] for r in speech_rows()] + [decode_text(p.read_bytes())[0] for p in sorted((MINI / "subs").iterdir())]


@pytest.mark.parametrize("text", TEXTS)
def test_same_answer_as_langid(text):
    want_lang, want_p = _langid().classify(text)
    got_lang, got_p = text_language(text)
    assert got_lang == iso(want_lang) and got_p == pytest.approx(want_p, rel=1e-6, abs=1e-9)


def test_codes_are_iso_639_1():
    assert iso("jw") == "jv" and iso("nb") == "no" and iso("fr") == "fr"
