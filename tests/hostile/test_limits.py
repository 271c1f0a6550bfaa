"""Every read has a limit: long lines, large or endless transcripts, devices and FIFOs, too many
cues and too long audio are rejects with their own reasons, and are never held whole in memory."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import EN_AUDIO, EN_SRT, all_rows
from wsdata import config
from wsdata.cli import main
from wsdata.datamodel import Document
from wsdata.io.audio import AudioError, decode, ffmpeg_command
from wsdata.io.crawl import TOO_LONG, iter_spans
from wsdata.stages.pair import PairAudio, PairTranscript
from wsdata.verify import check_accounting


def doc(audio: str = str(EN_AUDIO), transcript: str | None = str(EN_SRT)) -> Document:
    return Document("d", 1, audio, transcript, None if transcript else "hello", "en", "manual", "s")


DEFAULT = config.BuildConfig()


def reason(d: Document, cfg: config.BuildConfig = DEFAULT) -> str | None:
    rej = PairTranscript(cfg)(d) or PairAudio(cfg)(d)
    return rej.reason if rej else None


def test_long_lines_are_skipped_unread(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": "a"}\n' + b"x" * 5000 + b"\n" + b'{"id": "b"}\n' + b"y" * 3000)
    got = list(iter_spans(path, max_bytes=1000))
    assert [(n, line[:20]) for n, line, _ in got] == [
        (1, '{"id": "a"}\n'),
        (2, f"{TOO_LONG}5001"),
        (3, '{"id": "b"}\n'),
        (4, f"{TOO_LONG}3000"),
    ]
    assert got[-1][2] == path.stat().st_size  # byte offsets stay exact: a Ray task re-reads its range


def test_devices_fifos_and_folders_are_never_read(tmp_path):
    fifo = tmp_path / "subs.fifo"
    os.mkfifo(fifo)  # reading it would block forever
    assert reason(doc(transcript=str(fifo))) == "pair.transcript_not_a_file"
    assert reason(doc(transcript="/dev/zero")) == "pair.transcript_not_a_file"  # endless
    assert reason(doc(audio=str(fifo))) == "pair.audio_not_a_file"
    assert reason(doc(audio=str(tmp_path))) == "pair.audio_not_a_file"
    with pytest.raises(AudioError) as e:
        decode("/dev/urandom")
    assert e.value.code == "audio_not_a_file"


def test_large_transcripts_and_too_many_cues(tmp_path):
    small = config.override(config.BuildConfig(), {"limits.max_transcript_bytes": 100})
    assert reason(doc(), small) == "pair.transcript_too_large"
    few = config.override(config.BuildConfig(), {"limits.max_cues": 2})
    assert reason(doc(), few) == "pair.transcript_too_many_cues"
    assert reason(doc()) is None


def test_long_audio_stops_decoding_at_the_limit():
    assert "-t" in ffmpeg_command("x.opus", 5000)
    with pytest.raises(AudioError) as e:
        decode(str(EN_AUDIO), max_ms=5000)  # 104 s of audio; ffmpeg stops after 6 s of it
    assert e.value.code == "audio_too_long"
    assert len(decode(str(EN_AUDIO), max_ms=200_000)) == len(decode(str(EN_AUDIO)))


@pytest.mark.slow
def test_a_crawl_past_every_limit_builds_to_the_end(tmp_path):
    fifo = tmp_path / "x.fifo"
    os.mkfifo(fifo)
    good = {"id": "good", "audio": str(EN_AUDIO), "transcript": str(EN_SRT), "language": "en"}
    lines = [
        json.dumps(good),
        json.dumps({**good, "id": "long", "meta": "z" * 5000}),
        json.dumps({**good, "id": "fifo", "transcript": str(fifo)}),
        json.dumps({**good, "id": "zero", "audio": "/dev/zero"}),
    ]
    src = tmp_path / "crawl.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    rc = main(["build", "--source", str(src), "--out", str(out), "--quiet", "--set", "limits.max_line_bytes=2000"])
    assert rc == 0 and check_accounting(out, src) == []
    kept, rejects = all_rows(out)
    assert {r["doc_id"] for r in kept} == {"good"}
    got = {r["line"]: r["reason"] for r in rejects if r["segment_id"] is None}
    assert got == {2: "read.line_too_long", 3: "pair.transcript_not_a_file", 4: "pair.audio_not_a_file"}


def test_local_paths_can_be_confined_to_roots(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    inside = media / "a.srt"
    inside.write_bytes(EN_SRT.read_bytes())
    (media / "escape.srt").symlink_to(EN_SRT)  # a link out of the root
    cfg = config.override(DEFAULT, {"limits.allowed_roots": [str(media), str(EN_AUDIO.parent)]})
    assert reason(doc(transcript=str(inside)), cfg) is None
    assert reason(doc(transcript=str(media / "escape.srt")), cfg) == "pair.path_outside_roots"
    assert reason(doc(transcript=str(media / ".." / ".." / "x.srt")), cfg) == "pair.path_outside_roots"
    assert reason(doc(transcript=str(EN_SRT)), cfg) == "pair.path_outside_roots"
    assert reason(doc(transcript=str(EN_SRT))) is None  # no roots: anywhere
    with pytest.raises(config.ConfigError, match="limits.allowed_roots"):
        config.override(DEFAULT, {"limits.allowed_roots": ["relative/dir"]})
