"""Model sizes (the paper's Table 1), building a model from scratch or a checkpoint, saving a run's
model so that `from_pretrained` and `wsdata build --audio-lid RUN/model` load it, and the FLOPs
count behind the MFU figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from wsdata.constants import MAX_TARGET_TOKENS
from wsdata.io import atomic
from wsdata.modelspec import json_object
from wsdata.train.args import SIZES
from wsdata.vocab import Vocab

if TYPE_CHECKING:  # transformers is imported where it is used: `wsdata train --help` stays quick
    from transformers import WhisperConfig, WhisperForConditionalGeneration

# dense bf16 FLOP/s by device name, for MFU; the first name found in torch.cuda.get_device_name() wins
PEAK_FLOPS = {"H100 PCIe": 756e12, "H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12}
FINE_TUNE_LR = 1e-5  # default peak learning rate with --init: the paper's rates would undo the checkpoint
ENCODER_POSITIONS = 1500  # 3,000 mel frames after the stride-2 convolution


def config_for(size: str, vocab: Vocab, n_mels: int = 80, attn: str = "sdpa", **override: int) -> WhisperConfig:
    from transformers import WhisperConfig

    if size not in SIZES:
        raise ValueError(f"--model {size!r}: one of {', '.join(SIZES)}")
    layers, width, heads, _ = SIZES[size]
    kw = {
        "vocab_size": vocab.n_vocab,
        "d_model": width,
        "encoder_layers": layers,
        "decoder_layers": layers,
        "encoder_attention_heads": heads,
        "decoder_attention_heads": heads,
        "encoder_ffn_dim": 4 * width,
        "decoder_ffn_dim": 4 * width,
        "num_mel_bins": n_mels,
        "max_source_positions": ENCODER_POSITIONS,
        "max_target_positions": MAX_TARGET_TOKENS,
        "decoder_start_token_id": vocab.sot,
        "pad_token_id": vocab.eot,
        "bos_token_id": vocab.eot,
        "eos_token_id": vocab.eot,
        "attn_implementation": attn,
    }
    return WhisperConfig(**(kw | override))


def build(
    size: str | None, init: str | None, vocab: Vocab, n_mels: int = 80, attn: str = "sdpa", **override: int
) -> WhisperForConditionalGeneration:
    """A checkpoint (`init`: a folder or Hugging Face id) or a new model of a paper size, with
    Gaussian fan-in initialisation (Appendix F) of its linear and convolution weights."""
    from transformers import WhisperForConditionalGeneration

    if init:
        model = from_pretrained(init, attn_implementation=attn)
        if model.config.vocab_size != vocab.n_vocab:
            raise ValueError(
                f"--init {init}: {model.config.vocab_size} token embeddings but its tokenizer has {vocab.n_vocab} ids"
            )
        return model
    torch.manual_seed(0)  # the same initial weights for the same size, on every rank
    model = WhisperForConditionalGeneration(config_for(size or "tiny", vocab, n_mels, attn, **override))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d)):
                fan_in = m.weight[0].numel()  # in_features, or in_channels x kernel
                m.weight.normal_(0.0, fan_in**-0.5)
                if m.bias is not None:
                    m.bias.zero_()
    return model


def save(model: torch.nn.Module, vocab: Vocab, folder: Path) -> Path:
    """A Hugging Face Whisper folder: weights, config, generation config with the language ids,
    tokenizer.json and the feature extractor's config. Written to a temp name, then renamed."""
    from transformers import WhisperFeatureExtractor

    folder = Path(folder)
    atomic.remove(folder)  # a folder cannot be renamed over a non-empty one
    with atomic.atomic_path(folder) as tmp:
        _save_into(model, vocab, tmp, WhisperFeatureExtractor)
    return folder


