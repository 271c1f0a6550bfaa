"""`wsdata transcribe` on a long real recording, the paper's long-form way: the real English prompts
of tests/data/speech joined with pauses into one 72 s file, captioned as SRT and VTT by the
converted PyPI whisper-base; the captions are in order, inside the file, and say what the prompts
say. A file that fails to decode makes the command exit 1 after the others are done."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")

from tests.helpers import clip, speech_rows
from wsdata.agree.wer import errors
from wsdata.cli import main
from wsdata.io import captions
from wsdata.io.audio import encode_flac
from wsdata.train import longform

pytestmark = [pytest.mark.slow, pytest.mark.model]
GAP = np.zeros(24_000, np.int16)  # 1.5 s of silence between prompts


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    rows = [r for r in speech_rows() if r["has_audio"] == "1" and r["lang"] == "en"]
    pieces = [GAP]
    for r in rows:
        pieces += [(clip("en", r["key"]) * 32767).astype(np.int16), GAP]
    path = tmp_path_factory.mktemp("long") / "prompts.flac"
    samples = np.concatenate(pieces)
    path.write_bytes(encode_flac(samples))
    return path, " ".join(r["text"] for r in rows), len(samples) * 1000 // 16000


def test_a_long_recording_is_captioned_in_order_and_says_what_was_said(recording, whisper_base, capsys):
    path, said, duration_ms = recording
    assert duration_ms > 60_000  # several 30 s windows
    assert main(["transcribe", "--model", whisper_base, "--format", "srt", str(path)]) == 0
    srt = capsys.readouterr().out
    cues = captions.parse(srt, "srt").cues
    assert len(cues) >= 4
    assert all(0 <= c.start_ms <= c.end_ms <= duration_ms + 1000 for c in cues)
    assert [c.start_ms for c in cues] == sorted(c.start_ms for c in cues)
    assert cues[-1].end_ms > 45_000  # the windows moved on past the first two
    wer = errors(said, " ".join(c.text for c in cues), "en").rate
    assert wer < 0.15, wer
    # VTT says the same, language detected from the first 30 s.
    assert main(["transcribe", "--model", whisper_base, "--format", "vtt", str(path)]) == 0
    vtt = capsys.readouterr().out
    assert vtt.startswith("WEBVTT") and [c.text for c in captions.parse(vtt, "vtt").cues] == [c.text for c in cues]
    print(f"long-form WER against the prompts' transcripts: {wer:.3f} ({len(cues)} captions)")


def test_text_output_and_a_failed_file(recording, whisper_base, tmp_path, capsys):
    path, _, _ = recording
    bad = tmp_path / "not-audio.flac"
    bad.write_text("not audio")
    assert main(["transcribe", "--model", whisper_base, "--language", "en", str(path), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}\t") and len(out.split("\t")[1]) > 200 and str(bad) in err
    # SRT for several files goes to --out-dir.
    assert main(["transcribe", "--model", whisper_base, "--format", "srt", str(path), str(path)]) == 2
    assert "needs --out-dir" in capsys.readouterr().err


def test_caption_formats():
    caps = [longform.Caption(0, 2500, "Hello."), longform.Caption(3_723_004, 3_724_000, "Later.")]
    assert longform.srt(caps) == (
        "1\n00:00:00,000 --> 00:00:02,500\nHello.\n\n2\n01:02:03,004 --> 01:02:04,000\nLater.\n\n"
    )
    assert longform.vtt(caps).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello.\n\n")
