"""Long-form transcription the paper's way (§4.5), through transformers' own long-form `generate`:

- sequential 30 s windows, each moved forward to the last complete segment's end timestamp;
- conditioned on the previous window's text (<|startofprev|>);
- temperature fallback (0.0, 0.2, ... 1.0) when a window's output compresses too well (a loop)
  or its average log-probability is under -1. transformers measures the compression of the token
  ids, where 1.35 corresponds to the paper's 2.4 on text (its documentation's recommendation);
- a window whose <|nospeech|> probability is over 0.6 is skipped when its log-probability is
  also under -1.

The log-mel is taken over the whole file, as openai-whisper does (its normalisation uses the
file's loudest frame). Output: plain text, SRT or VTT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wsdata.constants import CHUNK_SAMPLES, SAMPLE_RATE

TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
COMPRESSION_RATIO_THRESHOLD = 1.35  # of token ids in transformers; the paper's 2.4 is of text
LOGPROB_THRESHOLD = -1.0
NO_SPEECH_THRESHOLD = 0.6


@dataclass(frozen=True)
class Caption:
    start_ms: int
    end_ms: int
    text: str


def transcribe_long(
    model: Any,
    features: Any,
    samples: np.ndarray,
    language: str,
    task: str = "transcribe",
    seed: int = 0,
) -> list[Caption]:
    """Captions of float32 16 kHz `samples` of any length, in `language` (a Whisper code).
    `model` is a WhisperForConditionalGeneration with Whisper's generation config (a converted
    checkpoint or a `wsdata train` run); `features` its WhisperFeatureExtractor."""
    import torch

    long = len(samples) > CHUNK_SAMPLES
    inputs = features(
        samples,
        sampling_rate=SAMPLE_RATE,
        return_tensors="pt",
        truncation=not long,
        padding="longest" if long else "max_length",
        return_attention_mask=True,
    )
    device, dtype = model.device, model.dtype
    kw = {"attention_mask": inputs.attention_mask.to(device)} if long else {}
    torch.manual_seed(seed)  # the fallback samples at temperature > 0: the same file gives the same captions
    with torch.inference_mode():
        out = model.generate(
            inputs.input_features.to(device, dtype),
            language=language,
            task=task,
            return_timestamps=True,
            return_segments=True,
            condition_on_prev_tokens=True,
            temperature=TEMPERATURES,
            compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
            logprob_threshold=LOGPROB_THRESHOLD,
            no_speech_threshold=NO_SPEECH_THRESHOLD,
            **kw,
        )
    from wsdata.vocab import Vocab

    vocab = Vocab.bundled()
    caps = []
    for seg in _segments(out):
        text = vocab.decode([int(t) for t in seg["tokens"]])
        if text:
            start, end = round(float(seg["start"]) * 1000), round(float(seg["end"]) * 1000)
            caps.append(Caption(start, max(start, end), text))
    return caps


def _segments(out: Any) -> list[dict]:
    """The segments of the one input, from what `generate(..., return_segments=True)` returns
    (a dict with "segments" in transformers 4.4x and 5)."""
    segs = out["segments"] if isinstance(out, dict) else getattr(out, "segments", None)
    if segs is None:
        raise RuntimeError("this transformers version returned no segments from generate(return_segments=True)")
    return list(segs[0])


def srt(caps: list[Caption]) -> str:
    cues = (f"{i}\n{_time(c.start_ms, ',')} --> {_time(c.end_ms, ',')}\n{c.text}\n\n" for i, c in enumerate(caps, 1))
    return "".join(cues)


def vtt(caps: list[Caption]) -> str:
    return "WEBVTT\n\n" + "".join(f"{_time(c.start_ms, '.')} --> {_time(c.end_ms, '.')}\n{c.text}\n\n" for c in caps)


def text(caps: list[Caption]) -> str:
    return " ".join(c.text for c in caps)


def _time(ms: int, sep: str) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"
