"""How far a caption track is off its audio, from a Whisper model's timestamps (`--asr`).

Subtitles shifted by a constant are common (a cut intro, another upload of the same video). The
offset is measured, not searched for: the model transcribes three 30 s windows spread over the
document (at its first, middle and last cue) with timestamps; caption words and model words are
aligned by edit operations (rapidfuzz), each word timed by interpolation inside its cue or model
segment, and every matched word gives one offset (model time - caption time). Their median per
window must agree across windows: a constant offset is repaired, one that grows (a drift, another
frame rate) cannot be. The median is then refined to the 30 ms frame on voice activity: the shift
within +-1 s that best lines the cues up with the voiced frames.

Units: milliseconds; shapes: lists of (time_ms, word).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from wsdata.agree.wer import tokens
from wsdata.constants import VAD_FRAME_MS
from wsdata.datamodel import Cue

TimedWords = list[tuple[int, str]]


def words_of(spans: list[tuple[int, int, str]], language: str | None) -> TimedWords:
    """Each normalised word of each (start_ms, end_ms, text) span, timed by its place in the span."""
    out: TimedWords = []
    for start, end, text in spans:
        ws = tokens(text, language)
        out += [(start + (end - start) * i // max(1, len(ws)), w) for i, w in enumerate(ws)]
    return out


def matched_offsets(caption: TimedWords, model: TimedWords) -> list[int]:
    """Offsets (model - caption, ms) of the words the two texts share, aligned in order."""
    from rapidfuzz.distance import Levenshtein

    a, b = [w for _, w in caption], [w for _, w in model]
    out: list[int] = []
    for op in Levenshtein.opcodes(a, b):
        if op.tag == "equal":
            pairs = zip(range(op.src_start, op.src_end), range(op.dest_start, op.dest_end))
            out += [model[j][0] - caption[i][0] for i, j in pairs]
    return out


@dataclass(frozen=True)
class Offset:
    shift_ms: int | None  # the correction to add to every cue; None when it cannot be measured
    per_window: list[int]  # the median offset in each window that had enough matches
    matches: int


def estimate(windows: list[tuple[TimedWords, TimedWords]], min_matches: int = 6) -> Offset:
    """The median offset of every window with at least `min_matches` matched words."""
    medians, total = [], 0
    for caption, model in windows:
        offs = matched_offsets(caption, model)
        total += len(offs)
        if len(offs) >= min_matches:
            medians.append(int(statistics.median(offs)))
    return Offset(int(statistics.median(medians)) if medians else None, medians, total)


def refine(shift_ms: int, cues: list[Cue], speech: np.ndarray, search_ms: int = 1000) -> int:
    """The shift within `search_ms` of `shift_ms` under which the cues best match the voiced frames
    (`speech`: one bool per 30 ms frame): frames inside a cue should hold speech, frames outside not."""
    n = len(speech)
    inside = np.zeros(n + 2 * (search_ms // VAD_FRAME_MS) + 2, dtype=np.int32)
    best, best_score = shift_ms, -1
    voiced = speech.astype(np.int32) * 2 - 1  # +1 speech, -1 silence
    for d in range(shift_ms - search_ms, shift_ms + search_ms + 1, VAD_FRAME_MS):
        inside[:] = 0
        for c in cues:
            a, b = max(0, (c.start_ms + d) // VAD_FRAME_MS), min(n, (c.end_ms + d) // VAD_FRAME_MS)
            if b > a:
                inside[a:b] = 1
        score = int((voiced * (inside[:n] * 2 - 1)).sum())
        if score > best_score or (score == best_score and abs(d - shift_ms) < abs(best - shift_ms)):
            best, best_score = d, score
    return best


def shifted(cues: list[Cue], shift_ms: int) -> list[Cue]:
    """Every cue moved by `shift_ms`; a cue moved before the audio's start is cut at 0 or dropped."""
    out = []
    for c in cues:
        start, end = c.start_ms + shift_ms, c.end_ms + shift_ms
        if end > 0:
            out.append(Cue(max(0, start), end, c.text))
    return out
