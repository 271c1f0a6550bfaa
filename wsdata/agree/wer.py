"""Word error rate of a caption against an ASR transcript, after Whisper's text normalisation.

Normalisers are openai/whisper's, as packaged by `whisper-normalizer` (the `asr` extra): the
English one (spelling, numbers, contractions) for English, the basic one (case, punctuation,
symbols, accents) for every other language, after spelled-out numbers become digits where text2num
knows the language. Scripts written without spaces are scored by characters (CER),
as Whisper's evaluation does. Edit distance is rapidfuzz's Levenshtein over token lists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

# Languages whose text is not split into words by spaces: scored by characters.
CER_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "km", "yue", "bo"})
# Spelled-out numbers become digits first (text2num's alpha2digit), as the English normaliser does for
# English: a caption's "once doce" and the model's "11, 12" say the same thing.
NUMBER_LANGUAGES = frozenset({"fr", "es", "it", "pt", "de", "nl"})


@functools.cache
def normalizer(language: str | None) -> Callable[[str], str]:
    try:
        from whisper_normalizer.basic import BasicTextNormalizer
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError as e:  # pragma: no cover - the asr extra installs it
        raise ImportError(f"the agreement check needs `pip install 'wsdata[asr]'` ({e})") from None
    # Accents are dropped outside English: crawled captions often lose them ("informacion") where the
    # model writes them ("información"), and that is not a disagreement about what was said.
    return EnglishTextNormalizer() if language == "en" else BasicTextNormalizer(remove_diacritics=True)


def tokens(text: str, language: str | None) -> list[str]:
    """The normalised text as words, or as characters (spaces dropped) for unspaced scripts."""
    if language in NUMBER_LANGUAGES:
        from text_to_num import alpha2digit

        text = alpha2digit(text, language)
    norm = normalizer(language)(text)
    return [c for c in norm if not c.isspace()] if language in CER_LANGUAGES else norm.split()


@dataclass(frozen=True)
class Errors:
    """Edits turning the caption (reference) into the ASR text, and the caption's length in tokens."""

    edits: int
    length: int

    @property
    def rate(self) -> float:
        """Errors per reference token; 0 for two empty texts, 1.0 per token for an empty caption
        under speech (every ASR token is an insertion)."""
        if self.length == 0:
            return 0.0 if self.edits == 0 else float(self.edits)
        return self.edits / self.length

    def __add__(self, other: Errors) -> Errors:
        return Errors(self.edits + other.edits, self.length + other.length)


def errors(caption: str, asr: str, language: str | None) -> Errors:
    from rapidfuzz.distance import Levenshtein

    ref, hyp = tokens(caption, language), tokens(asr, language)
    return Errors(Levenshtein.distance(ref, hyp), len(ref))


def model_looped(asr: str, min_words: int = 10, share: float = 0.5) -> bool:
    """The model's transcript is a decoding loop ("8, 9, 8, 9, ..."): it says nothing about the
    caption, so the segment is not judged on it (Granary drops such hallucinations the same way)."""
    from wsdata.stages.machine import loop_share

    words = normalizer(None)(asr).split()
    return len(words) >= min_words and loop_share(words) >= share
