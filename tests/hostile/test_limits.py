"""Every read has a limit: long lines, large or endless transcripts, devices and FIFOs, too many
cues and too long audio are rejects with their own reasons, and are never held whole in memory."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.helpers import EN_AUDIO, EN_SRT, all_rows
from wsdata import config
from wsdata.cli import main
from wsdata.datamodel import Document
from wsdata.io.audio import AudioError, decode, ffmpeg_command, ffmpeg_exe
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


def test_long_audio_is_refused_from_its_header_before_decoding():
    with pytest.raises(AudioError) as e:
        decode(str(EN_AUDIO), max_ms=5000)  # the Ogg file declares 104 s
    assert e.value.code == "audio_too_long"
    assert str(e.value) == "the file declares 0:01:44, longer than 0:00:05 (limits.max_audio_ms); not decoded"
    assert len(decode(str(EN_AUDIO), max_ms=200_000)) == len(decode(str(EN_AUDIO)))


def test_audio_that_declares_less_or_nothing_stops_decoding_at_the_limit(tmp_path):
    # Two Ogg streams back to back: the file declares the first one's 104 s and holds 209 s.
    chained = tmp_path / "chained.opus"
    chained.write_bytes(EN_AUDIO.read_bytes() * 2)
    with pytest.raises(AudioError) as e:
        decode(str(chained), max_ms=150_000)
    assert (e.value.code, str(e.value)) == (
        "audio_too_long",
        "longer than 0:02:30 (limits.max_audio_ms); decoding stopped there",
    )
    # FLAC written to a pipe declares no length ("Duration: N/A"): ffmpeg's -t stops it 1 s past.
    piped = tmp_path / "piped.flac"
    sine = ["-f", "lavfi", "-i", "sine=f=440:r=16000", "-t", "20", "-c:a", "flac", "-f", "flac", "-"]
    piped.write_bytes(subprocess.run([ffmpeg_exe(), "-v", "error", *sine], capture_output=True, check=True).stdout)
    with pytest.raises(AudioError) as e:
        decode(str(piped), max_ms=5000)
    assert e.value.code == "audio_too_long"
    decoded = subprocess.run(ffmpeg_command(str(piped), 5000), capture_output=True, check=True).stdout
    assert len(decoded) == 6 * 16000 * 2  # 6 s of 16 kHz int16 decoded out of 20


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


def test_only_files_and_remote_schemes_are_opened(tmp_path):
    """fsspec reads many schemes; local:// or zip:// would read this machine's files around
    limits.allowed_roots, and a NUL byte names no file: each is its line's read.invalid_field."""
    media = tmp_path / "media"
    media.mkdir()
    good = {"id": "good", "audio": str(EN_AUDIO), "transcript": str(EN_SRT), "language": "en"}
    lines = [
        good,
        {**good, "id": "local", "transcript": f"local://{EN_SRT}"},
        {**good, "id": "zip", "audio": f"zip://x::file://{EN_AUDIO}"},
        {**good, "id": "memory", "audio": "memory://x.opus"},
        {**good, "id": "nul", "audio": str(EN_AUDIO) + "\0.opus"},
        {**good, "id": "nul-transcript", "transcript": str(EN_SRT) + "\0"},
    ]
    src = tmp_path / "crawl.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "out"
    roots = json.dumps([str(media), str(EN_AUDIO.parent), str(EN_SRT.parent)])
    rc = main(["build", "--source", str(src), "--out", str(out), "--quiet", "--set", f"limits.allowed_roots={roots}"])
    assert rc == 0 and check_accounting(out, src) == []
    kept, rejects = all_rows(out)
    assert {r["doc_id"] for r in kept} == {"good"}
    got = {r["doc_id"]: (r["reason"], r["detail"]) for r in rejects if r["segment_id"] is None}
    assert {k: v[0] for k, v in got.items()} == {
        k: "read.invalid_field" for k in ("local", "zip", "memory", "nul", "nul-transcript")
    }
    assert "local://" in got["local"][1] and "NUL" in got["nul"][1]
