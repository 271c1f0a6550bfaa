"""The log-mel frontend against transformers' WhisperFeatureExtractor."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")

from tests.helpers import clip, speech_rows
from wsdata.train.features import LogMel

pytestmark = pytest.mark.model


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_matches_transformers(n_mels):
    from transformers import WhisperFeatureExtractor

    rows = [r for r in speech_rows() if r["has_audio"] == "1"][:3]
    clips = [clip(r["lang"], r["key"]) for r in rows]
    want = WhisperFeatureExtractor(feature_size=n_mels)(clips, sampling_rate=16000, return_tensors="np").input_features
    padded = np.zeros((len(clips), 480_000), dtype=np.float32)
    for i, c in enumerate(clips):
        padded[i, : len(c)] = c
    got = LogMel(n_mels)(torch.from_numpy(padded)).numpy()
    assert got.shape == want.shape == (3, n_mels, 3000)
    assert np.abs(got - want).max() < 1e-4
