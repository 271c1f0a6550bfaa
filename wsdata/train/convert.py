"""Any Whisper checkpoint as a Hugging Face Whisper folder, for `--init`, `transcribe`, `evaluate`,
`--audio-lid` and `--asr`:

- a Hugging Face id or folder: used as it is;
- a CTranslate2 Whisper folder (`model.bin` + vocabulary, as faster-whisper loads): its variables
  read from `model.bin` (the layout CTranslate2's `ModelSpec._serialize` writes, binary version 6)
  and mapped back to transformers' names, fused attention projections split again. float32, float16
  and bfloat16 weights convert exactly (kept as float32); int8/int16-quantised folders are refused;
- an openai-whisper `.pt` checkpoint (`~/.cache/whisper/base.pt`): its `dims` and `model_state_dict`
  mapped to transformers' names. transformers 5 no longer ships its conversion script
  (`convert_openai_to_hf.py`), so the same renaming is done here.

A conversion is written once, atomically, to a folder named after the source's size and mtime
(`converted(spec, cache)`), and found there the next time.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from wsdata import modelspec
from wsdata.lid import ct2
from wsdata.train import safeload


class ConvertError(ValueError):
    """The checkpoint cannot be converted; the message says why."""


def kind(spec: str) -> str:
    """ "ctranslate2", "openai" (a .pt file) or "transformers" (a folder or hub id, used as is)."""
    p = Path(spec)
    if p.is_dir() and (p / "model.bin").is_file():
        return "ctranslate2"
    if p.suffix == ".pt" and p.is_file():
        return "openai"
    return "transformers"


def converted(spec: str, cache: Path) -> str:
    """A Hugging Face Whisper folder for `spec`: `spec` itself when it is one (or a hub id), else its
    conversion under `cache`, made on the first call."""
    k = kind(spec)
    if k == "transformers":
        return spec
    src = Path(spec).resolve()
    stat = (src / "model.bin" if k == "ctranslate2" else src).stat()
    key = hashlib.sha256(f"{src}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    dest = Path(cache) / f"{src.stem}-{k}-{key}"
    if (dest / "config.json").is_file():
        return str(dest)
    state, config, gen = read_ct2(src) if k == "ctranslate2" else read_openai(src)
    _write(state, config, gen, dest)
    return str(dest)


# --- CTranslate2 ---------------------------------------------------------------------------------


def read_ct2_variables(path: Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 `model.bin`, by name (aliases resolved)."""
    try:
        return ct2.read_variables(path)
    except ct2.Ct2Error as e:
        raise ConvertError(str(e)) from None


