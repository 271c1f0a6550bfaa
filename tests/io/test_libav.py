"""The in-process decoder (libav + soxr) against the ffmpeg pipe it replaces: every container and
codec the pipe handles, the same length to within a frame, the same signal (SNR), no more
aliasing, spans, truncated files, and the fallback for what libav cannot open."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import MINI, SPEECH
from wsdata.io import libav
from wsdata.io.audio import AudioError, decode_span, ffmpeg_exe, open_pcm

pytestmark = pytest.mark.skipif(not libav.available(), reason="PyAV or soxr is not installed")


def both(path: str, **kw) -> tuple[np.ndarray, np.ndarray]:
    with open_pcm(path, backend="libav", **kw) as a, open_pcm(path, backend="ffmpeg", **kw) as b:
        return a[:], b[:]


def snr_db(ref: np.ndarray, x: np.ndarray) -> float:
    n = min(len(ref), len(x))
    r, d = ref[:n].astype(np.float64), ref[:n].astype(np.float64) - x[:n].astype(np.float64)
    return 10 * np.log10(max(np.sum(r**2), 1.0) / max(np.sum(d**2), 1e-9))


def encoded(tmp_path, codec: list[str], name: str) -> str:
    """A real clip (tests/data/speech, 8 kHz FLAC) re-encoded by ffmpeg: AAC, Vorbis, WebM, WAV."""
    out = tmp_path / name
    src = SPEECH / "en" / "agent-incorrect.flac"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src), *codec, str(out)], check=True)
    return str(out)


@pytest.mark.parametrize("name", ["yt-Uo9P_bgKdA6.opus", "yt-KVbFJfQaQpD.mp3", "yt-CM7teu_jDF_.flac"])
def test_real_files_match_the_pipe(name):
    a, b = both(str(MINI / "media" / name))
    assert abs(len(a) - len(b)) <= 320  # within one 20 ms frame (here: equal)
    assert snr_db(b, a) > 60  # resampler detail only


@pytest.mark.parametrize(
    "args, name",
    [
        (["-c:a", "aac", "-b:a", "64k"], "clip.m4a"),
        (["-c:a", "libvorbis"], "clip.ogg"),
        (["-c:a", "libopus", "-ar", "48000"], "clip.webm"),
        (["-c:a", "pcm_s16le", "-ar", "44100", "-ac", "2"], "clip.wav"),
    ],
)
def test_other_codecs_match_the_pipe(tmp_path, args, name):
    try:
        path = encoded(tmp_path, args, name)
    except subprocess.CalledProcessError:
        pytest.skip(f"this ffmpeg cannot encode {name}")
    a, b = both(path)
    assert abs(len(a) - len(b)) <= 320 and snr_db(b, a) > 40


def test_a_video_file_decodes_its_audio_track(tmp_path):
    src = SPEECH / "en" / "agent-incorrect.flac"
    out = tmp_path / "talk.mp4"
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=64x64:r=5", "-i", str(src)]
    subprocess.run([*cmd, "-shortest", "-c:v", "mpeg4", "-c:a", "aac", str(out)], check=True)
    a, b = both(str(out))
    assert abs(len(a) - len(b)) <= 320 and snr_db(b, a) > 40 and len(a) > 16000 * 4


def test_aliasing_no_worse_than_the_pipe(tmp_path):
    """A sweep over 8.5-23 kHz at 48 kHz lies wholly above 16 kHz's Nyquist: what comes out is folded."""
    t = np.arange(48000 * 2) / 48000
    f = 8500 + (23000 - 8500) * t / t[-1] / 2
    sweep = (np.sin(2 * np.pi * np.cumsum(f) / 48000) * 16000).astype(np.int16)
    sf.write(tmp_path / "sweep.wav", sweep, 48000)
    a, b = both(str(tmp_path / "sweep.wav"))
    rms = [np.sqrt(np.mean(x[800:-800].astype(np.float64) ** 2)) for x in (a, b)]
    assert rms[0] <= rms[1] * 1.1 + 1.0 and rms[0] < 0.01 * 16000


def test_a_span_matches_the_pipes_span():
    path = str(MINI / "media" / "yt-Uo9P_bgKdA6.opus")
    a = decode_span(path, 30_000, 40_000)
    with open_pcm(path, span=(30_000, 40_000), backend="ffmpeg") as p:
        b = p[:160_000]
    assert len(a) == len(b) == 160_000
    assert np.corrcoef(a.astype(float), b.astype(float))[0, 1] > 0.99


def test_a_truncated_file_keeps_what_decoded(tmp_path):
    data = (MINI / "media" / "yt-KVbFJfQaQpD.mp3").read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    with open_pcm(str(cut), backend="libav") as p:
        n = len(p)
    assert 0.4 < n / 16000 / 98.77 < 0.6


def test_what_libav_cannot_open_goes_to_the_pipe_with_its_reason():
    with pytest.raises(AudioError) as e, open_pcm(str(MINI / "media" / "yt-OfW11M_Djw1.mp3"), backend="libav"):
        pass  # an HTML page saved as .mp3
    assert e.value.code == "audio_not_media" and "HTML page" in str(e.value)


def test_a_declared_length_past_the_limit_is_refused_unread():
    with pytest.raises(AudioError) as e, open_pcm(str(MINI / "media" / "yt-Uo9P_bgKdA6.opus"), max_ms=60_000):
        pass
    assert e.value.code == "audio_too_long" and "declares" in str(e.value)
