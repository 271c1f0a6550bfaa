"""Language identification: written language with langid, spoken language with a Whisper model.

`text_language` is cheap and always on. `load_audio_lid(spec, device)` returns a detector that maps
a batch of 16 kHz mono clips to language probabilities, through faster-whisper for a CTranslate2
folder or transformers for a Hugging Face id or folder (wsdata/lid/audio.py). Both are loaded once
per worker process and reused.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

# langid and Whisper name a few languages differently from ISO 639-1.
_TO_ISO = {"jw": "jv", "iw": "he", "nb": "no"}


def iso(code: str) -> str:
    return _TO_ISO.get(code, code)


@functools.lru_cache(maxsize=1)
def _langid() -> Any:
    from langid.langid import LanguageIdentifier, model

    return LanguageIdentifier.from_modelstring(model, norm_probs=True)


def text_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the text's language, by langid over its 97 languages.

    langid's own byte-n-gram features and model; only its naive-Bayes product is taken over the
    ~100 n-grams a text holds instead of all 7,480 (a dense 7,480 x 97 product was 85% of the time).
    Same result as `langid.classify` with normalised probabilities (tests/lid/test_text.py).
    """
    li = _langid()
    fv = li.instance2fv(text)  # counts of the model's byte n-grams, shape (7480,)
    nz = np.flatnonzero(fv)
    log_p = fv[nz] @ li.nb_ptc[nz] + li.nb_pc  # log P(text, language), shape (97,)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    i = int(p.argmax())
    return iso(li.nb_classes[i]), float(p[i])
