"""The paper's multitask target, token by token."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import speech_rows
from wsdata.constants import MAX_TARGET_TOKENS
from wsdata.datamodel import Cue, Segment
from wsdata.hygiene import count_tokens
from wsdata.train.targets import IGNORE, BadRow, target
from wsdata.vocab import Vocab, target_length

V = Vocab.bundled()


class Always(random.Random):
    """An rng whose draws are all below p (prev text and timestamps always used), or none."""

    def __init__(self, value: float):
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


ROW = {
    "id": "d/00001",
    "text": "Hello world. Bye.",
    "prev_text": "Before.",
    "language": "en",
    "task": "transcribe",
    "no_speech": False,
    "timestamps": [
        {"start_ms": 200, "end_ms": 1000, "text": "Hello world."},
        {"start_ms": 1500, "end_ms": 2010, "text": "Bye."},
    ],
}


def test_transcribe_with_timestamps_and_previous_text():
    ids, labels = target(ROW, V, Always(0.0))
    prev = [V.prev, *V.encode("Before.")]
    body = [
        V.sot,
        V.lang("en"),
        V.transcribe,
        V.timestamp(200),
        *V.encode("Hello world."),
        V.timestamp(1000),
        V.timestamp(1500),
        *V.encode("Bye."),
        V.timestamp(2010),
        V.eot,
    ]
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


def test_last_cue_past_the_window_gets_only_its_start():
    cues = [
        {"start_ms": 1000, "end_ms": 5000, "text": "Inside."},
        {"start_ms": 28_000, "end_ms": 31_500, "text": "Cut."},
    ]
    ids, labels = target(dict(ROW, prev_text="", timestamps=cues), V, Always(0.0))
    assert ids + labels[-1:] == [
        V.sot,
        V.lang("en"),
        V.transcribe,
        V.timestamp(1000),
        *V.encode("Inside."),
        V.timestamp(5000),
        V.timestamp(28_000),
        V.eot,
    ]


def test_long_prompt_yields_to_the_target():
    row = dict(ROW, prev_text="word " * 1000)
    ids, labels = target(row, V, Always(0.0))
    assert len(ids) + 1 <= 448 and ids[0] == V.prev and V.sot in ids
    assert labels[ids.index(V.sot)] == V.lang("en")


def test_rows_that_cannot_be_targets():
    with pytest.raises(BadRow, match="d/00001: target of 50[0-9] tokens > 448"):
        target(dict(ROW, text="word " * 500), V, Always(0.99))
    with pytest.raises(BadRow, match="d/00001: language 'xx'"):
        target(dict(ROW, language="xx"), V, Always(0.99))


SENTENCES = sorted({r["text"] for r in speech_rows()})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=12), st.sampled_from(["en", "fr", "ru"]))
def test_the_build_gate_counts_the_trainers_target(texts, lang):
    """One formula (wsdata.vocab.target_length): what the text gate counts for a kept segment is
    the length of the target the trainer builds from its row, with timestamps; without them, less."""
    cues = [Cue(i * 2000, i * 2000 + 1500, t) for i, t in enumerate(texts)]
    seg = Segment(0, 0, 30_000, cues)
    gate = target_length(count_tokens([seg.text])[0], 2 * len(cues))
    row = {
        "id": "d/0",
        "text": seg.text,
        "language": lang,
        "task": "transcribe",
        "timestamps": [{"start_ms": c.start_ms, "end_ms": c.end_ms, "text": c.text} for c in cues],
    }
    if gate > MAX_TARGET_TOKENS:  # the gate rejects it, and the trainer could not use it either
        with pytest.raises(BadRow, match=f"target of {gate} tokens"):
            target(row, V, Always(0.0))
        return
    with_ts, _ = target(row, V, Always(0.0))
    without_ts, _ = target(row, V, Always(1.0))
    assert len(with_ts) + 1 == gate  # input ids are the target less its last token
    assert len(without_ts) < len(with_ts)
