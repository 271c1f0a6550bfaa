"""The `language` stage: spoken vs written language, and the paper's routing rule (§2.1).

Written language: langid on the whole transcript (and, stored only, on each segment's text).
Spoken language: a Whisper model on the segment with the most speech (`--audio-lid`), and when it
is unsure on the next few too, their probabilities averaged by seconds of speech. Then:

    spoken == written                      -> task=transcribe, language = spoken
    spoken != "en" and written == "en"     -> task=translate,  language = spoken (X -> en)
    anything else                          -> language.mismatch (kept as spoken's, language.check = false)

Without an audio model the crawl's `language` claim stands in for the spoken language when it
disagrees with the text (an English transcript under a non-English claim becomes a translation
pair; any other disagreement is a mismatch); with no claim, the text language decides. The
build says so on the terminal and in the card: this mode cannot see a wrong-language transcript
whose claim agrees with its text.
"""

from __future__ import annotations

from wsdata.config import BuildConfig
from wsdata.constants import ms_to_samples
from wsdata.datamodel import Document, Reject, Segment
from wsdata.lid import text_language
from wsdata.lid.audio import combine, load_audio_lid
from wsdata.stages.base import SegmentStage


class LanguageRoute(SegmentStage):
    name = "language"

    @classmethod
    def require(cls, cfg: BuildConfig) -> None:
        if cfg.language.audio_lid:  # loaded once per process: the stage then finds it loaded
            load_audio_lid(cfg.language.audio_lid, cfg.language.device)

    def process(self, doc: Document, segments: list[Segment]) -> Reject | None:
        cfg = self.cfg.language
        tr = doc.transcript
        assert tr is not None
        speech = [s for s in segments if s.reject is None and not s.no_speech]
        for s in speech:
            s.text_language = text_language(s.text)
        written, text_p = text_language(tr.text)
        ev = doc.evidence
        ev["text_language"], ev["text_language_prob"] = written, round(text_p, 4)
        ev["written_from"] = "text"
        if text_p < cfg.min_text_prob and doc.language:  # short or mixed text: the crawl's claim wins
            written, ev["written_from"] = doc.language, "claim"
        spoken = None
        if cfg.audio_lid:
            if not speech:
                return Reject("language.no_speech_for_lid", "no kept speech segment")
            probs = self._audio_probs(doc, speech)
            top = max(probs, key=probs.__getitem__)
            ev["audio_language"], ev["audio_language_prob"] = top, round(probs[top], 4)
            ev["audio_lid_top3"] = {k: round(probs[k], 4) for k in sorted(probs, key=probs.__getitem__)[-3:][::-1]}
            if probs[top] >= cfg.min_audio_prob:
                spoken, ev["spoken_from"] = top, "audio"
            elif cfg.on_low_confidence == "reject":
                return Reject("language.low_confidence", f"audio {top} p={probs[top]:.2f} < {cfg.min_audio_prob}")
        if spoken is None:  # no (trusted) audio evidence: the crawl's claim, else the text
            spoken, ev["spoken_from"] = (doc.language, "claim") if doc.language else (written, "text")
        detail = (
            f"spoken {spoken} (from {ev['spoken_from']}), "
            f"written {written} (from {ev['written_from']}, langid p={text_p:.2f})"
        )
        if spoken == written:
            ev["language"], ev["task"] = spoken, "transcribe"
        elif written == "en":
            ev["language"], ev["task"] = spoken, "translate"
        elif not cfg.check:  # a curated corpus: its language stands, the disagreement is evidence
            ev["language"], ev["task"], ev["language_mismatch"] = spoken, "transcribe", detail
        else:
            return Reject("language.mismatch", detail)
        return None

    def _audio_probs(self, doc: Document, speech: list[Segment]) -> dict[str, float]:
        """The segment with the most voiced time first; the next ones only when it is unsure.

        On CPU one 30 s window of Whisper-base costs ~4x the decode of an hour's worth of that
        window, so a confident first answer ends the search (`language.confident_prob`).
        """
        cfg = self.cfg.language
        assert doc.samples is not None
        chosen = sorted(speech, key=lambda s: (-(s.speech_ratio or 0) * s.duration_ms, s.index))[: cfg.segments_per_doc]
        clips = [
            doc.samples[ms_to_samples(s.start_ms) : ms_to_samples(s.end_ms)].astype("float32") / 32768.0 for s in chosen
        ]
        weights = [max(1.0, (s.speech_ratio or 0) * s.duration_ms) for s in chosen]
        lid = load_audio_lid(cfg.audio_lid, cfg.device)
        dists = lid.probs(clips[:1])
        if max(dists[0].values()) < cfg.confident_prob:
            for i in range(1, len(clips), cfg.batch_size):
                dists += lid.probs(clips[i : i + cfg.batch_size])
        doc.evidence["audio_lid_segments"] = len(dists)
        return combine(dists, weights[: len(dists)])
