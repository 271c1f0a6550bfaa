"""A Pcm reads back exactly what was appended, however the pipe split it and wherever it spilled."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import EN_AUDIO
from wsdata.io.audio import decode, open_pcm
from wsdata.io.pcm import Pcm
from wsdata.vad import SpeechMap


@settings(max_examples=80, deadline=None)
@given(
    samples=st.lists(st.integers(-32768, 32767), max_size=400),
    cuts=st.lists(st.integers(0, 800), max_size=6),
    spill=st.integers(0, 900),
    spans=st.lists(st.tuples(st.integers(-50, 450), st.integers(-50, 450)), max_size=5),
)
def test_slices_match_the_array_whatever_the_splits_and_spill(samples, cuts, spill, spans):
    ref = np.array(samples, dtype=np.int16)
    data = ref.astype("<i2").tobytes()
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})  # odd cuts split a sample
    with Pcm(spill_bytes=spill) as pcm:
        for a, b in itertools.pairwise(bounds):
            pcm.append(data[a:b])
        assert len(pcm) == len(ref)
        assert pcm.spilled == (len(data) > spill)
        for a, b in spans:
            got = pcm[a:b]
            assert got.dtype == np.int16 and np.array_equal(got, ref[a:b])
        keep = len(ref) // 2
        pcm.truncate(keep)
        assert np.array_equal(pcm[:], ref[:keep])


def test_only_contiguous_slices():
    pcm = Pcm.of(np.arange(10, dtype=np.int16))
    with pytest.raises(TypeError):
        pcm[::2]
    with pytest.raises(TypeError):
        pcm[3]  # type: ignore[index]


def test_a_spilled_signal_leaves_no_file_and_reads_as_decoded(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    whole = decode(str(EN_AUDIO))
    pcm = open_pcm(str(EN_AUDIO), spill_bytes=1 << 20)  # 104 s of audio: 3.3 MB, spilled
    assert pcm.spilled and len(pcm) == len(whole)
    assert os.listdir(tmp_path) == []  # unlinked at creation: a killed build leaves nothing
    assert np.array_equal(pcm[160_000:640_000], whole[160_000:640_000])
    # Block-wise voice activity over the spilled file is the same as over the array.
    assert np.array_equal(SpeechMap.from_samples(pcm, 3).frames, SpeechMap.from_samples(whole, 3).frames)
    pcm.close()
    assert len(pcm) == 0


def test_read_bytes_in_memory_and_spilled_and_the_same_speech_map():
    from wsdata.vad import SpeechMap

    x = (np.sin(np.arange(16000 * 7) / 7) * 3000).astype(np.int16)
    x[16000 * 3 : 16000 * 5] = 0  # two silent seconds
    small = Pcm(spill_bytes=1 << 30)
    spilled = Pcm(spill_bytes=1000)
    for p in (small, spilled):
        p.append(x.tobytes())
    assert spilled.spilled and not small.spilled
    for p in (small, spilled):
        assert p.read_bytes(100, 300) == x[100:300].tobytes() and p.read_bytes(5, 5) == b""
        assert p.read_bytes(len(x) - 10, len(x) + 50) == x[-10:].tobytes()  # cut at the end
    maps = [SpeechMap.from_samples(s, 2).frames for s in (x, small, spilled)]
    assert all((m == maps[0]).all() for m in maps) and 0 < maps[0].sum() < len(maps[0])
