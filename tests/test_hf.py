"""The README's way to read a build with `datasets`: `load_dataset(OUT)` and the Parquet files,
with every split the card declares present and the audio decoded (no torchcodec)."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.helpers import SOURCE
from wsdata import config
from wsdata.io.audio import decode_flac
from wsdata.orchestrate import build

datasets = pytest.importorskip("datasets", reason="datasets is not installed (the test extra has it)")
pytestmark = pytest.mark.slow


def test_load_dataset_as_the_readme_shows(tmp_path):
    from datasets import load_dataset

    from wsdata.hf import decode_audio

    out = tmp_path / "shards"
    build(SOURCE, out, config.load("default"), progress=False)
    cache = str(tmp_path / "cache")
    by_card = decode_audio(load_dataset(str(out), cache_dir=cache))
    by_files = decode_audio(
        load_dataset("parquet", data_files={"train": f"{out}/data/train-*.parquet"}, cache_dir=cache)
    )
    assert set(by_card) == {"train", "validation"}  # a small build has a validation split too
    raw = {
        r["id"]: r["audio"]["bytes"]
        for f in sorted((out / "data").glob("*.parquet"))
        for r in pq.read_table(f, columns=["id", "audio"]).to_pylist()
    }
    for ds in (by_card["train"], by_card["validation"], by_files["train"]):
        row = ds[0]
        audio = row["audio"]
        want = decode_flac(raw[row["id"]]).astype(np.float32) / 32768
        assert audio["sampling_rate"] == 16000 and audio["array"].dtype == np.float32
        assert np.allclose(audio["array"], want) and row["text"] is not None


def test_a_build_without_validation_declares_only_train(tmp_path):
    from datasets import load_dataset

    out = tmp_path / "shards"
    build(SOURCE, out, config.from_dict({"write": {"validation_fraction": 0.0}}), progress=False)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "split: validation" not in card and "No validation split" in card
    assert set(load_dataset(str(out), cache_dir=str(tmp_path / "c"))) == {"train"}
