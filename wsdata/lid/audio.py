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
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from wsdata import modelspec
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

    def timed(self, clips: list[np.ndarray], languages: list[str]) -> list[list[tuple[int, int, str]]]:
        """Whisper's segments with their timestamp tokens: (start_ms, end_ms, text) per clip, times
        relative to the clip's start (20 ms steps), in one batched call."""
        ...


def model_kind(spec: str) -> str:
    p = Path(spec)
    if p.is_dir():
        if (p / "model.bin").is_file() and any((p / f).is_file() for f in ("vocabulary.json", "vocabulary.txt")):
            return "ctranslate2"
        cfg = p / "config.json"
        if cfg.is_file() and _json(cfg).get("model_type") == "whisper":
            return "transformers"
        raise LidError(
            f"{spec}: neither a CTranslate2 Whisper folder (model.bin + vocabulary) nor a "
            "Hugging Face Whisper folder (config.json with model_type whisper)"
        )
    if p.is_file() and p.suffix == ".pt":
        return "openai"
    if p.exists():
        raise LidError(f"{spec}: a file, not a model folder (or an openai-whisper .pt)")
    if spec.count("/") != 1 or spec.startswith((".", "/")):
        raise LidError(f"{spec}: no such folder, and not a Hugging Face model id (owner/name)")
    return "transformers"  # a hub id: transformers resolves (and caches) it


def _json(path: Path) -> dict[str, Any]:
    """A model folder's JSON object, or LidError (one line) for an empty, broken or non-object file."""
    try:
        return modelspec.json_object(path)
    except modelspec.ModelFileError as e:
        raise LidError(str(e)) from None


def _reason(e: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:300]}" if text else type(e).__name__


