"""Model flags: a path that looks local and is missing is "no such file or folder" at once, never a
hub lookup; hub ids (org/name) still pass."""

from __future__ import annotations

import time

import pytest

from wsdata.cli import main
from wsdata.lid.audio import LidError, load_audio_lid
from wsdata.modelspec import missing


def test_local_looking_paths_and_hub_ids(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "build").mkdir()
    assert missing("openai/whisper-base") is None and missing("Systran/faster-whisper-base") is None
    assert missing(str(tmp_path)) is None  # it exists
    for spec in ("build/nope-model", "/abs/nope", "./nope", "~/nope", "a/b/c", "model.pt", "nope"):
        assert missing(spec).startswith(f"{spec}: no such file or folder"), spec


def test_a_missing_model_fails_at_once_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "build").mkdir()
    t0 = time.monotonic()
    with pytest.raises(LidError, match="build/nope-model: no such file or folder"):
        load_audio_lid("build/nope-model")
    crawl = tmp_path / "c.jsonl"
    crawl.write_text('{"id": "a", "audio": "a.wav", "text": "x"}\n')
    assert main(["build", "--source", str(crawl), "--out", str(tmp_path / "o"), "--audio-lid", "/nope/m"]) == 2
    assert time.monotonic() - t0 < 10  # no network retries
    err = capsys.readouterr().err
    assert "--audio-lid /nope/m: no such file or folder" in err and "Traceback" not in err
