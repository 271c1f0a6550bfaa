"""Decoding real files of every container in the test corpus, and the broken ones."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import MINI
from wsdata.io.audio import AudioError, decode, decode_flac, encode_flac


@pytest.mark.parametrize(
    "name, seconds",
    [("yt-Uo9P_bgKdA6.opus", 104.41), ("yt-KVbFJfQaQpD.mp3", 98.77), ("yt-CM7teu_jDF_.flac", 20.25)],
)
def test_decode_to_16k_mono_int16(name, seconds):
    x = decode(str(MINI / "media" / name))
    assert x.dtype == np.int16 and x.ndim == 1
    assert abs(len(x) / 16000 - seconds) < 0.1
    assert np.abs(x.astype(np.int32)).max() > 1000  # real speech, not silence


@pytest.mark.parametrize(
    "name, code, words",
    [
        ("yt-OfW11M_Djw1.mp3", "audio_not_media", "HTML page"),
        ("yt-simS9Vo1Atp.m4a", "audio_undecodable", "moov atom not found"),
        ("yt-RygkZxYJFVl.opus", "audio_undecodable", "Invalid data"),
    ],
)
def test_broken_files_raise_with_an_actionable_detail(name, code, words):
    with pytest.raises(AudioError) as e:
        decode(str(MINI / "media" / name))
    assert e.value.code == code and words in str(e.value)


def test_missing_file_is_a_clear_error():
    with pytest.raises(AudioError) as e:
        decode(str(MINI / "media" / "nope.opus"))
    assert e.value.code in ("audio_undecodable", "audio_unreadable")


def test_flac_roundtrip_is_lossless():
    x = decode(str(MINI / "media/yt-CM7teu_jDF_.flac"))[: 16000 * 3]
    assert np.array_equal(decode_flac(encode_flac(x)), x)


def test_resampling_is_band_limited(tmp_path):
    """A 9.5 kHz tone at 48 kHz lies above 16 kHz's Nyquist (8 kHz): it must be filtered out, not
    folded back to 6.5 kHz (what a resampler without an anti-aliasing filter does)."""
    t = np.arange(48000) / 48000
    sf.write(tmp_path / "tone.wav", (np.sin(2 * np.pi * 9500 * t) * 8000).astype(np.int16), 48000)
    y = decode(str(tmp_path / "tone.wav")).astype(np.float64)[1000:-1000]
    assert np.sqrt(np.mean(y**2)) < 0.02 * 8000  # aliasing would leave ~5,600 RMS


def test_mixes_stereo_to_mono(tmp_path):
    t = np.arange(44100) / 44100
    left = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    sf.write(tmp_path / "st.wav", np.stack([left, left], axis=1), 44100)
    y = decode(str(tmp_path / "st.wav"))
    assert abs(len(y) - 16000) <= 1 and 5000 < np.abs(y.astype(np.int32)).max() < 9000
