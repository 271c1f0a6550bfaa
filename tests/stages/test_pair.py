"""Each pair.* reason from the two halves of the pair stage, on real files where there are any."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import MINI
from wsdata import config
from wsdata.datamodel import Document
from wsdata.stages.pair import PairAudio, PairTranscript

CFG = config.load("default")
GOOD_AUDIO = str(MINI / "media/yt-Uo9P_bgKdA6.opus")
GOOD_SRT = str(MINI / "subs/yt-Uo9P_bgKdA6.en.srt")


def doc(audio: str = GOOD_AUDIO, transcript: str | None = GOOD_SRT, text: str | None = None) -> Document:
    return Document("d", 1, audio, transcript, text, "en", "manual", "test")


def run(d: Document, cfg=CFG):
    return PairTranscript(cfg)(d) or PairAudio(cfg)(d)


def reason(d: Document, cfg=CFG) -> str | None:
    r = run(d, cfg)
    return r.reason if r else None


def test_good_pair_decodes_and_keeps_cues():
    d = doc()
    assert run(d) is None
    assert d.duration_ms == pytest.approx(104_410, abs=100) and len(d.transcript.cues) == 31


def test_audio_missing_empty_unreadable(tmp_path):
    assert reason(doc(audio=str(tmp_path / "nope.opus"))) == "pair.audio_missing"
    assert reason(doc(audio=str(MINI / "media/yt-RygkZxYJFVl.opus"))) == "pair.audio_empty"
    assert reason(doc(audio=str(tmp_path))) == "pair.audio_not_a_file"  # a folder


def test_audio_not_media_and_undecodable():
    assert reason(doc(audio=str(MINI / "media/yt-OfW11M_Djw1.mp3"))) == "pair.audio_not_media"
    r = run(doc(audio=str(MINI / "media/yt-simS9Vo1Atp.m4a")))
    assert r.reason == "pair.audio_undecodable" and "moov atom not found" in r.detail


def test_transcript_missing_empty_unreadable(tmp_path):
    assert reason(doc(transcript=str(tmp_path / "nope.srt"))) == "pair.transcript_missing"
    (tmp_path / "empty.srt").write_text("\n \n")
    assert reason(doc(transcript=str(tmp_path / "empty.srt"))) == "pair.transcript_empty"
    (tmp_path / "notext.vtt").write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\n")
    assert reason(doc(transcript=str(tmp_path / "notext.vtt"))) == "pair.transcript_empty"
    assert reason(doc(transcript=str(tmp_path))) == "pair.transcript_not_a_file"
    assert reason(doc(transcript=None, text="   ")) == "pair.transcript_empty"


def test_transcript_undecodable_when_no_fallback_fits(tmp_path):
    raw = (MINI / "subs/yt-KVbFJfQaQpD.it.srt").read_bytes()  # cp1252
    (tmp_path / "x.srt").write_bytes(raw)
    strict = config.from_dict({"pair": {"fallback_encodings": []}})
    r = run(doc(transcript=str(tmp_path / "x.srt")), strict)
    assert r.reason == "pair.transcript_undecodable" and "not UTF-8" in r.detail
    assert reason(doc(transcript=str(tmp_path / "x.srt"))) is None  # cp1252 is a default fallback


def test_transcript_unsupported(tmp_path):
    (tmp_path / "x.ass").write_text("[Script Info]\nTitle: x\n")
    assert reason(doc(transcript=str(tmp_path / "x.ass"))) == "pair.transcript_unsupported"


def test_transcript_malformed_real_garbage_and_threshold(tmp_path):
    r = run(doc(transcript=str(MINI / "subs/yt-bLUhpzjtQd-.it.srt")))
    assert r.reason == "pair.transcript_malformed" and "16 of 16" in r.detail and "line 2" in r.detail
    # one bad cue in 31 is under the 20 % default: the document goes on
    lines = Path(GOOD_SRT).read_text().splitlines()
    lines[1] = "00:00:0x,000 --> 00:00:02,000"
    (tmp_path / "one_bad.srt").write_text("\n".join(lines))
    d = doc(transcript=str(tmp_path / "one_bad.srt"))
    assert run(d) is None and len(d.transcript.bad_cues) == 1
    assert reason(doc(transcript=str(tmp_path / "one_bad.srt")), config.load("strict")) == "pair.transcript_malformed"


def test_inline_text_short_ok_long_rejected():
    short = doc(audio=str(MINI / "media/yt-CM7teu_jDF_.flac"), transcript=None, text="Some text.")
    assert run(short) is None and not short.transcript.timed
    r = run(doc(transcript=None, text="Text over 104 seconds."))
    assert r.reason == "pair.inline_text_too_long" and "104.4 s" in r.detail


def test_cues_past_end_real_file():
    r = run(doc(audio=str(MINI / "media/yt--1FFOXJn1zz.mp3"), transcript=str(MINI / "subs/yt--1FFOXJn1zz.fr.srt")))
    assert r.reason == "pair.cues_past_end" and "40.0 s" in r.detail


def test_remote_uri_through_fsspec(tmp_path, monkeypatch):
    # fsspec's in-memory filesystem stands in for s3:// or https:// (a crawl may not name it itself)
    import fsspec

    from wsdata.io import fs as wfs

    monkeypatch.setattr(wfs, "REMOTE_SCHEMES", (*wfs.REMOTE_SCHEMES, "memory"))

    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/a.opus", Path(GOOD_AUDIO).read_bytes())
    fs.pipe("/bucket/a.srt", Path(GOOD_SRT).read_bytes())
    d = doc(audio="memory://bucket/a.opus", transcript="memory://bucket/a.srt")
    assert run(d) is None and d.duration_ms == pytest.approx(104_410, abs=100)
    assert reason(doc(audio="memory://bucket/missing.opus")) == "pair.audio_missing"
    shutil.rmtree(tmp_path, ignore_errors=True)
