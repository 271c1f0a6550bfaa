"""Documents rejected before decoding still count by size, as an estimate: a source turned down
whole by the machine filter ranks first in the audit, not last."""

from __future__ import annotations

import json

import pytest

from tests.helpers import EN_AUDIO, EN_SRT, ES_AUDIO, ES_VTT, load_transcript
from wsdata import config
from wsdata.orchestrate import build
from wsdata.review import report

pytestmark = pytest.mark.slow


def test_a_source_rejected_before_decoding_ranks_by_its_estimated_hours(tmp_path):
    lines = [  # "asr" captions are rejected by the machine stage, before any audio is decoded
        {"id": "bot", "audio": str(EN_AUDIO), "transcript": str(EN_SRT), "caption_kind": "asr", "source": "bot"},
        {"id": "human", "audio": str(ES_AUDIO), "transcript": str(ES_VTT), "language": "es", "source": "human"},
    ]
    crawl = tmp_path / "c.jsonl"
    crawl.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "o"
    stats = build(crawl, out, config.load("default"), progress=False)
    last_cue = max(c.end_ms for c in load_transcript(EN_SRT).cues)
    assert stats["by_source"]["bot"]["hours_in"] == 0.0  # never decoded
    assert stats["by_source"]["bot"]["hours_in_estimated"] == pytest.approx(last_cue / 3.6e6, abs=1e-4)
    machine = next(f for f in stats["funnel"] if f["step"] == "machine")
    assert machine["hours_rejected"] == 0.0 and machine["hours_rejected_estimated"] > 0
    assert stats["hours"]["in_estimated"] == pytest.approx(last_cue / 3.6e6, abs=1e-4)
    ranking = report.tables(out)["sources"]
    assert ranking[0]["source"] == "bot" and ranking[0]["priority"] > 0  # rejected whole: look here first
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "by estimate" in card
