"""The vocabulary, the multitask target token by token, and the log-mel frontend."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from tests.lid.test_audio import clip, speech_rows
from wsdata.train.features import LogMel
from wsdata.train.targets import IGNORE, target
from wsdata.train.vocab import Vocab

V = Vocab.bundled()


def test_vocabulary_ids_are_openais():
    assert (V.eot, V.sot, V.lang("en"), V.lang("fr"), V.translate, V.transcribe) == (50257, 50258, 50259, 50265, 50358, 50359)
    assert (V.prev, V.nospeech, V.notimestamps, V.ts_begin, V.n_vocab) == (50361, 50362, 50363, 50364, 51865)
    assert len(V.langs) == 99 and V.lang("jv") == V.langs["jw"]
    assert V.timestamp(0) == 50364 and V.timestamp(30_000) == 51864 and V.timestamp(1_010) == 50364 + 50
    assert V.encode("Hello world.") == [2425, 1002, 13] and V.decode(V.encode("Hello world.")) == "Hello world."


class Always(random.Random):
    """An rng whose draws are all below p (prev text and timestamps always used), or none."""

    def __init__(self, value: float):
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


ROW = {"id": "d/00001", "text": "Hello world. Bye.", "prev_text": "Before.", "language": "en", "task": "transcribe",
       "no_speech": False, "timestamps": [{"start_ms": 200, "end_ms": 1000, "text": "Hello world."},
                                          {"start_ms": 1500, "end_ms": 2010, "text": "Bye."}]}  # fmt: skip


def test_transcribe_with_timestamps_and_previous_text():
    ids, labels = target(ROW, V, Always(0.0))
    prev = [V.prev, *V.encode("Before.")]
    body = [V.sot, V.lang("en"), V.transcribe, V.timestamp(200), *V.encode("Hello world."), V.timestamp(1000),
            V.timestamp(1500), *V.encode("Bye."), V.timestamp(2010), V.eot]  # fmt: skip
    seq = prev + body
    assert ids == seq[:-1]
    assert labels == [IGNORE] * len(prev) + seq[len(prev) + 1 :]  # no loss on the prompt, nor on predicting SOT
    assert V.timestamp(2010) == V.ts_begin + 100  # 20 ms steps, rounded


def test_no_timestamps_no_prev():
    ids, labels = target(ROW, V, Always(0.99))
    seq = [V.sot, V.lang("en"), V.transcribe, V.notimestamps, *V.encode("Hello world. Bye."), V.eot]
    assert ids == seq[:-1] and labels == seq[1:]


def test_translate_format():
    row = dict(ROW, language="fr", task="translate", prev_text="")
    ids, labels = target(row, V, Always(0.99))
    assert ids[:4] == [V.sot, V.lang("fr"), V.translate, V.notimestamps] and labels[-1] == V.eot


def test_no_speech_format():
    row = dict(ROW, no_speech=True, text="", timestamps=[], prev_text="Earlier words.")
    ids, labels = target(row, V, Always(0.99))
    assert ids == [V.sot, V.nospeech] and labels == [V.nospeech, V.eot]
    ids, labels = target(row, V, Always(0.0))  # with the previous text: masked
    n = 1 + len(V.encode("Earlier words."))
    assert ids[n:] == [V.sot, V.nospeech] and labels[:n] == [IGNORE] * n and labels[n:] == [V.nospeech, V.eot]


def test_long_prompt_yields_to_the_target():
    row = dict(ROW, prev_text="word " * 1000)
    ids, labels = target(row, V, Always(0.0))
    assert len(ids) + 1 <= 448 and ids[0] == V.prev and V.sot in ids
    assert labels[ids.index(V.sot)] == V.lang("en")


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_matches_transformers(n_mels):
    from transformers import WhisperFeatureExtractor

    rows = [r for r in speech_rows() if r["has_audio"] == "1"][:3]
    clips = [clip(r["lang"], r["key"]) for r in rows]
    want = WhisperFeatureExtractor(feature_size=n_mels)(clips, sampling_rate=16000, return_tensors="np").input_features
    padded = np.zeros((len(clips), 480_000), dtype=np.float32)
    for i, c in enumerate(clips):
        padded[i, : len(c)] = c
    got = LogMel(n_mels)(torch.from_numpy(padded)).numpy()
    assert got.shape == want.shape == (3, n_mels, 3000)
    assert np.abs(got - want).max() < 1e-4
