"""The bundled vocabulary: OpenAI's ids; tokenizers that are not multilingual Whisper ones are refused."""

from __future__ import annotations

import json

import pytest

from wsdata.vocab import Vocab

V = Vocab.bundled()


def test_vocabulary_ids_are_openais():
    assert (V.eot, V.sot, V.lang("en"), V.lang("fr"), V.translate, V.transcribe) == (
        50257,
        50258,
        50259,
        50265,
        50358,
        50359,
    )
    assert (V.prev, V.nospeech, V.notimestamps, V.ts_begin, V.n_vocab) == (50361, 50362, 50363, 50364, 51865)
    assert len(V.langs) == 99 and V.lang("jv") == V.langs["jw"]
    assert V.timestamp(0) == 50364 and V.timestamp(30_000) == 51864 and V.timestamp(1_010) == 50364 + 50
    assert V.encode("Hello world.") == [2425, 1002, 13] and V.decode(V.encode("Hello world.")) == "Hello world."
    with pytest.raises(KeyError, match="'xx'"):
        V.lang("xx")


def _without(drop) -> str:
    j = json.loads(V.json_text)
    j["added_tokens"] = [t for t in j["added_tokens"] if not drop(t["content"])]
    return json.dumps(j)


def test_english_only_and_foreign_tokenizers_are_refused():
    with pytest.raises(ValueError, match="English-only"):
        Vocab.from_json(_without(lambda t: t[2:-2] in V.langs))
    with pytest.raises(ValueError, match="no <\\|startofprev\\|>"):
        Vocab.from_json(_without(lambda t: t == "<|startofprev|>"))
