"""What a new user meets first: typos in the crawl named, a card that says where the data came
from and under which licences, and the install hint for the trainer whatever flags are given."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import EN_AUDIO, EN_SRT, ES_AUDIO, ES_VTT
from wsdata.card import _md
from wsdata.cli import main


@pytest.mark.slow
def test_typos_are_named_and_the_card_is_complete(tmp_path, capsys, whisper_base, monkeypatch):
    lines = [
        {"id": "a", "audio": str(EN_AUDIO), "transcipt": str(EN_SRT), "lang": "en", "license": "CC-BY-4.0"},
        {"id": "b", "audio": str(ES_AUDIO), "transcript": str(ES_VTT), "lang": "es", "license": "CC-BY-4.0"},
    ]
    crawl = tmp_path / "c.jsonl"
    crawl.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "o"
    monkeypatch.chdir(Path(whisper_base).parent)  # the model given relative to here
    assert main(["build", "--source", str(crawl), "--out", str(out), "--quiet", "--audio-lid", "whisper-base-ct2"]) == 0
    printed = capsys.readouterr().out
    assert "Crawl fields outside the contract, ignored: lang (1 lines; did you mean language?)" in printed
    from wsdata.verify import read_rows

    (rej,) = [r for r in read_rows(out / "rejects") if r["doc_id"] == "a"]
    assert rej["reason"] == "read.missing_field" and "'transcipt' (did you mean 'transcript'?)" in rej["detail"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith('---\nlicense: "cc-by-4.0"\n') and "| CC-BY-4.0 | " in card
    shown = _md(str(crawl.resolve()), 300)  # as inert Markdown: the path's `_` escaped
    assert f"Built from {shown}, started 2026-01-01T00:00:00+00:00." in card  # SOURCE_DATE_EPOCH
    assert f'audio_lid = "{whisper_base}"' in card  # the model by its absolute path
    stats = json.loads((out / "stats.json").read_text())
    assert stats["unknown_fields"] == {"lang": 1} and stats["licenses"]["CC-BY-4.0"]["segments"] > 0


def test_the_train_command_without_its_extra_gives_the_hint_whatever_the_flags():
    code = (
        "import sys; sys.modules['wsdata.train.cli'] = None\n"  # as if torch and transformers were absent
        "from wsdata.cli import main\n"
        "sys.exit(main(['train', '--data', 'x', '--out', 'y', '--steps', '5']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "install the train extra: pip install 'wsdata[train]'" in proc.stderr
    assert "unrecognized" not in proc.stderr
