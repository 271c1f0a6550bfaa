"""The agree stage with a stand-in model: segments of many documents go to the model in shared
batches, a document is kept or rejected by its error rates, a translation is never judged, and a
model that fails turns its batch into agree.internal_error rejects while the build goes on."""

from __future__ import annotations

import json

import pytest

from tests.helpers import SOURCE, all_rows, funnel_holds
from wsdata import config
from wsdata.orchestrate import build
from wsdata.stages import agree as agree_stage
from wsdata.verify import check_accounting


class Model:
    """Transcribes by lookup: each clip's caption is found by its length (one per segment)."""

    kind = "stand-in"

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[int] = []

    def transcribe(self, clips, languages, translate=None):
        self.calls.append(len(clips))
        return [self.answer(len(c)) for c in clips]

    def timed(self, clips, languages):
        return [[] for _ in clips]  # no timed words: re-timing measures nothing and moves nothing


def run(tmp_path, monkeypatch, answer, **agree) -> tuple[Model, dict, list, list]:
    model = Model(answer)
    monkeypatch.setattr(agree_stage, "load_audio_lid", lambda spec, device: model)
    cfg = config.override(
        config.load("default"), {"agree.asr": "stand-in", **{f"agree.{k}": v for k, v in agree.items()}}
    )
    stats = build(SOURCE, tmp_path, cfg, progress=False)
    assert check_accounting(tmp_path, SOURCE) == []
    funnel_holds(stats)
    return (model, stats, *all_rows(tmp_path))


def test_batches_gather_segments_across_documents(tmp_path, monkeypatch):
    model, stats, kept, rejects = run(tmp_path, monkeypatch, lambda n: "words the caption never says", batch_size=4)
    speech = stats["funnel"][-2]["segments_in"] - stats["funnel"][-2]["segments_rejected"]  # what reached agree
    assert sum(model.calls) == speech > 4
    assert max(model.calls) == 4 and len(model.calls) == -(-speech // 4)  # full batches, one call each
    # Every caption disagrees with the model: nothing but translations is kept.
    assert {r["task"] for r in kept} <= {"translate"}
    assert (
        stats["documents"]["rejected_by_reason"].get("agree.document_wer", 0)
        + stats["documents"]["rejected_by_reason"].get("agree.segment_wer", 0)
        >= 1
    )
    checked = [r for r in rejects if r["stage"] == "agree" and r["segment_id"]]
    assert checked and all(r["asr_text"] == "words the caption never says" and r["asr_wer"] > 0.8 for r in checked)


def test_agreeing_captions_are_kept_with_their_wer(tmp_path, monkeypatch):
    texts: dict[int, str] = {}

    def echo(n: int) -> str:  # the stand-in "hears" the caption of the segment of that length
        return texts.get(n, "")

    real = agree_stage.AgreeCheck._transcribe

    def remember(self, batch):
        for _doc, segs in batch:
            for s in agree_stage.checkable(segs):
                texts[(s.end_ms - s.start_ms) * 16] = s.text
        real(self, batch)

    monkeypatch.setattr(agree_stage.AgreeCheck, "_transcribe", remember)
    _, stats, kept, _ = run(tmp_path, monkeypatch, echo)
    assert "agree.document_wer" not in stats["documents"]["rejected_by_reason"]
    speech = [r for r in kept if not r["no_speech"]]
    assert speech and all(r["asr_wer"] == 0.0 or r["task"] == "translate" for r in speech)
    assert all(json.loads(r["evidence"]).get("asr_wer") is not None for r in speech if r["task"] == "transcribe")


def test_a_failing_model_rejects_its_batch_and_the_build_goes_on(tmp_path, monkeypatch):
    def boom(n: int) -> str:
        raise RuntimeError("out of memory on the device")

    _, _stats, kept, rejects = run(tmp_path, monkeypatch, boom)
    assert not kept
    failed = [r for r in rejects if r["reason"] == "agree.internal_error"]
    assert failed and all("out of memory" in r["detail"] for r in failed)


@pytest.mark.parametrize("key, bad", [("segment_max_wer", 0), ("document_max_wer_by_language", {"ru": -1})])
def test_thresholds_are_validated(key, bad):
    with pytest.raises(config.ConfigError, match=f"agree.{key}"):
        config.override(config.BuildConfig(), {f"agree.{key}": bad})
