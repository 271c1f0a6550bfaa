"""Caption offsets from timed words: alignment, the median per window, the refinement on voice
activity, the shift itself; and, with the real Whisper-base, a real recording whose captions are
moved by +2.5 s and -4 s is re-timed to within 200 ms, and a drifting track is agree.misaligned."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import EN_AUDIO, EN_SRT, all_rows, funnel_holds
from wsdata import config
from wsdata.agree.timing import estimate, matched_offsets, refine, shifted, words_of
from wsdata.datamodel import Cue
from wsdata.orchestrate import build
from wsdata.verify import check_accounting


def test_words_are_timed_inside_their_span_and_matched_in_order():
    caption = words_of([(1000, 3000, "Press the key to continue."), (4000, 5000, "Goodbye.")], "en")
    assert caption == [
        (1000, "press"),
        (1400, "the"),
        (1800, "key"),
        (2200, "to"),
        (2600, "continue"),
        (4000, "goodbye"),
    ]
    model = words_of([(3500, 5500, "Please press the key to continue."), (6500, 7500, "Goodbye!")], "en")
    # "please" has no partner; the others are 2.5-2.8 s late, by where they fall in their spans
    assert matched_offsets(caption, model) == [2833, 2766, 2700, 2633, 2566, 2500]


def test_the_estimate_is_the_median_of_window_medians():
    def window(offset: int, n: int = 8) -> tuple:
        caption = [(i * 500, f"w{i}") for i in range(n)]
        return caption, [(t + offset, w) for t, w in caption]

    off = estimate([window(2000), window(2100), window(1900)])
    assert (off.shift_ms, sorted(off.per_window), off.matches) == (2000, [1900, 2000, 2100], 24)
    assert estimate([window(2000, n=3)]).shift_ms is None  # too few words to say


def test_refine_lines_cues_up_with_voiced_frames():
    speech = np.zeros(400, dtype=bool)  # 12 s of 30 ms frames
    for a, b in ((1000, 3000), (5000, 8000)):
        speech[a // 30 : b // 30] = True
    cues = [Cue(1700, 3700, "a"), Cue(5700, 8700, "b")]  # 700 ms late
    assert abs(refine(-400, cues, speech) - (-700)) <= 30
    assert shifted(cues, -1800) == [Cue(0, 1900, "a"), Cue(3900, 6900, "b")]
    assert shifted(cues, -4000) == [Cue(1700, 4700, "b")]


def moved(tmp: Path, name: str, f) -> Path:
    fmt = lambda t: f"{t // 3600000:02d}:{t // 60000 % 60:02d}:{t // 1000 % 60:02d},{t % 1000:03d}"
    ms = lambda h, m, s, x: ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(x)
    text = re.sub(r"(\d\d):(\d\d):(\d\d),(\d{3})", lambda m: fmt(max(1, f(ms(*m.groups())))), EN_SRT.read_text())
    path = tmp / f"{name}.srt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.model
def test_shifted_captions_of_a_real_recording_are_retimed(tmp_path, whisper_base):
    cases = {
        "same": lambda t: t,
        "late": lambda t: t + 2500,
        "early": lambda t: t - 4000,
        "drift": lambda t: t * 106 // 100,
    }
    src = tmp_path / "crawl.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": k, "audio": str(EN_AUDIO), "transcript": str(moved(tmp_path, k, f)), "language": "en"})
            + "\n"
            for k, f in cases.items()
        )
    )
    cfg = config.override(
        config.load("default"), {"agree.asr": whisper_base, "agree.device": "cpu", "dedup.enabled": False}
    )
    stats = build(src, tmp_path / "out", cfg, progress=False)
    assert check_accounting(tmp_path / "out", src) == []
    funnel_holds(stats)
    kept, rejects = all_rows(tmp_path / "out")
    shift = {r["doc_id"]: json.loads(r["evidence"]).get("time_shift_ms") for r in kept}
    assert shift["same"] == 0
    assert abs(shift["late"] - (-2500)) <= 200 and abs(shift["early"] - 4000) <= 200, shift
    (drift,) = [r for r in rejects if r["doc_id"] == "drift" and r["segment_id"] is None]
    assert drift["reason"] == "agree.misaligned" and "drifts" in drift["detail"]
    # Re-timed, the captions agree with the audio as well as the original ones do.
    wer = {r["doc_id"]: json.loads(r["evidence"])["asr_wer"] for r in kept}
    assert max(wer["late"], wer["early"]) <= wer["same"] + 0.1
