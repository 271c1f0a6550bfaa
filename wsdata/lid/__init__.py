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

from wsdata.languages import iso


@functools.lru_cache(maxsize=1)
def _langid() -> Any:
    """langid's own identifier, built from its model arrays (kept in wsdata's cache: unpacking the
    model string costs 1.3 CPU s per process)."""
    import array

    from langid.langid import LanguageIdentifier

    from wsdata.cache import cached, package_version

    m = cached("langid-model", f"langid {package_version('langid')}", _langid_arrays)
    ends = np.cumsum(m["out_len"])
    tk_output = {int(s): tuple(m["out_idx"][e - n : e].tolist()) for s, n, e in zip(m["out_state"], m["out_len"], ends)}
    nb_classes = [str(c) for c in m["classes"]]
    nextmove = array.array(m["nextmove"].dtype.char, m["nextmove"].tobytes())  # fast per-byte indexing in langid
    return LanguageIdentifier(m["ptc"], m["pc"], m["ptc"].shape[0], nb_classes, nextmove, tk_output, norm_probs=True)


def _langid_arrays() -> dict[str, np.ndarray]:
    """langid's model string unpacked to arrays, as `LanguageIdentifier.from_modelstring` does."""
    import base64
    import bz2
    import pickle

    from langid.langid import model

    # `model` is a constant of the installed langid package, never a file or anything a user gives
    ptc, pc, classes, nextmove, output = pickle.loads(bz2.decompress(base64.b64decode(model)))
    pc_arr = np.array(pc)
    states = sorted(output)
    return {
        "ptc": np.array(ptc).reshape(len(ptc) // len(pc), len(pc)),
        "pc": pc_arr,
        "classes": np.array(classes),
        "nextmove": np.frombuffer(nextmove.tobytes(), dtype=nextmove.typecode).copy(),
        "out_state": np.array(states, dtype=np.int64),
        "out_len": np.array([len(output[s]) for s in states], dtype=np.int64),
        "out_idx": np.array([i for s in states for i in output[s]], dtype=np.int64),
    }


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