def _failed(spec: str, e: BaseException) -> LidError:
    """The model loaded but cannot run (CTranslate2's or torch's own RuntimeError, ValueError or
    IndexError: weights of the wrong shape, a broken vocabulary): one line that names it. It is the
    model, not one clip, so the caller stops instead of rejecting every document."""
    return LidError(f"{spec}: the model failed to run ({_reason(e)})")


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
    """Language ID runs the model with a thread per core: it is mostly the encoder, whose large
    matrices split well across threads. Transcription (`--asr`, re-timing, `wsdata score`) on CPU runs
    on a second copy of the model made of single-thread replicas, one per core (CTranslate2's
    inter_threads, which share one copy of the weights), and splits each batch across them: the
    decoder's clip-sized matrices do not split well, and one model with 2 threads spent a third of
    its CPU spin-waiting and was no faster than with 1 (bench/asr.py, 2 cores). There each clip is
    encoded on its own: a batch of 8 through the encoder costs 1.25x the CPU of 8 single clips (its
    attention matrices, 8 x 8 heads x 1500^2 floats, leave the caches)."""

    kind = "ctranslate2"

    def __init__(self, path: str, device: str):
        from wsdata.lid import ct2

        pre = Path(path) / "preprocessor_config.json"  # large-v3 style folders say 128 mel bins here
        n_mels = _json(pre).get("feature_size", 80) if pre.is_file() else 80
        if type(n_mels) is not int or not 1 <= n_mels <= 1024:
            raise LidError(f"{pre}: feature_size {n_mels!r} is not a number of mel bins")
        try:  # before CTranslate2 reads it: a head count of 0 kills the process (SIGFPE), not an exception
            ct2.check_whisper(Path(path), n_mels)
            ct2.check_files(Path(path))
        except (ct2.Ct2Error, modelspec.ModelFileError, OSError) as e:
            raise LidError(str(e)) from None
        self.path = path
        self.tokenizer = _ct2_tokenizer(path)  # before the weights: a broken tokenizer.json fails at once

        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        dev = _device(device, ctranslate2.get_cuda_device_count() > 0)
        name, _, index = dev.partition(":")
        self.features = FeatureExtractor(feature_size=n_mels)
        self.on_cpu = name == "cpu"
        n_threads = threads() or cores()
        self._load = functools.partial(
            ctranslate2.models.Whisper,
            path,
            device=name,
            device_index=int(index or 0),
            compute_type="int8" if self.on_cpu else "default",  # int8: 1.4x faster on CPU, same top-1 here
        )
        try:  # CTranslate2 reads model.bin, config.json and the vocabulary itself: RuntimeError or ValueError
            # CTranslate2's own default is 4 threads: more than a small machine has cores, which slows it
            self.model = self._load(intra_threads=n_threads if self.on_cpu else 0)
        except (RuntimeError, ValueError, IndexError) as e:
            raise LidError(f"{path}: CTranslate2 cannot load it ({_reason(e)})") from None
        if not self.model.is_multilingual:
            raise LidError(f"{path}: an English-only Whisper model cannot identify languages")
        self.workers = n_threads if self.on_cpu else 1
        self._decoder: Any = None  # the replicas, made on the first transcription
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None

    def _mel(self, clip: np.ndarray) -> np.ndarray:
        """(n_mels, 3000) float32 log-mel of a clip padded with silence to 30 s."""
        return self.features(_pad(clip), padding=0)[:, :3000].astype(np.float32)

    def probs(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        import ctranslate2

        mels = np.stack([self._mel(c) for c in clips])
        try:
            results = self.model.detect_language(ctranslate2.StorageView.from_array(np.ascontiguousarray(mels)))
        except (RuntimeError, ValueError, IndexError) as e:
            raise _failed(self.path, e) from None
        if any(not (tok.startswith("<|") and tok.endswith("|>")) for res in results for tok, _ in res):
            raise LidError(f"{self.path}: its language tokens are not Whisper's <|xx|> (config.json lang_ids)")
        return [{iso(tok[2:-2]): float(p) for tok, p in res} for res in results]

    def _generate(self, clips: list[np.ndarray], prompts: list[list[str]]) -> list[list[int]]:
        try:
            return self._generate_parts(clips, prompts)
        except (RuntimeError, ValueError, IndexError) as e:  # LidError is a RuntimeError: kept as it is
            raise e if isinstance(e, LidError) else _failed(self.path, e) from None

    def _generate_parts(self, clips: list[np.ndarray], prompts: list[list[str]]) -> list[list[int]]:
        """Greedy token ids after each prompt: `workers` contiguous parts of the batch at once
        (CTranslate2 releases the GIL and gives each calling thread a free replica)."""
        import ctranslate2

        if self._decoder is None:
            self._decoder = self._load(intra_threads=1, inter_threads=self.workers) if self.workers > 1 else self.model

        def run(part: list[int]) -> list[list[int]]:
            mels = [self._mel(clips[i]) for i in part]
            if self.on_cpu:  # one clip at a time through the encoder (see the class's note)
                one = [np.asarray(self._decoder.encode(ctranslate2.StorageView.from_array(m[None]))) for m in mels]
                enc = ctranslate2.StorageView.from_array(np.concatenate(one))
            else:
                enc = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(mels)))
            out = self._decoder.generate(enc, [prompts[i] for i in part], beam_size=1, max_length=448)
            return [r.sequences_ids[0] for r in out]

        size = -(-len(clips) // self.workers)
        parts = [list(range(i, min(i + size, len(clips)))) for i in range(0, len(clips), size)]
        if self._pool is None or len(parts) < 2:
            return [r for part in parts for r in run(part)]
        return [r for rs in self._pool.map(run, parts) for r in rs]

    def transcribe(
        self, clips: list[np.ndarray], languages: list[str], translate: list[bool] | None = None
    ) -> list[str]:
        tasks = ["<|translate|>" if t else "<|transcribe|>" for t in translate or [False] * len(clips)]
        prompts = [
            ["<|startoftranscript|>", f"<|{whisper(lang)}|>", task, "<|notimestamps|>"]
            for lang, task in zip(languages, tasks)
        ]
        eot = self.tokenizer.token_to_id("<|endoftext|>")
        return [self.tokenizer.decode([t for t in ids if t < eot]).strip() for ids in self._generate(clips, prompts)]

    def timed(self, clips: list[np.ndarray], languages: list[str]) -> list[list[tuple[int, int, str]]]:
        prompts = [["<|startoftranscript|>", f"<|{whisper(lang)}|>", "<|transcribe|>"] for lang in languages]
        eot = self.tokenizer.token_to_id("<|endoftext|>")
        ts_begin = self.tokenizer.token_to_id("<|notimestamps|>") + 1
        return [_timed_segments(ids, eot, ts_begin, self.tokenizer.decode) for ids in self._generate(clips, prompts)]


def cores() -> int:
    """CPU cores this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    from wsdata.vocab import Vocab

    if not (Path(path) / "tokenizer.json").is_file():
        return Vocab.bundled().tokenizer
    try:  # read as data, bounded, and checked to be a Whisper tokenizer
        return Vocab.from_folder(Path(path)).tokenizer
    except (OSError, ValueError) as e:
        raise LidError(f"{path}: {e}" if str(path) not in str(e) else str(e)) from None


class HfLid:
    kind = "transformers"

    def __init__(self, spec: str, device: str):
        import torch
        from transformers import WhisperFeatureExtractor
        from transformers.utils import cached_file

        if threads():
            torch.set_num_threads(threads())
        self.torch = torch
        self.device = _device(device, torch.cuda.is_available())
        self.spec = spec
        for name in ("config.json", "generation_config.json", "preprocessor_config.json"):
            if (Path(spec) / name).is_file():  # a local folder's JSON, read as data before transformers does
                _json(Path(spec) / name)
        self.model = _hf_model(spec, self.device)
        n_mels = self.model.config.num_mel_bins
        try:
            self.features = WhisperFeatureExtractor.from_pretrained(spec)
        except (OSError, ValueError):  # a bare training checkpoint: Whisper's standard frontend
            self.features = WhisperFeatureExtractor(feature_size=n_mels)
        # generation_config.json read as JSON: some transformers versions drop its Whisper-only keys.
        gen_file = cached_file(spec, "generation_config.json", _raise_exceptions_for_missing_entries=False)
        gen = _json(Path(gen_file)) if gen_file else {}
        lang_to_id = gen.get("lang_to_id") or getattr(self.model.generation_config, "lang_to_id", None) or {}
        if not lang_to_id:
            raise LidError(f"{spec}: generation_config.json has no lang_to_id (not a multilingual Whisper)")
        ids = self.model.config.vocab_size
        if not isinstance(lang_to_id, dict) or not all(
            isinstance(t, str) and type(i) is int and 0 <= i < ids for t, i in lang_to_id.items()
        ):
            raise LidError(f"{spec}: generation_config.json's lang_to_id is not a map of tokens to ids below {ids}")
        self.codes = [iso(t[2:-2]) for t in lang_to_id]
        self.ids = torch.tensor(list(lang_to_id.values()), device=self.device)
        self.sot = gen.get("decoder_start_token_id") or self.model.config.decoder_start_token_id
        # what the checkpoint never emits (symbols), and never first (a blank, EOT); none for a wsdata run
        self.suppress = {
            "suppress": gen.get("suppress_tokens") or [],
            "suppress_at_start": gen.get("begin_suppress_tokens") or [],
        }

    def probs(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        try:
            return self._probs(clips)
        except (RuntimeError, ValueError, IndexError) as e:  # torch's: the weights do not fit the input
            raise _failed(self.spec, e) from None

    def _probs(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
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
        try:
            return self._transcribe(clips, languages, translate)
        except (RuntimeError, ValueError, IndexError) as e:
            raise _failed(self.spec, e) from None

    def _transcribe(
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
            ids = greedy(self.model, enc, prefixes, vocab, **self.suppress)
        return [vocab.decode(t).strip() for t in ids]

    def timed(self, clips: list[np.ndarray], languages: list[str]) -> list[list[tuple[int, int, str]]]:
        try:
            return self._timed(clips, languages)
        except (RuntimeError, ValueError, IndexError) as e:
            raise _failed(self.spec, e) from None

    def _timed(self, clips: list[np.ndarray], languages: list[str]) -> list[list[tuple[int, int, str]]]:
        from wsdata.train.decode import greedy
        from wsdata.vocab import Vocab

        torch, vocab = self.torch, Vocab.bundled()
        feats = self.features([_pad(c) for c in clips], sampling_rate=16000, return_tensors="pt").input_features
        prefixes = [[vocab.sot, vocab.lang(whisper(lang)), vocab.transcribe] for lang in languages]
        with torch.inference_mode():
            enc = self.model.get_encoder()(feats.to(self.device, self.model.dtype))
            ids = greedy(
                self.model, enc, prefixes, vocab, max_tokens=448 - len(prefixes[0]), timestamps=True, **self.suppress
            )
        return [_timed_segments(t, vocab.eot, vocab.ts_begin, vocab.decode) for t in ids]


def _hf_model(spec: str, device: str) -> Any:  # a WhisperForConditionalGeneration
    """transformers' Whisper from `spec`. A hub id that cannot be had is an OSError (handled by the
    caller); a local folder that transformers cannot build a model from is a LidError, whatever
    transformers raised for it (a config.json of the wrong types: TypeError, AttributeError, ...)."""
    from transformers import WhisperForConditionalGeneration

    try:
        return WhisperForConditionalGeneration.from_pretrained(spec).eval().to(device)
    except ImportError:
        raise
    except Exception as e:  # transformers raises many kinds for a broken folder
        if not Path(spec).exists():
            raise
        raise LidError(f"{spec}: transformers cannot load it ({_reason(e)})") from None


@functools.lru_cache(maxsize=2)
def load_audio_lid(spec: str, device: str = "auto") -> AudioLid:
    """The detector for `spec`, loaded once per process. Raises LidError with the reason."""
    if why := modelspec.missing(spec):
        raise LidError(why)
    if (Path(spec) / "model" / "config.json").is_file():  # a `wsdata train` run: its model/
        spec = str(Path(spec) / "model")
    kind = model_kind(spec)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        if kind == "openai":  # converted once to a Hugging Face folder in wsdata's cache
            from wsdata.cache import cache_dir
            from wsdata.train.convert import ConvertError, converted

            try:
                spec = converted(spec, cache_dir() / "models")
            except (ConvertError, modelspec.ModelFileError) as e:
                raise LidError(str(e)) from None
        return Ct2Lid(spec, device) if kind == "ctranslate2" else HfLid(spec, device)
    except ImportError as e:
        extra = "lid" if kind == "ctranslate2" else "train"
        raise LidError(f"{spec}: the {kind} backend needs `pip install 'wsdata[{extra}]'` ({e})") from None
    except (OSError, ValueError) as e:  # transformers' hub errors: not found, offline, a bad id
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        if Path(spec).exists():  # a local folder or file that could not be read
            raise LidError(f"{spec}: cannot load it ({first})") from None
        raise LidError(f"{spec}: not a local folder, and no Hugging Face model could be had ({first})") from None


def combine(dists: list[dict[str, float]], weights: list[float]) -> dict[str, float]:
    """Weighted mean of per-clip language distributions (weights: seconds of speech per clip)."""
    total = sum(weights) or 1.0
    out: dict[str, float] = {}
    for d, w in zip(dists, weights):
        for k, v in d.items():
            out[k] = out.get(k, 0.0) + v * w / total
    return out
