"""The `machine` stage: is this transcript the output of an ASR system? (Whisper paper §2.1)

Document-level, before audio decode. Each signal is a named number oriented so that larger means
more machine-like, with a threshold from `[machine]` in the pipeline config. A signal fires when
its value reaches its threshold; `machine_score` is the largest value/threshold over all signals,
so a score >= 1 rejects with the strongest signal's name as the reason (`machine.all_caps`, ...).
The casing and punctuation signals read the transcript after the parser collapsed YouTube's
rolling lines, so a repeated line cannot dilute or fake them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wsdata.config import MachineConfig
from wsdata.datamodel import Document, Reject, Transcript
from wsdata.stages.base import DocStage

# "Complex" punctuation in the paper's sense, with the full-width and Arabic/Greek forms.
_COMPLEX = re.compile(r"[,;:?!¿¡，、；：？！؟،]")
_SENTENCE_END = re.compile(r"[.?!…。？！؟]+")
_WORD = re.compile(r"\w+(?:['’-]\w+)*")


@dataclass(frozen=True)
class Signal:
    name: str  # the reason code's second half: machine.<name>
    value: float | None  # None: does not apply to this text (no cased script, too short)
    threshold: float

    @property
    def strength(self) -> float:
        return 0.0 if self.value is None else self.value / self.threshold


def signals(tr: Transcript, caption_kind: str | None, cfg: MachineConfig) -> list[Signal]:
    """Every signal of one transcript, in a fixed order."""
    text = tr.text
    words = _WORD.findall(text)
    n_words = len(words)
    n_lines = len(tr.cues) + tr.rolling_lines_collapsed
    out = [
        Signal("caption_kind", 1.0 if cfg.trust_caption_kind and caption_kind == "asr" else 0.0, 1.0),
        Signal("word_timing_tags", tr.word_timing_tags / max(1, len(tr.cues)), cfg.word_timing_tags),
        Signal("rolling_captions", tr.rolling_lines_collapsed / n_lines if n_lines else 0.0, cfg.rolling_captions),
        Signal("overlapping_cues", tr.overlapping_cues / max(1, len(tr.cues)), cfg.overlapping_cues),
    ]
    # Casing: only for scripts with case (Latin, Cyrillic, Greek...), never for zh/ja/ar/hi.
    letters = [c for c in text if c.isalpha()]
    cased = [c for c in letters if c.isupper() or c.islower()]
    has_case = len(cased) >= cfg.min_cased_letters and len(cased) >= cfg.min_cased_share * len(letters)
    upper = sum(c.isupper() for c in cased)
    cased_words = [w for w in words if w[0].isupper() or w[0].islower()]
    loops = loop_share([w.lower() for w in words]) if n_words >= cfg.repetition_min_words else 0.0
    capitalised = sum(w[0].isupper() for w in cased_words)
    out += [
        Signal("all_caps", upper / len(cased) if has_case else None, cfg.all_caps),
        Signal("all_lowercase", len(cased_words) / max(1, capitalised) if has_case else None, cfg.all_lowercase),
        Signal("no_punctuation", n_words / max(1, len(_COMPLEX.findall(text))), cfg.no_punctuation),
        Signal("no_sentence_structure", n_words / max(1, len(_SENTENCE_END.findall(text))), cfg.no_sentence_structure),
        Signal("repetition", loops if n_words >= cfg.repetition_min_words else None, cfg.repetition),
    ]
    return out


def loop_share(words: list[str], max_n: int = 10, min_repeats: int = 3) -> float:
    """Share of words inside a loop: an n-gram (n <= max_n) repeated min_repeats+ times in a row.

    Decoder loops ("thank you thank you thank you ...") are the signature of a hallucinating ASR
    model; a human "no, no, no" is 3 words out of hundreds.
    """
    n_total = len(words)
    if n_total == 0:
        return 0.0
    covered = bytearray(n_total)
    for n in range(1, max_n + 1):
        i = 0
        while i + min_repeats * n <= n_total:
            gram = words[i : i + n]
            reps = 1
            while words[i + reps * n : i + (reps + 1) * n] == gram:
                reps += 1
            if reps >= min_repeats:
                covered[i : i + reps * n] = b"\x01" * (reps * n)
                i += reps * n
            else:
                i += 1
    return sum(covered) / n_total


class MachineFilter(DocStage):
    """Rejects a transcript whose strongest signal reaches its threshold."""

    name = "machine"

    def process(self, doc: Document) -> Reject | None:
        tr = doc.transcript
        assert tr is not None, "the machine stage runs after the transcript is paired"
        sig = signals(tr, doc.caption_kind, self.cfg.machine)
        top = max(sig, key=lambda s: s.strength)
        doc.evidence["machine_score"] = round(top.strength, 4)
        doc.evidence["machine_signals"] = {s.name: None if s.value is None else round(s.value, 4) for s in sig}
        if top.strength >= 1.0 and self.cfg.machine.enabled:
            fired = ", ".join(f"{s.name} {s.value:.3g} >= {s.threshold:g}" for s in sig if s.strength >= 1.0)
            return Reject(f"machine.{top.name}", f"machine_score {top.strength:.2f}; {fired}")
        return None