def read_ct2(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
    """(transformers state dict as float32 arrays, WhisperConfig kwargs, generation config) of a
    CTranslate2 Whisper folder."""
    v = read_ct2_variables(folder / "model.bin")
    cfg_file = folder / "config.json"
    cfg = modelspec.json_object(cfg_file) if cfg_file.is_file() else {}
    try:
        gen = {
            "alignment_heads": ct2.int_list(cfg, "alignment_heads", cfg_file, pairs=True),
            "suppress_tokens": ct2.int_list(cfg, "suppress_ids", cfg_file),
            "begin_suppress_tokens": ct2.int_list(cfg, "suppress_ids_begin", cfg_file),
        }
    except ct2.Ct2Error as e:
        raise ConvertError(str(e)) from None
    try:
        return *_read_ct2(folder, v), gen
    except KeyError as e:  # a variable the layout needs is missing
        raise ConvertError(f"{folder}: model.bin has no variable {e.args[0]}: not a Whisper model") from None
    except (ValueError, IndexError) as e:  # shapes that do not split or fit (a ConvertError passes as it is)
        if isinstance(e, ConvertError):
            raise
        raise ConvertError(f"{folder}: model.bin's variables do not fit a Whisper model ({e})") from None


def _read_ct2(folder: Path, v: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    quantised = sorted(k for k in v if k.endswith("weight_scale"))
    if quantised:
        raise ConvertError(
            f"{folder}: a quantised model ({v[quantised[0][: -len('_scale')]].dtype} weights, e.g. "
            f"{quantised[0]}): its original weights are lost. Convert it again without --quantization, "
            "or with float16/float32"
        )
    if "encoder/conv1/weight" not in v or "decoder/embeddings/weight" not in v:
        raise ConvertError(f"{folder}: model.bin is not a Whisper model (no encoder/conv1 or decoder/embeddings)")
    try:  # its head counts: positive integers that divide the width (read below with int())
        ct2.check_whisper(folder, v["encoder/conv1/weight"].shape[1])
    except ct2.Ct2Error as e:
        raise ConvertError(str(e)) from None
    f32 = {k: a.astype(np.float32) for k, a in v.items() if a.dtype.kind == "f" and a.ndim > 0}
    n_enc = _count(f32, "encoder/layer_")
    n_dec = _count(f32, "decoder/layer_")
    sd: dict[str, np.ndarray] = {}
    e, d = "model.encoder", "model.decoder"
    for name in ("conv1", "conv2"):
        sd[f"{e}.{name}.weight"], sd[f"{e}.{name}.bias"] = f32[f"encoder/{name}/weight"], f32[f"encoder/{name}/bias"]
    sd[f"{e}.embed_positions.weight"] = f32["encoder/position_encodings/encodings"]
    _norm(sd, f"{e}.layer_norm", f32, "encoder/layer_norm")
    for i in range(n_enc):
        src, dst = f"encoder/layer_{i}", f"{e}.layers.{i}"
        _fused_qkv(sd, f"{dst}.self_attn", f32, f"{src}/self_attention")
        _norm(sd, f"{dst}.self_attn_layer_norm", f32, f"{src}/self_attention/layer_norm")
        _ffn(sd, dst, f32, src)
    sd[f"{d}.embed_tokens.weight"] = f32["decoder/embeddings/weight"]
    sd[f"{d}.embed_positions.weight"] = f32["decoder/position_encodings/encodings"]
    _norm(sd, f"{d}.layer_norm", f32, "decoder/layer_norm")
    for i in range(n_dec):
        src, dst = f"decoder/layer_{i}", f"{d}.layers.{i}"
        _fused_qkv(sd, f"{dst}.self_attn", f32, f"{src}/self_attention")
        _norm(sd, f"{dst}.self_attn_layer_norm", f32, f"{src}/self_attention/layer_norm")
        att = f"{src}/attention"
        _linear(sd, f"{dst}.encoder_attn.q_proj", f32, f"{att}/linear_0")
        kw, kb = f32[f"{att}/linear_1/weight"], f32[f"{att}/linear_1/bias"]
        half = len(kw) // 2
        sd[f"{dst}.encoder_attn.k_proj.weight"] = kw[:half]  # k has no bias in Whisper: CTranslate2 stores zeros
        sd[f"{dst}.encoder_attn.v_proj.weight"], sd[f"{dst}.encoder_attn.v_proj.bias"] = kw[half:], kb[half:]
        _linear(sd, f"{dst}.encoder_attn.out_proj", f32, f"{att}/linear_2")
        _norm(sd, f"{dst}.encoder_attn_layer_norm", f32, f"{att}/layer_norm")
        _ffn(sd, dst, f32, src)
    sd["proj_out.weight"] = sd[f"{d}.embed_tokens.weight"]
    d_model = sd[f"{d}.embed_tokens.weight"].shape[1]
    config = _config(
        vocab_size=sd[f"{d}.embed_tokens.weight"].shape[0],
        num_mel_bins=sd[f"{e}.conv1.weight"].shape[1],
        d_model=d_model,
        encoder_layers=n_enc,
        decoder_layers=n_dec,
        encoder_attention_heads=int(v["encoder/num_heads"]),
        decoder_attention_heads=int(v["decoder/num_heads"]),
        encoder_ffn_dim=sd[f"{e}.layers.0.fc1.weight"].shape[0],
        decoder_ffn_dim=sd[f"{d}.layers.0.fc1.weight"].shape[0],
        max_source_positions=sd[f"{e}.embed_positions.weight"].shape[0],
        max_target_positions=sd[f"{d}.embed_positions.weight"].shape[0],
    )
    return sd, config


def _fused_qkv(sd: dict, dst: str, v: dict, src: str) -> None:
    """CTranslate2 self-attention: linear_0 = [q; k; v] (k's bias zeros), linear_1 = out."""
    w, b = v[f"{src}/linear_0/weight"], v[f"{src}/linear_0/bias"]
    q, k, val = np.split(w, 3)
    qb, _, vb = np.split(b, 3)
    sd[f"{dst}.q_proj.weight"], sd[f"{dst}.q_proj.bias"] = q, qb
    sd[f"{dst}.k_proj.weight"] = k
    sd[f"{dst}.v_proj.weight"], sd[f"{dst}.v_proj.bias"] = val, vb
    _linear(sd, f"{dst}.out_proj", v, f"{src}/linear_1")


def _ffn(sd: dict, dst: str, v: dict, src: str) -> None:
    _linear(sd, f"{dst}.fc1", v, f"{src}/ffn/linear_0")
    _linear(sd, f"{dst}.fc2", v, f"{src}/ffn/linear_1")
    _norm(sd, f"{dst}.final_layer_norm", v, f"{src}/ffn/layer_norm")


def _linear(sd: dict, dst: str, v: dict, src: str) -> None:
    sd[f"{dst}.weight"], sd[f"{dst}.bias"] = v[f"{src}/weight"], v[f"{src}/bias"]


def _norm(sd: dict, dst: str, v: dict, src: str) -> None:
    sd[f"{dst}.weight"], sd[f"{dst}.bias"] = v[f"{src}/gamma"], v[f"{src}/beta"]


def _count(v: dict, prefix: str) -> int:
    """Layers named prefix + N + "/...": their number (a name such as `encoder/layer_` alone is not one)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)/")
    return len({m.group(1) for k in v if (m := pattern.match(k))})


# --- openai-whisper .pt ---------------------------------------------------------------------------

_OPENAI = (  # openai-whisper name fragment -> transformers name fragment, applied in order
    ("decoder.token_embedding", "decoder.embed_tokens"),
    ("encoder.positional_embedding", "encoder.embed_positions.weight"),
    ("decoder.positional_embedding", "decoder.embed_positions.weight"),
    ("encoder.ln_post", "encoder.layer_norm"),
    ("decoder.ln.", "decoder.layer_norm."),
    (".blocks.", ".layers."),
    (".cross_attn_ln.", ".encoder_attn_layer_norm."),
    (".cross_attn.", ".encoder_attn."),
    (".attn_ln.", ".self_attn_layer_norm."),
    (".attn.", ".self_attn."),
    (".mlp_ln.", ".final_layer_norm."),
    (".mlp.0.", ".fc1."),
    (".mlp.2.", ".fc2."),
    (".query.", ".q_proj."),
    (".key.", ".k_proj."),
    (".value.", ".v_proj."),
    (".out.", ".out_proj."),
)


def read_openai(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
    """(transformers state dict, WhisperConfig kwargs, generation config) of an openai-whisper
    checkpoint: {"dims": ModelDimensions as a dict, "model_state_dict": {name: tensor}}."""
    try:
        ckpt = safeload.load(path)  # weights_only=True: no pickled code runs
    except ValueError as e:
        raise ConvertError(str(e)) from None
    if not (
        isinstance(ckpt, dict) and isinstance(ckpt.get("dims"), dict) and isinstance(ckpt.get("model_state_dict"), dict)
    ):
        raise ConvertError(f"{path}: not an openai-whisper checkpoint (no dims and model_state_dict)")
    dims = ckpt["dims"]
    sd: dict[str, np.ndarray] = {}
    for name, t in ckpt["model_state_dict"].items():
        if name == "alignment_heads":
            continue
        for a, b in _OPENAI:
            name = name.replace(a, b)
        sd["model." + name] = t.float().numpy()
    sd["proj_out.weight"] = sd["model.decoder.embed_tokens.weight"]
    config = _config(
        vocab_size=dims["n_vocab"],
        num_mel_bins=dims["n_mels"],
        d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"],
        decoder_layers=dims["n_text_layer"],
        encoder_attention_heads=dims["n_audio_head"],
        decoder_attention_heads=dims["n_text_head"],
        encoder_ffn_dim=4 * dims["n_audio_state"],
        decoder_ffn_dim=4 * dims["n_text_state"],
        max_source_positions=dims["n_audio_ctx"],
        max_target_positions=dims["n_text_ctx"],
    )
    return sd, config, {}


# --- writing --------------------------------------------------------------------------------------


def _config(**kw: int) -> dict[str, Any]:
    return kw | {"activation_function": "gelu", "scale_embedding": False}


def _write(state: dict[str, np.ndarray], config: dict[str, Any], gen: dict[str, Any], dest: Path) -> None:
    """The folder `WhisperForConditionalGeneration.from_pretrained` and HfLid load, with the
    bundled multilingual tokenizer and Whisper's generation settings."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from wsdata.train import model as wmodel
    from wsdata.vocab import Vocab

    vocab = Vocab.bundled()
    if config["vocab_size"] != vocab.n_vocab:
        raise ConvertError(
            f"{config['vocab_size']} token embeddings: not the multilingual Whisper vocabulary ({vocab.n_vocab}); "
            "English-only and large-v3 vocabularies are not supported"
        )
    kw = {
        "decoder_start_token_id": vocab.sot,
        "pad_token_id": vocab.eot,
        "bos_token_id": vocab.eot,
        "eos_token_id": vocab.eot,
    }
    try:  # dimensions from the file: a width the heads do not divide, weights of the wrong shape
        model = WhisperForConditionalGeneration(WhisperConfig(**config, **kw))
        missing, unexpected = model.load_state_dict({k: torch.from_numpy(np.array(a)) for k, a in state.items()}, False)
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise ConvertError(f"weights do not fit a Whisper model ({first})") from None
    missing = [k for k in missing if k != "proj_out.weight"]
    if missing or unexpected:
        raise ConvertError(f"weights do not fit a Whisper model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    for k, v in gen.items():  # setattr: `update` ignores keys GenerationConfig does not declare (alignment_heads)
        if v:
            setattr(model.generation_config, k, v)
    wmodel.save(model, vocab, dest)  # written to a temp name, then renamed
