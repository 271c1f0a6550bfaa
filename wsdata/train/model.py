"""Model sizes (the paper's Table 1), building a model from scratch or a checkpoint, and saving a
run's model so that `from_pretrained` and `wsdata build --audio-lid RUN/model` load it."""

from __future__ import annotations

from pathlib import Path

import torch

from wsdata.train.vocab import Vocab

# name: (layers, width, heads, peak learning rate (Table 19))
SIZES = {
    "tiny": (4, 384, 6, 1.5e-3),
    "base": (6, 512, 8, 1e-3),
    "small": (12, 768, 12, 5e-4),
    "medium": (24, 1024, 16, 2.5e-4),
    "large": (32, 1280, 20, 1.75e-4),
}


def config_for(size: str, vocab: Vocab, n_mels: int = 80, **override: int):  # noqa: ANN201 - WhisperConfig
    from transformers import WhisperConfig

    if size not in SIZES:
        raise ValueError(f"--model {size!r}: one of {', '.join(SIZES)}")
    layers, width, heads, _ = SIZES[size]
    kw = dict(vocab_size=vocab.n_vocab, d_model=width, encoder_layers=layers, decoder_layers=layers,
              encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=4 * width,
              decoder_ffn_dim=4 * width, num_mel_bins=n_mels, max_source_positions=1500, max_target_positions=448,
              decoder_start_token_id=vocab.sot, pad_token_id=vocab.eot, bos_token_id=vocab.eot,
              eos_token_id=vocab.eot)  # fmt: skip
    kw.update(override)
    return WhisperConfig(**kw)


def build(size: str | None, init: str | None, vocab: Vocab, attn: str = "sdpa", **override: int):  # noqa: ANN201
    from transformers import WhisperForConditionalGeneration

    if init:
        return WhisperForConditionalGeneration.from_pretrained(init, attn_implementation=attn)
    torch.manual_seed(0)  # the same initial weights for the same size, on every rank
    return WhisperForConditionalGeneration(config_for(size or "tiny", vocab, **override))


def save(model: torch.nn.Module, vocab: Vocab, folder: Path) -> Path:
    """A Hugging Face Whisper folder: weights, config, generation config with the language ids,
    tokenizer.json and the feature extractor's config. Written to a temp name, then renamed."""
    import shutil

    from transformers import WhisperFeatureExtractor

    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    gen = model.generation_config
    gen.decoder_start_token_id = vocab.sot
    gen.lang_to_id = {f"<|{k}|>": v for k, v in vocab.langs.items()}
    gen.task_to_id = {"translate": vocab.translate, "transcribe": vocab.transcribe}
    gen.no_timestamps_token_id = vocab.notimestamps
    gen.is_multilingual = True
    model.save_pretrained(tmp)
    (tmp / "tokenizer.json").write_text(vocab.json_text, encoding="utf-8")
    WhisperFeatureExtractor(feature_size=model.config.num_mel_bins).save_pretrained(tmp)
    # generation_config.json as JSON too: some transformers versions drop the Whisper-only keys
    import json

    gpath = tmp / "generation_config.json"
    g = json.loads(gpath.read_text()) if gpath.exists() else {}
    g.update(decoder_start_token_id=vocab.sot, lang_to_id=gen.lang_to_id, task_to_id=gen.task_to_id,
             no_timestamps_token_id=vocab.notimestamps, is_multilingual=True)  # fmt: skip
    gpath.write_text(json.dumps(g, indent=1), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def flops_per_sample(config, n_tokens: float) -> float:  # noqa: ANN001
    """Training FLOPs of one 30 s sample (6 x parameters x positions, plus attention)."""
    d, le, ld = config.d_model, config.encoder_layers, config.decoder_layers
    enc = le * 12 * d * d * 1500 + le * 2 * 1500 * 1500 * d  # matmuls + attention scores
    dec = ld * 16 * d * d * n_tokens + ld * 2 * n_tokens * n_tokens * d + ld * 4 * n_tokens * 1500 * d
    head = 2 * d * config.vocab_size * n_tokens
    conv = 2 * (3 * config.num_mel_bins * d * 3000 + 3 * d * d * 1500)
    return 3.0 * (enc + dec + head + conv)  # forward + backward (x2)
