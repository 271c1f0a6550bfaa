"""Spoken-language ID: real Whisper-base (CTranslate2, from PyPI wheels) on real speech, the
transformers backend on a tiny random Whisper, and the model-folder detection."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.helpers import clip, speech_rows
from wsdata.lid.audio import LidError, combine, load_audio_lid, model_kind


@pytest.mark.slow
@pytest.mark.model
def test_real_whisper_base_identifies_real_speech(whisper_base):
    """40 real prompts of 5-12 s, 8 per language (en/es/fr/it/ru): at least 90% top-1."""
    rows = [r for r in speech_rows() if r["has_audio"] == "1"]
    assert len(rows) == 40 and all(float(r["seconds"]) >= 5 for r in rows)
    lid = load_audio_lid(whisper_base, "cpu")
    assert lid.kind == "ctranslate2"
    right, per_lang = Counter(), Counter()
    for i in range(0, len(rows), 8):
        batch = rows[i : i + 8]
        for r, p in zip(batch, lid.probs([clip(r["lang"], r["key"]) for r in batch])):
            assert sum(p.values()) == pytest.approx(1.0, abs=0.02)
            per_lang[r["lang"]] += 1
            right[r["lang"]] += max(p, key=p.get) == r["lang"]
    accuracy = sum(right.values()) / len(rows)
    assert accuracy >= 0.9, f"{accuracy:.0%} correct: {dict(right)} of {dict(per_lang)}"


@pytest.mark.model
def test_model_kind_tells_folders_apart(tmp_path, whisper_base):
    assert model_kind(whisper_base) == "ctranslate2"
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    assert model_kind(str(hf)) == "transformers"
    assert model_kind("openai/whisper-base") == "transformers"  # a hub id (not resolved here)
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    for bad in (str(other), str(tmp_path / "missing" / "x" / "y"), str(hf / "config.json")):
        with pytest.raises(LidError):
            model_kind(bad)


@pytest.mark.model
def test_transformers_backend_on_a_tiny_random_whisper(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    torch.manual_seed(0)
    cfg = transformers.WhisperConfig(
        vocab_size=51865,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        num_mel_bins=80,
        decoder_start_token_id=50258,
    )
    model = transformers.WhisperForConditionalGeneration(cfg)
    model.generation_config.decoder_start_token_id = 50258
    model.generation_config.lang_to_id = {f"<|{c}|>": 50259 + i for i, c in enumerate(LANGUAGES)}
    model.save_pretrained(tmp_path / "tiny")
    lid = load_audio_lid(str(tmp_path / "tiny"), "cpu")
    assert lid.kind == "transformers"
    rows = [r for r in speech_rows() if r["has_audio"] == "1"][:3]
    out = lid.probs([clip(r["lang"], r["key"]) for r in rows])
    assert len(out) == 3
    for p in out:
        assert len(p) == len(LANGUAGES) and "en" in p and "jv" in p  # Whisper's "jw" read as ISO "jv"
        assert sum(p.values()) == pytest.approx(1.0, abs=1e-4)


def test_combine_weights_by_speech():
    got = combine([{"fr": 0.9, "en": 0.1}, {"fr": 0.2, "en": 0.8}], [3.0, 1.0])
    assert got == pytest.approx({"fr": 0.725, "en": 0.275})
