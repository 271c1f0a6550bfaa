"""The language stage: text LID on real transcripts, and the routing rule with a stand-in audio model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.helpers import speech_rows
from wsdata import config
from wsdata.datamodel import Cue, Document, Segment, Transcript
from wsdata.io.pcm import Pcm
from wsdata.lid import text_language
from wsdata.stages import language as language_stage
from wsdata.stages.language import LanguageRoute

CFG = config.load("default")
TEXT = {r["lang"]: [] for r in speech_rows()}
for r in speech_rows():
    TEXT[r["lang"]].append(r["text"])


@pytest.mark.parametrize("lang", ["en", "es", "fr", "it", "ru"])
def test_text_language_of_real_transcripts(lang):
    got, p = text_language(" ".join(TEXT[lang]))
    assert got == lang and p > 0.99


class FakeLid:
    kind = "fake"

    def __init__(self, dist: dict[str, float]):
        self.dist, self.calls = dist, []

    def probs(self, clips):
        self.calls.append([len(c) for c in clips])
        return [dict(self.dist) for _ in clips]


def route(text_lang: str, claim: str | None, audio: dict[str, float] | None, **lang_cfg):
    lid = FakeLid(audio) if audio else None
    cfg = dataclasses.replace(
        CFG, language=dataclasses.replace(CFG.language, audio_lid="fake" if audio else "", **lang_cfg)
    )
    text = " ".join(TEXT[text_lang])
    segs = [
        Segment(i, i * 10_000, (i + 1) * 10_000, [Cue(i * 10_000, i * 10_000 + 9000, t)], speech_ratio=0.5 + i / 100)
        for i, t in enumerate(TEXT[text_lang][:5])
    ]
    d = Document("d", 1, "a.wav", "t.srt", None, claim, "manual", "s", transcript=Transcript("srt", [], text))
    d.samples = Pcm.of(np.zeros(16 * 60_000, dtype=np.int16))
    orig = language_stage.load_audio_lid
    language_stage.load_audio_lid = lambda spec, device: lid
    try:
        rej = LanguageRoute(cfg)(d, segs)
    finally:
        language_stage.load_audio_lid = orig
    return (rej.reason if rej else (d.evidence["task"], d.evidence["language"])), d, segs, lid


def test_same_language_is_transcribe():
    got, d, segs, lid = route("fr", "fr", {"fr": 0.95, "en": 0.05})
    assert got == ("transcribe", "fr")
    assert d.evidence["audio_language"] == "fr" and d.evidence["spoken_from"] == "audio"
    assert all(s.text_language and s.text_language[0] == "fr" for s in segs)
    assert lid.calls == [[160_000]]  # one confident segment is enough
    assert d.evidence["audio_lid_segments"] == 1


def test_an_unsure_first_segment_brings_in_the_next_ones():
    got, d, _, lid = route("fr", "fr", {"fr": 0.7, "en": 0.3})
    assert got == ("transcribe", "fr")
    assert lid.calls == [[160_000], [160_000] * 2]  # the best segment, then the next 2 in one batch
    assert d.evidence["audio_lid_segments"] == 3


def test_english_text_over_other_audio_is_translate():
    assert route("en", None, {"fr": 0.9, "en": 0.1})[0] == ("translate", "fr")
    assert route("en", "en", {"es": 0.8, "en": 0.2})[0] == ("translate", "es")


def test_other_disagreements_are_mismatch():
    assert route("it", "es", {"es": 0.9, "it": 0.1})[0] == "language.mismatch"
    assert route("fr", "ru", {"ru": 0.97})[0] == "language.mismatch"
    # English audio under a French transcript is not a translation pair either (X -> en only).
    assert route("fr", "fr", {"en": 0.9})[0] == "language.mismatch"


def test_low_confidence_audio_falls_back_or_rejects():
    got, d, _, _ = route("fr", "fr", {"en": 0.4, "fr": 0.35, "es": 0.25})
    assert got == ("transcribe", "fr") and d.evidence["spoken_from"] == "claim"
    assert (
        route("fr", "fr", {"en": 0.4, "fr": 0.35, "es": 0.25}, on_low_confidence="reject")[0]
        == "language.low_confidence"
    )


def test_without_audio_model_the_claim_stands_in_for_the_audio():
    assert route("fr", None, None)[0] == ("transcribe", "fr")
    assert route("fr", "fr", None)[0] == ("transcribe", "fr")
    assert route("en", "ru", None)[0] == ("translate", "ru")
    assert route("fr", "ru", None)[0] == "language.mismatch"
    _, d, _, _ = route("it", "it", None)
    assert "audio_language" not in d.evidence


def test_uncertain_text_language_yields_to_the_claim():
    assert text_language("Sì.") == ("vi", pytest.approx(0.72, abs=0.01))  # real prompt: too short for langid
    d = Document("d", 1, "a.wav", "t.srt", None, "it", "manual", "s", transcript=Transcript("srt", [], "Sì."))
    d.samples = Pcm.of(np.zeros(16 * 3000, dtype=np.int16))
    seg = Segment(0, 0, 3000, [Cue(0, 1000, "Sì.")], speech_ratio=0.5)
    assert LanguageRoute(CFG)(d, [seg]) is None
    assert (d.evidence["task"], d.evidence["language"], d.evidence["written_from"]) == ("transcribe", "it", "claim")


def test_no_speech_segment_for_the_audio_model():
    lid_cfg = dataclasses.replace(CFG.language, audio_lid="fake")
    d = Document("d", 1, "a.wav", "t.srt", None, "fr", "manual", "s", transcript=Transcript("srt", [], TEXT["fr"][0]))
    seg = Segment(0, 0, 30_000, [], no_speech=True)
    rej = LanguageRoute(dataclasses.replace(CFG, language=lid_cfg))(d, [seg])
    assert rej is not None and rej.reason == "language.no_speech_for_lid"


def test_bad_language_settings_are_named():
    with pytest.raises(config.ConfigError, match="language.on_low_confidence"):
        config.from_dict({"language": {"on_low_confidence": "maybe"}})
    with pytest.raises(config.ConfigError, match="language.device"):
        config.from_dict({"language": {"device": "tpu"}})
