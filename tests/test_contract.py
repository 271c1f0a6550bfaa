"""The code's column lists, reason codes and presets agree with schemas/, docs/ and the contract."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from wsdata import config, reasons
from wsdata.io.parquet import REJECT_SCHEMA, SEGMENT_SCHEMA, schema_as_json

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name, schema", [("segment-row", SEGMENT_SCHEMA), ("reject-row", REJECT_SCHEMA)])
def test_output_schemas_match_schemas_folder(name, schema):
    doc = json.loads((ROOT / "schemas" / f"{name}.v1.json").read_text())
    assert doc["columns"] == schema_as_json(schema)


def test_contract_columns_present():
    seg = set(SEGMENT_SCHEMA.names)
    assert seg >= {"id", "doc_id", "source", "audio", "start_ms", "end_ms", "text", "timestamps", "prev_text",
                   "language", "task", "no_speech", "text_language", "audio_language", "speech_ratio", "machine_score"}  # fmt: skip
    assert set(REJECT_SCHEMA.names) >= {"doc_id", "segment_id", "source", "stage", "reason", "detail", "audio",
                                        "start_ms", "end_ms", "duration_ms"}  # fmt: skip


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
        from wsdata.model import Reject

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
