"""The `text` stage: transcript hygiene (docs/filters.md).

`TextClean` (before decode) removes what is not speech from the targets: subtitle boilerplate from
the phrase packs, [bracketed] annotations, (sound descriptions) and music symbols. A cue left with
no letters is dropped, so its time becomes silence the segmenter can use. `TextGates` (after the
cut) rejects segments whose text cannot match their audio (characters per second) or cannot fit
Whisper's decoder (tokens), and flags segments with speaker labels.
"""

from __future__ import annotations

from wsdata.datamodel import Cue, Document, Reject, Segment
from wsdata.hygiene import (
    count_tokens,
    has_letters,
    has_speaker_label,
    load_phrases,
    load_quarantine,
    load_sound_words,
    strip_boilerplate,
    strip_sound_tags,
)
from wsdata.stages.base import DocStage, SegmentStage
from wsdata.vocab import target_length


class TextClean(DocStage):
    name = "text"
    step = "text/clean"

    def process(self, doc: Document) -> Reject | None:
        tr = doc.transcript
        assert tr is not None, "the text stage runs after the transcript is paired"
        cfg = self.cfg.text
        if cfg.quarantine and (doc.source or "") in load_quarantine(cfg.quarantine):
            return Reject("text.quarantined_source", f"source {doc.source!r} is listed in {cfg.quarantine}")
        phrases, sound = load_phrases(cfg.boilerplate), load_sound_words(cfg.sound_tags)
        n_boiler = n_tags = 0

        def clean(text: str) -> str:
            nonlocal n_boiler, n_tags
            text, k = strip_sound_tags(text, sound, cfg.drop_bracketed)
            n_tags += k
            text, k = strip_boilerplate(text, phrases)
            n_boiler += k
            return text if has_letters(text) else ""

        dropped = 0
        if tr.timed:
            cues = [Cue(c.start_ms, c.end_ms, t) for c in tr.cues if (t := clean(c.text))]
            dropped = doc.evidence["cues_dropped"] = len(tr.cues) - len(cues)
            tr.cues = cues
            tr.text = " ".join(c.text for c in cues)
        else:
            tr.text = clean(tr.text)
        doc.evidence["boilerplate_removed"] = n_boiler
        doc.evidence["sound_tags_removed"] = n_tags
        st = self.books.stats  # the card's text-cleaning line: over every document this step cleaned
        st.boilerplate_removed += n_boiler
        st.sound_tags_removed += n_tags
        st.cues_dropped += dropped
        if not tr.text:
            return Reject("text.empty_after_cleaning", f"{n_boiler} boilerplate phrase(s), {n_tags} tag(s) removed")
        return None


class TextGates(SegmentStage):
    name = "text"
    step = "text/gates"

    def process(self, doc: Document, segments: list[Segment]) -> Reject | None:
        cfg = self.cfg.text
        live = [s for s in segments if s.reject is None and not s.no_speech]
        budget = cfg.max_tokens - cfg.prompt_reserve_tokens
        for s, n_text in zip(live, count_tokens([s.text for s in live])):
            s.speaker_labels = any(has_speaker_label(c.text) for c in s.cues)
            chars = len(s.text.strip())
            seconds = s.duration_ms / 1000
            voiced = (s.speech_ratio or 0.0) * seconds
            # High: judged over the whole segment (an upper bound of the speaking time), so quiet
            # speech that VAD misses cannot trigger it. Low: judged over the voiced time only.
            high = chars / max(seconds, 1.0)
            low = chars / voiced if voiced >= 1.0 else None
            n_target = target_length(n_text, 0 if s.untimed else 2 * len(s.cues))  # 2 timestamps per cue
            if cfg.gates and high > cfg.max_chars_per_second:
                s.reject = Reject("text.chars_per_second_high", f"{high:.1f} chars/s over {seconds:.1f} s")
            elif cfg.gates and low is not None and low < cfg.min_chars_per_second:
                s.reject = Reject("text.chars_per_second_low", f"{low:.2f} chars/s over {voiced:.1f} s of speech")
            elif n_target > budget:
                s.reject = Reject(
                    "text.too_many_tokens",
                    f"{n_target} target tokens > {cfg.max_tokens} - {cfg.prompt_reserve_tokens} kept for the prompt",
                )
        return None