def _save_into(model: torch.nn.Module, vocab: Vocab, tmp: Path, feature_extractor: type) -> None:
    gen = model.generation_config
    gen.decoder_start_token_id = vocab.sot
    gen.lang_to_id = {f"<|{k}|>": v for k, v in vocab.langs.items()}
    gen.task_to_id = {"translate": vocab.translate, "transcribe": vocab.transcribe}
    gen.no_timestamps_token_id = vocab.notimestamps
    gen.is_multilingual = True
    # what transformers' long-form `generate` needs: <|startofprev|> for conditioning on the previous
    # text, and the first timestamp within 1 s as openai-whisper decodes
    gen.prev_sot_token_id = vocab.prev
    gen.max_initial_timestamp_index = 50
    model.save_pretrained(tmp)
    (tmp / "tokenizer.json").write_text(vocab.json_text, encoding="utf-8")
    feature_extractor(feature_size=model.config.num_mel_bins).save_pretrained(tmp)
    # generation_config.json as JSON too: some transformers versions drop the Whisper-only keys
    gpath = tmp / "generation_config.json"
    g = json.loads(gpath.read_text()) if gpath.exists() else {}
    g.update(
        # transformers replaces a generation config marked as derived from the model config on load,
        # which drops these Whisper-only keys
        _from_model_config=False,
        decoder_start_token_id=vocab.sot,
        lang_to_id=gen.lang_to_id,
        task_to_id=gen.task_to_id,
        no_timestamps_token_id=vocab.notimestamps,
        is_multilingual=True,
        prev_sot_token_id=vocab.prev,
        max_initial_timestamp_index=50,
    )
    gpath.write_text(json.dumps(g, indent=1), encoding="utf-8")


WHISPER_GENERATION_KEYS = (
    "lang_to_id",
    "task_to_id",
    "no_timestamps_token_id",
    "is_multilingual",
    "prev_sot_token_id",
    "max_initial_timestamp_index",
    "alignment_heads",
    "suppress_tokens",
    "begin_suppress_tokens",
)


def from_pretrained(spec: str | Path, **kw: object) -> WhisperForConditionalGeneration:
    """transformers' `from_pretrained` of a folder or hub id, weights as tensors only (safetensors,
    or a .bin with weights_only=True). A folder may come from anyone: a config.json that is no JSON
    object, or one transformers cannot build a Whisper model from, is one message, not a traceback."""
    from transformers import WhisperForConditionalGeneration

    if Path(spec).is_dir():  # the JSON files transformers reads: objects, or one line saying what they are
        json_object(Path(spec) / "config.json")
        if (Path(spec) / "generation_config.json").exists():
            json_object(Path(spec) / "generation_config.json")
    try:
        return WhisperForConditionalGeneration.from_pretrained(spec, weights_only=True, **kw)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise ValueError(f"{spec}: not a Whisper model transformers can load ({type(e).__name__}: {first})") from None


def load(folder: str | Path, **kw: object) -> WhisperForConditionalGeneration:
    """`from_pretrained(folder)` with the Whisper-only keys of its generation_config.json restored:
    transformers drops them from a config marked `_from_model_config` (runs saved before that was
    cleared), and its long-form `generate` needs them."""
    model = from_pretrained(folder, **kw)
    gpath = Path(folder) / "generation_config.json"
    if gpath.exists():
        g = json_object(gpath)
        for k in WHISPER_GENERATION_KEYS:
            if k in g and getattr(model.generation_config, k, None) is None:
                setattr(model.generation_config, k, g[k])
    return model


def flops_per_sample(config: WhisperConfig, n_tokens: float) -> float:
    """Matmul FLOPs of one training step on one 30 s sample with `n_tokens` decoder positions:
    forward 2 per multiply-add, backward 4 (gradients of inputs and weights), except the first
    convolution, whose input (the log-mel) needs no gradient. Attention counts the full square, as
    SDPA computes it; norms, softmax and activations are left out (the usual MFU convention)."""
    d, te, n = config.d_model, ENCODER_POSITIONS, n_tokens
    conv1 = 3 * config.num_mel_bins * d * 2 * te  # kernel 3 over 3,000 frames (multiply-adds)
    conv2 = 3 * d * d * te  # kernel 3, stride 2
    ffn_e, ffn_d = config.encoder_ffn_dim, config.decoder_ffn_dim
    enc = config.encoder_layers * ((4 * d * d + 2 * d * ffn_e) * te + 2 * te * te * d)
    dec = config.decoder_layers * (
        (4 * d * d + 2 * d * d + 2 * d * ffn_d) * n  # self q k v o, cross q o, MLP
        + 2 * d * d * te  # cross-attention k v over the encoder output
        + 2 * n * n * d
        + 2 * n * te * d  # self and cross attention scores and sums
    )
    head = d * config.vocab_size * n
    return 6.0 * (conv2 + enc + dec + head) + 4.0 * conv1


def peak_flops(device_name: str) -> float | None:
    """Dense bf16 FLOP/s of a GPU named like torch.cuda.get_device_name(); None when unknown."""
    return next((v for k, v in PEAK_FLOPS.items() if k in device_name), None)
