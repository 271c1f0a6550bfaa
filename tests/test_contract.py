"""The code's column lists, reason codes and presets agree with schemas/, docs/ and the contract."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from wsdata import config, reasons
from wsdata.io.parquet import REJECT_SCHEMA, SEGMENT_SCHEMA, schema_as_json

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name, schema", [("segment-row", SEGMENT_SCHEMA), ("reject-row", REJECT_SCHEMA)])
def test_output_schemas_match_schemas_folder(name, schema):
    doc = json.loads((ROOT / "schemas" / f"{name}.v2.json").read_text())
    assert doc["columns"] == schema_as_json(schema)


def test_contract_columns_present():
    seg = set(SEGMENT_SCHEMA.names)
    assert seg >= {
        "id",
        "doc_id",
        "source",
        "audio",
        "start_ms",
        "end_ms",
        "text",
        "timestamps",
        "prev_text",
        "language",
        "task",
        "no_speech",
        "text_language",
        "audio_language",
        "speech_ratio",
        "machine_score",
    }
    assert set(REJECT_SCHEMA.names) >= {
        "doc_id",
        "segment_id",
        "source",
        "stage",
        "reason",
        "detail",
        "audio",
        "start_ms",
        "end_ms",
        "duration_ms",
    }


def test_reason_codes_use_fixed_stages_and_docs_are_current():
    for r in reasons.REASONS:
        stage, code = r.split(".", 1)
        assert stage in reasons.STAGES and re.fullmatch(r"[a-z_]+", code)
    assert (ROOT / "docs" / "reasons.md").read_text().strip() == reasons.markdown().strip()


def test_every_reason_written_in_code_is_registered():
    used = set()
    for py in (ROOT / "wsdata").rglob("*.py"):
        if py.name == "config.py":  # config keys look like reasons ("segment.max_ms")
            continue
        src = py.read_text()
        used |= set(re.findall(r'Reject\(\s*"([a-z]+\.[a-z_]+)"', src))
        # pair.* reasons built from the exceptions' codes: f"pair.{e.code}"
        used |= {f"pair.{c}" for c in re.findall(r'(?:AudioError|TranscriptError)\(\s*"([a-z_]+)"', src)}
    assert len(used) > 20
    assert used <= set(reasons.REASONS), used - set(reasons.REASONS)
    with pytest.raises(ValueError, match="unknown reject reason"):
        from wsdata.datamodel import Reject

        Reject("pair.typo")


def test_default_preset_equals_dataclass_defaults():
    assert config.load("default").to_dict() == config.BuildConfig().to_dict()
    assert config.load("strict").segment.min_speech_ratio == 0.4


@pytest.mark.parametrize(
    "data, message",
    [
        ({"segment": {"max_ms": 40000}}, "segment.max_ms = 40000"),
        ({"segment": {"vad_mode": 7}}, "segment.vad_mode = 7"),
        ({"segment": {"min_speech_ratio": "high"}}, "segment.min_speech_ratio = 'high'"),
        ({"pair": {"fallback_encodings": ["klingon"]}}, "unknown encoding 'klingon'"),
        ({"segmnet": {}}, "unknown section [segmnet]"),
        ({"read": {"chunksize": 3}}, "unknown key read.chunksize"),
        ({"write": {"validation_fraction": 1.5}}, "write.validation_fraction = 1.5"),
    ],
)
def test_config_errors_name_the_bad_value(data, message):
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.from_dict(data)


def test_config_toml_roundtrip(tmp_path):
    cfg = config.from_dict({"segment": {"vad_mode": 3}, "pair": {"fallback_encodings": ["cp1251"]}})
    (tmp_path / "p.toml").write_text(cfg.to_toml())
    assert config.load(str(tmp_path / "p.toml")).to_dict() == cfg.to_dict()


def test_default_preset_is_generated_from_the_config_classes():
    """pipelines/default.toml is `python -m wsdata.config`: every setting, its default, its comment."""
    text = (ROOT / "pipelines" / "default.toml").read_text()
    assert text == config.default_toml(), "regenerate: python -m wsdata.config > pipelines/default.toml"
    assert "# webrtcvad aggressiveness, 0 (least) .. 3 (most)\nvad_mode = 2" in text
    assert "[review]" in text and "fmt:" not in text


def test_set_changes_one_setting_and_names_a_bad_one(tmp_path):
    values = config.parse_set(
        [
            "segment.vad_mode=3",
            "language.audio_lid=openai/whisper-base",
            "dedup.enabled=false",
            "pair.fallback_encodings=['cp1251']",
            "text.max_chars_per_second=30",
        ]
    )
    cfg = config.override(config.load("strict"), values)
    assert (cfg.name, cfg.segment.vad_mode, cfg.language.audio_lid, cfg.dedup.enabled) == (
        "strict",
        3,
        "openai/whisper-base",
        False,
    )
    assert cfg.pair.fallback_encodings == ("cp1251",) and cfg.text.max_chars_per_second == 30.0
    assert cfg.segment.min_speech_ratio == 0.4  # the preset's other settings stay
    (tmp_path / "evalset.txt").write_text("some evaluation text\n")
    rel = config.override(cfg, {"dedup.exclude": str(tmp_path / "evalset.txt")})
    assert Path(rel.dedup.exclude).is_absolute()
    for bad, message in [
        (["segment.vad_mode=7"], "segment.vad_mode = 7"),
        (["segment.vad_mod=3"], "unknown key segment.vad_mod"),
        (["segmnet.vad_mode=3"], "unknown section [segmnet]"),
        (["vad_mode=3"], "must be section.key=value"),
        (["segment.vad_mode"], "must be section.key=value"),
        (["segment.vad_mode=high"], "segment.vad_mode = 'high'"),
    ]:
        with pytest.raises(config.ConfigError, match=re.escape(message)):
            config.override(config.BuildConfig(), config.parse_set(bad))


def test_set_on_the_command_line_reaches_the_build(tmp_path, capsys):
    from wsdata.cli import main

    rc = main(
        ["build", "--source", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o"), "--set", "segment.vad_mode=9"]
    )
    assert rc == 2 and "segment.vad_mode = 9: must be 0, 1, 2 or 3" in capsys.readouterr().err


def test_shards_carry_their_schema_name_and_version():
    from wsdata.io.parquet import SCHEMA_KEY, with_hf_features

    assert SEGMENT_SCHEMA.metadata[SCHEMA_KEY] == b"segment-row.v2"
    assert REJECT_SCHEMA.metadata[SCHEMA_KEY] == b"reject-row.v2"
    both = with_hf_features(SEGMENT_SCHEMA).metadata  # the datasets features join the version, not replace it
    assert both[SCHEMA_KEY] == b"segment-row.v2" and b"huggingface" in both


def test_stats_schema_is_valid_json_schema():
    import jsonschema

    schema = json.loads((ROOT / "schemas" / "stats.v2.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    from wsdata import summary

    assert schema["properties"]["schema_version"]["const"] == summary.SCHEMA_VERSION


def test_every_limit_is_documented_with_its_default():
    text = (ROOT / "docs" / "reliability.md").read_text()
    for f in dataclasses.fields(config.LimitsConfig):
        default = getattr(config.LimitsConfig(), f.name)
        shown = f"{default:,}" if isinstance(default, (int, float)) else "(none)"
        assert f"| `{f.name}` | {shown}" in text, f.name
