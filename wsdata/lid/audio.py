"""A Whisper model for the build: spoken-language ID (the probability of each <|lang|> token after
<|startoftranscript|>, as Whisper itself detects language) and batched transcription for the
agreement check (`--asr`). One loaded model serves both when `--audio-lid` and `--asr` name it.

Two backends, told apart by what the model folder holds:
- a CTranslate2 folder (`model.bin` + `vocabulary.*`): faster-whisper's feature extractor and
  CTranslate2's batched `detect_language`;
- anything else (a Hugging Face id, or a folder with `config.json` of model_type whisper, such as a
  `wsdata train` run): transformers' `WhisperForConditionalGeneration`.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from wsdata.constants import CHUNK_SAMPLES
from wsdata.languages import iso, whisper
from wsdata.lid.threads import threads


class LidError(RuntimeError):
    """The model cannot be loaded or used for language ID; the message says why."""


class AudioLid(Protocol):
    kind: str  # "ctranslate2" or "transformers"

    def probs(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        """Language probabilities (ISO code -> p) of each float32 16 kHz clip of <= 30 s."""
        ...

    def transcribe(
        self, clips: list[np.ndarray], languages: list[str], translate: list[bool] | None = None
    ) -> list[str]:
        """Greedy transcripts of float32 16 kHz clips of <= 30 s, each in its language (ISO code),
        in one batched call; an English translation for the clips marked in `translate`."""
        ...


def model_kind(spec: str) -> str:
    p = Path(spec)
    if p.is_dir():
        if (p / "model.bin").is_file() and any((p / f).is_file() for f in ("vocabulary.json", "vocabulary.txt")):
            return "ctranslate2"
        cfg = p / "config.json"
        if cfg.is_file() and json.loads(cfg.read_text(encoding="utf-8")).get("model_type") == "whisper":
            return "transformers"
        raise LidError(
            f"{spec}: neither a CTranslate2 Whisper folder (model.bin + vocabulary) nor a "
            "Hugging Face Whisper folder (config.json with model_type whisper)"
        )
    if p.exists():
        raise LidError(f"{spec}: a file, not a model folder")
    if spec.count("/") != 1 or spec.startswith((".", "/")):
        raise LidError(f"{spec}: no such folder, and not a Hugging Face model id (owner/name)")
    return "transformers"  # a hub id: transformers resolves (and caches) it


def _device(device: str, cuda_available: bool) -> str:
    if device == "auto":
        return "cuda" if cuda_available else "cpu"
    if device.startswith("cuda") and not cuda_available:
        raise LidError(f"language.device = {device!r}, but no CUDA device is available")
    return device


def _pad(clip: np.ndarray) -> np.ndarray:
    """Zero-pad (or cut) to 30 s, as Whisper pads audio before the log-mel."""
    out = np.zeros(CHUNK_SAMPLES, dtype=np.float32)
    n = min(len(clip), CHUNK_SAMPLES)
    out[:n] = clip[:n]
    return out


class Ct2Lid:
    kind = "ctranslate2"

    def __init__(self, path: str, device: str):
        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        dev = _device(device, ctranslate2.get_cuda_device_count() > 0)
        name, _, index = dev.partition(":")
        pre = Path(path) / "preprocessor_config.json"  # large-v3 style folders say 128 mel bins here
        n_mels = json.loads(pre.read_text()).get("feature_size", 80) if pre.is_file() else 80
        self.features = FeatureExtractor(feature_size=n_mels)
        self.model = ctranslate2.models.Whisper(
            path,
            device=name,
            device_index=int(index or 0),
            compute_type="int8" if name == "cpu" else "default",  # int8: 1.4x faster on CPU, same top-1 here
            # CTranslate2's own default is 4 threads: more than a small machine has cores, which slows it
            intra_threads=threads() or min(4, os.cpu_count() or 4),
            inter_threads=1,
        )
        if not self.model.is_multilingual:
            raise LidError(f"{path}: an English-only Whisper model cannot identify languages")
        self.tokenizer = _ct2_tokenizer(path)

    def probs(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        import ctranslate2

        mels = np.stack([self.features(_pad(c), padding=0)[:, :3000] for c in clips]).astype(np.float32)
        results = self.model.detect_language(ctranslate2.StorageView.from_array(np.ascontiguousarray(mels)))
        return [{iso(tok[2:-2]): float(p) for tok, p in res} for res in results]

    def transcribe(
        self, clips: list[np.ndarray], languages: list[str], translate: list[bool] | None = None
    ) -> list[str]:
        import ctranslate2

        mels = np.stack([self.features(_pad(c), padding=0)[:, :3000] for c in clips]).astype(np.float32)
        tasks = ["<|translate|>" if t else "<|transcribe|>" for t in translate or [False] * len(clips)]
        prompts = [
            ["<|startoftranscript|>", f"<|{whisper(lang)}|>", task, "<|notimestamps|>"]
            for lang, task in zip(languages, tasks)
        ]
        out = self.model.generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(mels)), prompts, beam_size=1, max_length=448
        )
        eot = self.tokenizer.token_to_id("<|endoftext|>")
        return [self.tokenizer.decode([t for t in r.sequences_ids[0] if t < eot]).strip() for r in out]

    def timed(self, clips: list[np.ndarray], languages: list[str]) -> list[list[tuple[int, int, str]]]:
        """Whisper's segments with their timestamp tokens: (start_ms, end_ms, text) per clip, times
        relative to the clip's start (20 ms steps), in one batched call."""
        import ctranslate2

        mels = np.stack([self.features(_pad(c), padding=0)[:, :3000] for c in clips]).astype(np.float32)
        prompts = [["<|startoftranscript|>", f"<|{whisper(lang)}|>", "<|transcribe|>"] for lang in languages]
        out = self.model.generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(mels)), prompts, beam_size=1, max_length=448
        )
        eot = self.tokenizer.token_to_id("<|endoftext|>")
        ts_begin = self.tokenizer.token_to_id("<|notimestamps|>") + 1
        return [_timed_segments(r.sequences_ids[0], eot, ts_begin, self.tokenizer.decode) for r in out]


