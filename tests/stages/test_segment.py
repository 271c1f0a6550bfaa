"""Segmentation invariants (property tests) and each segment.* reason on constructed inputs."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from wsdata.config import SegmentConfig
from wsdata.datamodel import Cue
from wsdata.stages.segment import cut, keep_no_speech
from wsdata.vad import SpeechMap

CFG = SegmentConfig()


def speech_everywhere(ms: int) -> SpeechMap:
    return SpeechMap(np.ones(ms // 30 + 1, dtype=bool))


def speech_in(ms: int, spans: list[tuple[int, int]]) -> SpeechMap:
    frames = np.zeros(ms // 30 + 1, dtype=bool)
    for a, b in spans:
        frames[a // 30 : b // 30] = True
    return SpeechMap(frames)


@st.composite
def documents(draw):
    """Sorted, non-overlapping cues (as the parser emits them), some over 30 s, gaps up to 70 s."""
    n = draw(st.integers(0, 40))
    t, cues = draw(st.integers(0, 5000)), []
    for i in range(n):
        t += draw(st.integers(0, 70_000) if draw(st.booleans()) else st.integers(0, 2000))
        d = draw(st.integers(1, 34_000) if draw(st.integers(0, 9)) == 0 else st.integers(1, 12_000))
        cues.append(Cue(t, t + d, f"cue{i}"))
        t += d
    duration = t + draw(st.integers(0, 40_000))
    # voice activity in runs of ~1 s, speech with a drawn probability (0 = silence, 1 = all speech)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    runs = rng.random(duration // 1000 + 1) < draw(st.sampled_from([0.0, 0.3, 0.9, 1.0]))
    return cues, duration, SpeechMap(np.repeat(runs, 34)[: duration // 30 + 1])


@settings(max_examples=300, deadline=None)
@given(documents())
def test_invariants(doc):
    cues, duration, speech = doc
    segs = cut(cues, duration, speech, CFG, key="doc")
    assert [s.index for s in segs] == list(range(len(segs)))
    for a, b in itertools.pairwise(segs):
        assert a.end_ms <= b.start_ms, "segments overlap"
    seen = []
    for s in segs:
        assert 0 <= s.start_ms < s.end_ms
        if not (s.reject and s.reject.reason == "segment.cue_too_long"):
            assert s.duration_ms <= CFG.max_ms
        for c in s.cues:  # timestamps inside the segment
            assert s.start_ms <= c.start_ms < c.end_ms <= s.end_ms
        if s.no_speech:
            assert s.cues == [] and s.duration_ms == CFG.max_ms
        seen += s.cues
    assert seen == cues, "every cue in exactly one segment, in order"


def test_no_speech_sampling_is_the_same_in_every_process():
    """The 1-in-N choice is a stable hash of the window, not Python's per-process `hash()`."""
    here = [keep_no_speech(f"doc/{i * 30_000}", 10) for i in range(400)]
    code = (
        "from wsdata.stages.segment import keep_no_speech as k; print([k(f'doc/{i * 30_000}', 10) for i in range(400)])"
    )
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
        assert out.strip() == str(here)
    assert 20 <= sum(here) <= 60  # about 1 in 10


def test_greedy_packing_and_partial_final_cue_starts_next_segment():
    cues = [Cue(1000, 9000, "a"), Cue(10_000, 20_000, "b"), Cue(21_000, 29_000, "c"), Cue(29_500, 35_000, "d")]
    segs = cut(cues, 40_000, speech_everywhere(40_000), CFG, key="k")
    assert [s.text for s in segs] == ["a b c", "d"]
    # the first window would reach 30.8 s; 'd' starts inside it, so the audio stops before 'd'
    assert segs[0].start_ms == 800 and segs[0].end_ms <= 29_500 and segs[1].start_ms >= segs[0].end_ms
    assert segs[0].reject is None and segs[1].reject is None


def test_prev_text_is_the_text_before():
    cues = [Cue(i * 10_000, i * 10_000 + 9000, f"w{i}") for i in range(7)]
    segs = cut(cues, 70_000, speech_everywhere(70_000), CFG, key="k")
    assert segs[0].prev_text == "" and segs[1].prev_text == segs[0].text
    assert segs[2].prev_text == f"{segs[0].text} {segs[1].text}"


def test_cue_too_long():
    segs = cut([Cue(0, 31_000, "long"), Cue(32_000, 33_000, "ok")], 40_000, speech_everywhere(40_000), CFG, key="k")
    assert segs[0].reject.reason == "segment.cue_too_long" and segs[1].reject is None


def test_cue_without_speech_is_cut_out_alone():
    cues = [Cue(0, 5000, "speech"), Cue(5500, 9000, "Subtitles by the Amara.org community")]
    segs = cut(cues, 12_000, speech_in(12_000, [(0, 5000)]), CFG, key="k")
    assert [s.text for s in segs] == ["speech", "Subtitles by the Amara.org community"]
    assert segs[0].reject is None and segs[1].reject.reason == "segment.cue_without_speech"


def test_low_speech_ratio_segment():
    cues = [Cue(0, 900, "a"), Cue(1000, 10_000, "b")]  # 'b' is long enough to be checked alone: give it a little speech
    speech = speech_in(10_000, [(0, 300), (1000, 1300)])
    segs = cut(cues, 10_000, speech, SegmentConfig(cue_min_speech_ratio=0.0), key="k")
    assert len(segs) == 1 and segs[0].reject.reason == "segment.low_speech_ratio"


def test_cues_past_end():
    segs = cut([Cue(0, 5000, "in"), Cue(50_000, 55_000, "out")], 20_000, speech_everywhere(20_000), CFG, key="k")
    assert segs[0].reject is None and segs[-1].reject.reason == "segment.cues_past_end"


def test_no_speech_windows_in_a_long_gap():
    cues = [Cue(0, 5000, "a"), Cue(100_000, 105_000, "b")]
    speech = speech_in(110_000, [(0, 5000), (100_000, 105_000)])
    segs = cut(cues, 110_000, speech, SegmentConfig(no_speech_keep_every=1), key="k")
    ns = [s for s in segs if s.no_speech]
    assert len(ns) == 3 and all(s.reject is None and s.speech_ratio == 0 for s in ns)
    assert ns[0].start_ms >= segs[0].end_ms and ns[-1].end_ms <= 100_000


def test_speech_in_gap_and_subsampling():
    cues = [Cue(0, 5000, "a"), Cue(70_000, 75_000, "b")]
    segs = cut(cues, 80_000, speech_everywhere(80_000), CFG, key="k")
    assert [s.reject.reason for s in segs if s.no_speech] == ["segment.speech_in_gap", "segment.speech_in_gap"]
    silent = speech_in(80_000, [(0, 5000), (70_000, 75_000)])
    kept = sum(s.reject is None for k in range(200) for s in cut(cues, 80_000, silent, CFG, key=f"d{k}") if s.no_speech)
    assert 400 * 0.05 < kept < 400 * 0.16  # 1 in 10 of 400 windows, by hash
    assert keep_no_speech("x/1", 1)


def test_break_points_split_segments():
    cues = [Cue(0, 4000, "a"), Cue(10_000, 14_000, "b")]
    segs = cut(cues, 20_000, speech_everywhere(20_000), CFG, key="k", breaks=[6000])
    assert [s.text for s in segs] == ["a", "b"] and segs[0].end_ms <= 6000
