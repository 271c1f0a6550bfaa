"""Language identification: written language with langid, spoken language with a Whisper model.

`text_language` is cheap and always on. `load_audio_lid(spec, device)` returns a detector that maps
a batch of 16 kHz mono clips to language probabilities, through faster-whisper for a CTranslate2
folder or transformers for a Hugging Face id or folder (wsdata/lid/audio.py). Both are loaded once
per worker process and reused.
"""

from __future__ import annotations

import functools
from typing import Any

# langid and Whisper name a few languages differently from ISO 639-1.
_TO_ISO = {"jw": "jv", "iw": "he", "nb": "no"}


def iso(code: str) -> str:
    return _TO_ISO.get(code, code)


@functools.lru_cache(maxsize=1)
def _langid() -> Any:
    from langid.langid import LanguageIdentifier, model

    return LanguageIdentifier.from_modelstring(model, norm_probs=True)


def text_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the text's language, by langid over its 97 languages."""
    lang, prob = _langid().classify(text)
    return iso(lang), float(prob)