def _timed_segments(ids: list[int], eot: int, ts_begin: int, decode: Any) -> list[tuple[int, int, str]]:
    """<|0.00|> text <|2.40|><|2.40|> text <|5.00|> ... -> [(0, 2400, text), (2400, 5000, text)]."""
    out: list[tuple[int, int, str]] = []
    start: int | None = None
    text: list[int] = []
    for t in ids:
        if t >= ts_begin:
            ms = (t - ts_begin) * 20
            if start is not None and text:
                out.append((start, ms, decode(text).strip()))
                start, text = None, []
            else:
                start = ms
        elif t < eot:
            text.append(t)
    return out


def _ct2_tokenizer(path: str) -> Any:  # a tokenizers.Tokenizer
    """The folder's tokenizer.json, else Whisper's multilingual vocabulary bundled with wsdata."""
    import tokenizers

    from wsdata.vocab import Vocab

    file = Path(path) / "tokenizer.json"
    return tokenizers.Tokenizer.from_file(str(file)) if file.is_file() else Vocab.bundled().tokenizer


class HfLid:
    kind = "transformers"

    def __init__(self, spec: str, device: str):
        import torch
        from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration
        from transformers.utils import cached_file

        if threads():
            torch.set_num_threads(threads())
        self.torch = torch
        self.device = _device(device, torch.cuda.is_available())
        self.model = WhisperForConditionalGeneration.from_pretrained(spec).eval().to(self.device)
        n_mels = self.model.config.num_mel_bins
        try:
            self.features = WhisperFeatureExtractor.from_pretrained(spec)
        except (OSError, ValueError):  # a bare training checkpoint: Whisper's standard frontend
            self.features = WhisperFeatureExtractor(feature_size=n_mels)
        # generation_config.json read as JSON: some transformers versions drop its Whisper-only keys.
        gen_file = cached_file(spec, "generation_config.json", _raise_exceptions_for_missing_entries=False)
        gen = json.loads(Path(gen_file).read_text(encoding="utf-8")) if gen_file else {}
        lang_to_id = gen.get("lang_to_id") or getattr(self.model.generation_config, "lang_to_id", None) or {}
        if not lang_to_id:
            raise LidError(f"{spec}: generation_config.json has no lang_to_id (not a multilingual Whisper)")
        self.codes = [iso(t[2:-2]) for t in lang_to_id]
        self.ids = torch.tensor(list(lang_to_id.values()), device=self.device)
        self.sot = gen.get("decoder_start_token_id") or self.model.config.decoder_start_token_id

    def probs(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        torch = self.torch
        feats = self.features([_pad(c) for c in clips], sampling_rate=16000, return_tensors="pt").input_features
        with torch.inference_mode():
            enc = self.model.get_encoder()(feats.to(self.device, self.model.dtype))
            start = torch.full((len(clips), 1), self.sot, device=self.device)
            logits = self.model(encoder_outputs=enc, decoder_input_ids=start).logits[:, -1]
            p = torch.softmax(logits[:, self.ids].float(), dim=-1).cpu().numpy()
        return [dict(zip(self.codes, map(float, row))) for row in p]

    def transcribe(
        self, clips: list[np.ndarray], languages: list[str], translate: list[bool] | None = None
    ) -> list[str]:
        from wsdata.train.decode import greedy
        from wsdata.vocab import Vocab

        torch, vocab = self.torch, Vocab.bundled()
        feats = self.features([_pad(c) for c in clips], sampling_rate=16000, return_tensors="pt").input_features
        tasks = [vocab.translate if t else vocab.transcribe for t in translate or [False] * len(clips)]
        prefixes = [
            [vocab.sot, vocab.lang(whisper(lang)), task, vocab.notimestamps] for lang, task in zip(languages, tasks)
        ]
        with torch.inference_mode():
            enc = self.model.get_encoder()(feats.to(self.device, self.model.dtype))
            ids = greedy(self.model, enc, prefixes, vocab)
        return [vocab.decode(t).strip() for t in ids]


@functools.lru_cache(maxsize=2)
def load_audio_lid(spec: str, device: str = "auto") -> AudioLid:
    """The detector for `spec`, loaded once per process. Raises LidError with the reason."""
    kind = model_kind(spec)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return Ct2Lid(spec, device) if kind == "ctranslate2" else HfLid(spec, device)
    except ImportError as e:
        extra = "lid" if kind == "ctranslate2" else "train"
        raise LidError(f"{spec}: the {kind} backend needs `pip install 'wsdata[{extra}]'` ({e})") from None


def combine(dists: list[dict[str, float]], weights: list[float]) -> dict[str, float]:
    """Weighted mean of per-clip language distributions (weights: seconds of speech per clip)."""
    total = sum(weights) or 1.0
    out: dict[str, float] = {}
    for d, w in zip(dists, weights):
        for k, v in d.items():
            out[k] = out.get(k, 0.0) + v * w / total
    return out
