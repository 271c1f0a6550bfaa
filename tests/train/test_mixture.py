"""Training on several builds: weights, language temperature and source caps shape the stream as
asked (within sampling error), the stream resumes exactly, and a two-build run resumed halfway
equals an uninterrupted one, with its realised mixture saved."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wsdata.train.mixture import acceptance, parse_spec, plan


def shards(folder: Path, langs: dict[str, int], source: str = "s", seconds: int = 1) -> Path:
    """A build folder whose train shard holds `langs[l]` one-second tone rows of language l."""
    from wsdata.io.audio import encode_flac

    (folder / "data").mkdir(parents=True)
    recs = []
    for lang, n in langs.items():
        for k in range(n):
            pcm = (np.sin(np.arange(16_000 * seconds) / 10) * 1000).astype(np.int16)
            recs.append(
                {
                    "id": f"{folder.name}-{lang}{k}/00000",
                    "audio": {"bytes": encode_flac(pcm), "path": None},
                    "text": f"{lang} {k}",
                    "timestamps": [],
                    "prev_text": "",
                    "language": lang,
                    "task": "transcribe",
                    "no_speech": False,
                    "source": source if k % 2 else f"{source}-b",
                    "start_ms": 0,
                    "end_ms": 1000 * seconds,
                }
            )
    pq.write_table(pa.Table.from_pylist(recs), folder / "data" / "train-00000.parquet", row_group_size=8)
    return folder


def test_specs_and_plans(tmp_path):
    assert parse_spec("a/b") == (Path("a/b"), 1.0) and parse_spec("a/b:0.25") == (Path("a/b"), 0.25)
    assert parse_spec("c:/x") == (Path("c:/x"), 1.0)  # a colon that is no weight
    with pytest.raises(ValueError, match="must be > 0"):
        parse_spec("a:0")
    with pytest.raises(ValueError, match="no train shards"):
        plan([str(tmp_path)])
    a, b = shards(tmp_path / "x", {"en": 4}), shards(tmp_path / "y" / "x", {"fr": 4})
    comps = plan([str(a), f"{b}:3"])
    assert [(c.name, c.weight) for c in comps] == [("x", 1.0), ("x-2", 3.0)]  # names made unique


def test_temperature_and_cap_acceptance(tmp_path):
    d = shards(tmp_path / "d", {"en": 90, "sw": 10})
    files = tuple((d / "data").glob("*.parquet"))
    assert acceptance(files, 1.0, 0.0) == {}  # nothing to reshape: no acceptance draws at all
    keep = acceptance(files, 0.0, 0.0)  # every language alike: en kept 10/90 of the time
    assert keep.keys() == {("en", "s"), ("en", "s-b")} and math.isclose(keep[("en", "s")], 10 / 90)
    half = acceptance(files, 0.5, 0.0)  # p ~ sqrt(hours): en 3/4, sw 1/4 of samples
    assert math.isclose(half[("en", "s")], (0.75 / 0.9) / (0.25 / 0.1))
    capped = acceptance(files, 1.0, 22.5 / 3600)  # each source (50 s: half of each language) to 22.5 s
    assert all(math.isclose(capped[(lang, src)], 22.5 / 50) for lang in ("en", "sw") for src in ("s", "s-b"))


torch = pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")
from wsdata.train.data import ShardStream
from wsdata.vocab import Vocab

V = Vocab.bundled()


@pytest.mark.model
def test_a_weighted_stream_matches_its_weights_and_resumes_exactly(tmp_path):
    a, b = shards(tmp_path / "a", {"en": 24}), shards(tmp_path / "b", {"fr": 24})
    comps = plan([f"{a}:3", f"{b}:1"])
    n = 800
    got = Counter(it["component"] for it in itertools.islice(iter(ShardStream(comps, V, seed=2, shuffle_buffer=4)), n))
    share, sigma = got[0] / n, math.sqrt(0.75 * 0.25 / n)
    assert abs(share - 0.75) < 3 * sigma, share
    full = list(itertools.islice(iter(ShardStream(comps, V, seed=2, batch_size=2)), 40))
    resumed = ShardStream(comps, V, seed=2, batch_size=2)
    resumed.start = [full[13]["position"]]  # 7 batches of 2 consumed
    assert [it["id"] for it in itertools.islice(iter(resumed), 26)] == [it["id"] for it in full[14:]]


@pytest.mark.model
def test_language_temperature_lifts_a_rare_language(tmp_path):
    d = shards(tmp_path / "d", {"en": 45, "sw": 5})
    n = 1000
    rows = itertools.islice(iter(ShardStream(plan([str(d)], alpha=0.0), V, seed=1, shuffle_buffer=4)), n)
    got = Counter(it["language"] for it in rows)
    assert abs(got["sw"] / n - 0.5) < 3 * math.sqrt(0.25 / n), got  # 10% of the hours, half the samples


@pytest.mark.slow
@pytest.mark.model
def test_two_builds_resume_exactly_and_log_their_mixture(tmp_path):
    from tests.helpers import SOURCE, commonvoice_folder, train_args
    from wsdata import config
    from wsdata.cli import main
    from wsdata.orchestrate import build
    from wsdata.train.loop import TrainArgs, train

    crawl = tmp_path / "crawl"
    build(SOURCE, crawl, config.load("default"), progress=False)
    commonvoice_folder(tmp_path / "cv", "it", 6)
    cv = tmp_path / "cvb"
    assert main(["import", str(tmp_path / "cv"), "--out", str(cv), "--no-dedup", "--no-text-filters", "--quiet"]) == 0

    def run(out: str, **kw) -> TrainArgs:
        data = kw.pop("data", (str(crawl), f"{cv}:0.5"))
        return train_args(data, tmp_path / out, **({"workers": 2, "save_every": 3} | kw))

    train(run("once"))
    train(run("twice", stop_at=6))
    train(run("twice", resume=True))
    logs = [[json.loads(x) for x in (tmp_path / r / "log.jsonl").read_text().splitlines()] for r in ("once", "twice")]
    assert [x["loss"] for x in logs[0]] == [x["loss"] for x in logs[1]]
    assert [x["mixture"] for x in logs[0]] == [x["mixture"] for x in logs[1]]
    mix = json.loads((tmp_path / "once" / "mixture.json").read_text())
    assert mix == json.loads((tmp_path / "twice" / "mixture.json").read_text())
    assert mix["samples"] == 12 * 4
    first = mix["components"][0]
    sigma = math.sqrt(first["weight_share"] * (1 - first["weight_share"]) / mix["samples"])
    assert first["name"] == "crawl" and abs(first["sample_share"] - 2 / 3) < 3 * sigma
    assert mix["components"][1]["hours_by_language"].keys() == {"it"}
    with pytest.raises(ValueError, match="--resume with --data"):
        train(run("twice", data=(str(crawl),), resume=True, steps=20))
