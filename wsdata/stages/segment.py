"""The `segment` stage: cut a decoded document into Whisper segments, cue-aligned windows of at
most 30 s, plus no-speech windows, each checked against voice activity.

`CutSegments` is the first segment stage: it fills the document's (empty) segment list. `cut` is a
pure function of the cues, the audio length and the voice-activity map, so it is
property-tested on its own (tests/stages/test_segment.py). Its invariants:
- every segment lasts at most `max_ms` and segments never overlap;
- every cue is in exactly one segment (kept or rejected), with its times inside that segment;
- a cue only partly inside a window starts the next segment instead (the paper's "truncate the
  audio before it"), so no text is cut in half.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from wsdata.config import SegmentConfig
from wsdata.datamodel import Cue, Document, Reject, Segment
from wsdata.hashing import stable_hash
from wsdata.stages.base import SegmentStage
from wsdata.vad import SpeechMap


class CutSegments(SegmentStage):
    name = "segment"

    def process(self, doc: Document, segments: list[Segment]) -> Reject | None:
        tr, samples, cfg = doc.transcript, doc.samples, self.cfg
        assert tr is not None and samples is not None and doc.duration_ms is not None and not segments
        if doc.speech is None:  # the timing check may have computed it already
            with self.clock.timed("vad"):
                doc.speech = SpeechMap.from_samples(samples, cfg.segment.vad_mode)
        speech = doc.speech
        if not tr.timed:  # untimed text over <= 30 s of audio (checked by PairAudio): one segment
            seg = Segment(0, 0, doc.duration_ms, [Cue(0, doc.duration_ms, tr.text)], untimed=True)
            seg.speech_ratio = speech.ratio(0, doc.duration_ms)
            if seg.speech_ratio < cfg.segment.min_speech_ratio:
                seg.reject = Reject("segment.low_speech_ratio", f"speech in {seg.speech_ratio:.0%} of the clip")
            segments.append(seg)
            return None
        breaks = [b.after_ms for b in tr.bad_cues]
        segments += cut(tr.cues, doc.duration_ms, speech, cfg.segment, doc.id, breaks, cfg.pair.past_end_tolerance_ms)
        for b in tr.bad_cues:  # a cue with an unusable timing: accounted for, never placed
            bad = Reject("segment.bad_timing", f"line {b.line}: {b.timing!r}")
            segments.append(Segment(len(segments), -1, -1, [], reject=bad, bad_text=b.text))
        return None


def keep_no_speech(key: str, every: int) -> bool:
    """Deterministic 1-in-`every` choice by hash, the same on every machine and rerun."""
    return stable_hash(key) % every == 0


def cut(
    cues: list[Cue],
    duration_ms: int,
    speech: SpeechMap,
    cfg: SegmentConfig,
    key: str,
    breaks: Sequence[int] = (),
    tolerance_ms: int = 1000,
) -> list[Segment]:
    """Segments of one document in time order, indexed from 0. `cues` are sorted, non-overlapping.

    `breaks` are times (ms) no speech segment may span (where an unparsable cue was). `key` seeds
    the no-speech sub-sampling (the document id). Rejected segments carry `reject`.
    """
    stops = sorted(breaks)
    segs: list[Segment] = []
    prev_end = 0
    i, n = 0, len(cues)
    while i < n:
        c = cues[i]
        alone = _alone(c, duration_ms, speech, cfg)
        if alone is not None:
            segs.append(
                Segment(-1, c.start_ms, c.end_ms, [c], speech_ratio=speech.ratio(c.start_ms, c.end_ms), reject=alone)
            )
            prev_end = max(prev_end, c.end_ms)
            i += 1
            continue
        start = max(prev_end, c.start_ms - cfg.lead_pad_ms, c.end_ms - cfg.max_ms)
        j = i
        while (
            j + 1 < n
            and cues[j + 1].end_ms - start <= cfg.max_ms
            and not _break_between(stops, cues[j].end_ms, cues[j + 1].start_ms)
            and _alone(cues[j + 1], duration_ms, speech, cfg) is None
        ):
            j += 1
        last_end = cues[j].end_ms
        limit = cues[j + 1].start_ms if j + 1 < n else duration_ms
        k = bisect_left(stops, last_end)
        if k < len(stops):
            limit = min(limit, stops[k])
        end = min(start + cfg.max_ms, max(last_end, min(limit, last_end + cfg.lead_pad_ms, duration_ms)))
        seg = Segment(-1, start, end, cues[i : j + 1])
        seg.speech_ratio = speech.ratio(start, end)
        if last_end > duration_ms + tolerance_ms:
            seg.reject = Reject(
                "segment.cues_past_end", f"cues end at {last_end} ms; the audio ends at {duration_ms} ms"
            )
        elif seg.speech_ratio < cfg.min_speech_ratio:
            seg.reject = Reject(
                "segment.low_speech_ratio",
                f"speech in {seg.speech_ratio:.0%} of the segment (< {cfg.min_speech_ratio:.0%}): text without voice",
            )
        segs.append(seg)
        prev_end = end
        i = j + 1
    segs += _no_speech_windows(segs, duration_ms, speech, cfg, key)
    segs.sort(key=lambda s: (s.start_ms, s.end_ms))
    for idx, s in enumerate(segs):
        s.index = idx
    _fill_prev_text(segs, cfg.prev_text_max_chars)
    return segs


def _alone(c: Cue, duration_ms: int, speech: SpeechMap, cfg: SegmentConfig) -> Reject | None:
    """A cue that must be a segment of its own, rejected: too long, or no speech under it."""
    if c.duration_ms > cfg.max_ms:
        return Reject("segment.cue_too_long", f"one cue lasts {c.duration_ms} ms (> {cfg.max_ms} ms)")
    if c.duration_ms >= cfg.cue_check_min_ms and c.end_ms <= duration_ms:
        r = speech.ratio(c.start_ms, c.end_ms)
        if r < cfg.cue_min_speech_ratio:
            return Reject("segment.cue_without_speech", f"speech in {r:.0%} of the cue {c.text[:60]!r}")
    return None


def _break_between(breaks: list[int], a: int, b: int) -> bool:
    k = bisect_left(breaks, a)
    return k < len(breaks) and breaks[k] <= b


def _no_speech_windows(
    segs: list[Segment], duration_ms: int, speech: SpeechMap, cfg: SegmentConfig, key: str
) -> list[Segment]:
    """Whole `max_ms` windows inside cue-free gaps of at least `no_speech_gap_ms`."""
    out: list[Segment] = []
    taken = sorted((s.start_ms, s.end_ms) for s in segs)
    cursor = 0
    for a, b in taken + [(duration_ms, duration_ms)]:
        gap_end = min(a, duration_ms)
        if gap_end - cursor >= cfg.no_speech_gap_ms:
            for w in range((gap_end - cursor) // cfg.max_ms):
                start = cursor + w * cfg.max_ms
                seg = Segment(-1, start, start + cfg.max_ms, [], no_speech=True)
                seg.speech_ratio = speech.ratio(seg.start_ms, seg.end_ms)
                if seg.speech_ratio > cfg.max_no_speech_ratio:
                    seg.reject = Reject(
                        "segment.speech_in_gap",
                        f"no cue here but speech in {seg.speech_ratio:.0%} of the window: untranscribed speech?",
                    )
                elif not keep_no_speech(f"{key}/{start}", cfg.no_speech_keep_every):
                    seg.reject = Reject("segment.no_speech_subsampled", f"kept 1 in {cfg.no_speech_keep_every}")
                out.append(seg)
        cursor = max(cursor, b)
    return out


def _fill_prev_text(segs: list[Segment], max_chars: int) -> None:
    """Each segment's prev_text: the transcript before it (speech cues only), last `max_chars`."""
    before = ""
    for s in segs:
        if len(before) > max_chars:
            cut_at = before.find(" ", len(before) - max_chars)
            before = before[cut_at + 1 :] if cut_at >= 0 else before[-max_chars:]
        s.prev_text = before
        if s.cues and not (s.reject and s.reject.reason == "segment.cue_without_speech"):
            before = f"{before} {s.text}".strip()
