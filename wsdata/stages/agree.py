"""The `agree` stage: does the caption say what the audio says? (`--asr MODEL`)

A Whisper model transcribes every kept speech segment in the segment's spoken language, and the
caption is scored against that transcript after Whisper's normalisation (wsdata/agree/wer.py): a
segment past `agree.segment_max_wer` is `agree.segment_wer`, and a document whose checked segments
together pass `agree.document_max_wer` is `agree.document_wer` (OLMoASR's 0.7 and 0.5). This
catches what every text heuristic passes: a caption of other audio, a summary, a half transcript.

The model runs on batches of segments gathered across documents (`offer`, then `flush` at the end
of the chunk), one call per batch; a document waits, with its audio, until its batch has run, so at
most `batch_size` documents are held. Translation pairs (English text over other audio) are not
judged: their `asr_text` is the model's own English translation and `asr_wer` is recorded for the
audit, but no threshold applies, so a correct translation is never rejected for being a free one.
No-speech segments are not sent to the model (their `asr_wer` stays null).
"""

from __future__ import annotations

from wsdata.agree.timing import estimate, refine, shifted, words_of
from wsdata.agree.wer import Errors, errors, model_looped, normalizer
from wsdata.config import BuildConfig
from wsdata.constants import ms_to_samples
from wsdata.datamodel import Document, Reject, Segment
from wsdata.errors import raise_fatal
from wsdata.lid import text_language
from wsdata.lid.audio import load_audio_lid
from wsdata.stages.base import Books, DocStage, SegmentStage
from wsdata.vad import SpeechMap

SHIFT_MIN_MS = 150  # a measured shift below this is Whisper's timestamp noise: the captions stand

Pending = tuple[Document, list[Segment]]


def checkable(segments: list[Segment]) -> list[Segment]:
    """The segments the model transcribes: kept speech."""
    return [s for s in segments if s.reject is None and not s.no_speech]


def translation(doc: Document) -> bool:
    return doc.evidence.get("task") == "translate"


class AgreeCheck(SegmentStage):
    name = "agree"

    def __init__(self, cfg: BuildConfig, books: Books | None = None):
        super().__init__(cfg, books)
        self.pending: list[Pending] = []
        self.queued = 0  # segments waiting for the model
        self.failure: Exception | None = None  # the model's error on the current batch, if any

    @classmethod
    def require(cls, cfg: BuildConfig) -> None:
        if cfg.agree.asr:  # the model (loaded once per process) and the asr extra's normalisers
            load_audio_lid(cfg.agree.asr, cfg.agree.device)
            normalizer("en")

    def offer(self, doc: Document, segments: list[Segment]) -> list[Pending]:
        """Queue a document that passed every other stage; return the queued documents now decided
        and kept (the rejected ones are written by the base, as for any stage)."""
        self.pending.append((doc, segments))
        self.queued += len(checkable(segments))
        if self.queued >= self.cfg.agree.batch_size or len(self.pending) >= self.cfg.agree.batch_size:
            return self.flush()
        return []

    def flush(self) -> list[Pending]:
        """Run the model over every queued segment, then decide each queued document."""
        batch, self.pending, self.queued = self.pending, [], 0
        self.failure = None
        if not batch:  # the end of a chunk with nothing queued: no model to load
            return []
        with self.clock.timed(self.step):
            try:
                self._transcribe(batch)
            except Exception as e:  # noqa: BLE001 - each document of the batch becomes an internal_error reject
                raise_fatal(e)  # no model or no extra: the same for every batch, so the build stops
                self.failure = e
        return [(doc, segs) for doc, segs in batch if self(doc, segs) is None]

    def _transcribe(self, batch: list[Pending]) -> None:
        cfg = self.cfg.agree
        todo = [(doc, s) for doc, segs in batch for s in checkable(segs)]
        if not todo:
            return
        model = load_audio_lid(cfg.asr, cfg.device)
        for i in range(0, len(todo), cfg.batch_size):
            part = todo[i : i + cfg.batch_size]
            clips = [
                doc.samples[ms_to_samples(s.start_ms) : ms_to_samples(s.end_ms)].astype("float32") / 32768.0
                for doc, s in part
            ]
            langs = [doc.evidence.get("language") or doc.language or "en" for doc, _ in part]
            texts = model.transcribe(clips, langs, [translation(doc) for doc, _ in part])
            for (_, s), text in zip(part, texts):
                s.asr_text = text

    def process(self, doc: Document, segments: list[Segment]) -> Reject | None:
        if self.failure is not None:
            raise self.failure
        cfg, lang = self.cfg.agree, doc.evidence.get("language") or doc.language
        checked = checkable(segments)
        if translation(doc):  # scored against the model's translation, for the audit only
            for s in checked:
                assert s.asr_text is not None, "flush transcribes every checkable segment"
                s.asr_wer = round(errors(s.text, s.asr_text, "en").rate, 4)
            doc.evidence["agree_skipped"] = "translation pair: recorded, not judged"
            return None
        if not checked:
            return None
        total, looped = Errors(0, 0), 0
        for s in checked:
            assert s.asr_text is not None, "flush transcribes every checkable segment"
            e = errors(s.text, s.asr_text, lang)
            s.asr_wer = round(e.rate, 4)
            if model_looped(s.asr_text):  # the model failed here, not the caption: not judged
                looped += 1
                continue
            total += e
            if e.rate > cfg.segment_limit(lang):
                s.reject = Reject(
                    "agree.segment_wer",
                    f"WER {e.rate:.2f} > {cfg.segment_limit(lang)}: caption {s.text[:80]!r}, model {s.asr_text[:80]!r}",
                )
        doc.evidence["asr_wer"] = round(total.rate, 4)
        doc.evidence["asr_segments"] = len(checked)
        if looped:
            doc.evidence["asr_looped_segments"] = looped
        if total.rate > cfg.document_limit(lang):
            return Reject(
                "agree.document_wer",
                f"WER {total.rate:.2f} over {len(checked)} segments > {cfg.document_limit(lang)} ({cfg.asr})",
            )
        return None


class AgreeTiming(DocStage):
    """Before cutting: measure how far the captions are off the audio and repair a constant shift
    (wsdata/agree/timing.py); a drift, or more than `agree.max_shift_ms`, is agree.misaligned."""

    name = "agree"
    step = "agree/timing"
    WINDOW_MS = 30_000

    def process(self, doc: Document) -> Reject | None:
        cfg, tr = self.cfg.agree, doc.transcript
        assert tr is not None and doc.samples is not None and doc.duration_ms is not None
        if not tr.timed or len(tr.cues) < 3:
            return None
        model = load_audio_lid(cfg.asr, cfg.device)
        lang = doc.language or text_language(tr.text)[0]
        windows = self._windows([c.start_ms for c in tr.cues], doc.duration_ms)
        clips = [
            doc.samples[ms_to_samples(w) : ms_to_samples(w + self.WINDOW_MS)].astype("float32") / 32768.0
            for w in windows
        ]
        spans = model.timed(clips, [lang] * len(clips))
        reach = cfg.max_shift_ms + 2000  # caption words that could have been said inside the window
        pairs = []
        for w, found in zip(windows, spans):
            near = [
                (c.start_ms, c.end_ms, c.text)
                for c in tr.cues
                if c.end_ms > w - reach and c.start_ms < w + self.WINDOW_MS + reach
            ]
            pairs.append((words_of(near, lang), words_of([(w + a, w + b, t) for a, b, t in found], lang)))
        off = estimate(pairs)
        if off.shift_ms is None:
            doc.evidence["time_shift"] = f"not measured: {off.matches} words matched"
            return None
        if len(off.per_window) > 1 and max(off.per_window) - min(off.per_window) > cfg.max_drift_ms:
            return Reject(
                "agree.misaligned", f"the offset drifts along the file: {off.per_window} ms in windows at {windows} ms"
            )
        if abs(off.shift_ms) > cfg.max_shift_ms:
            return Reject(
                "agree.misaligned", f"the captions are {off.shift_ms / 1000:+.1f} s off (> {cfg.max_shift_ms} ms)"
            )
        if doc.speech is None:
            with self.clock.timed("vad"):
                doc.speech = SpeechMap.from_samples(doc.samples, self.cfg.segment.vad_mode)
        shift = refine(off.shift_ms, tr.cues, doc.speech.frames)
        shift = 0 if abs(shift) < SHIFT_MIN_MS else shift
        doc.evidence["time_shift_ms"] = shift
        if shift:
            tr.cues = shifted(tr.cues, shift)
            for b in tr.bad_cues:
                b.after_ms = max(0, b.after_ms + shift)
        return None

    def _windows(self, starts: list[int], duration_ms: int) -> list[int]:
        """Start times of up to three windows, at the first, middle and last cue, inside the audio."""
        last = max(0, duration_ms - self.WINDOW_MS)
        picks = sorted({min(last, max(0, starts[i] - 5000)) for i in (0, len(starts) // 2, len(starts) - 1)})
        out: list[int] = []
        for w in picks:  # overlapping windows would count the same words twice
            if not out or w >= out[-1] + self.WINDOW_MS:
                out.append(w)
        return out
