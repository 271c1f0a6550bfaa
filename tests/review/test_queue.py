"""Review queues: stratified, sized as configured, reproducible, independent of workers."""

from __future__ import annotations

import polars as pl
import pytest

from tests.helpers import SOURCE
from wsdata import config
from wsdata.orchestrate import build
from wsdata.review.sample import check_queue, sample_key


def queue(out):
    return pl.read_parquet(out / "review" / "queue.parquet")


pytestmark = pytest.mark.slow  # every test here builds the minicorpus


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    cfg = config.from_dict({"review": {"kept_per_source": 2, "rejected_per_reason": 1}, "read": {"chunk_size": 3}})
    a, b = tmp_path_factory.mktemp("qa"), tmp_path_factory.mktemp("qb")
    build(SOURCE, a, cfg, workers=1, progress=False)
    build(
        SOURCE,
        b,
        config.from_dict({"review": {"kept_per_source": 2, "rejected_per_reason": 1}}),
        workers=2,
        progress=False,
    )
    return cfg, a, b


def test_every_stratum_in_the_configured_size(two_builds):
    cfg, a, _ = two_builds
    assert check_queue(a, cfg) == []
    q = queue(a)
    reasons = set(pl.read_parquet(sorted((a / "rejects").glob("*.parquet")))["reason"])
    assert reasons <= set(q["stratum"]) and "kept" in set(q["stratum"])
    kept = q.filter(pl.col("stratum") == "kept").group_by("source").len()
    assert kept["len"].max() <= 2 and (q.filter(pl.col("decision") == "kept")["audio_flac"].is_not_null()).all()


def test_sample_is_the_smallest_keys_and_reproducible(two_builds):
    _, a, b = two_builds
    qa, qb = queue(a), queue(b)
    assert qa.drop("position").sort("item_id").equals(qb.drop("position").sort("item_id"))  # chunking, workers
    assert qa["position"].to_list() == list(range(qa.height)) and qa["key"].is_sorted()
    seed = config.ReviewConfig().seed
    assert all(sample_key(seed, i) == k for i, k in zip(qa["item_id"], qa["key"]))
    # In a stratum with more items than its size, the sample holds the smallest keys.
    kept_all = pl.read_parquet(sorted((a / "data").glob("*.parquet")), columns=["id", "source"])
    for src, grp in kept_all.group_by("source"):
        keys = sorted(sample_key(seed, i) for i in grp["id"])
        got = sorted(qa.filter((pl.col("stratum") == "kept") & (pl.col("source") == src[0]))["key"].to_list())
        assert got == keys[:2]


def test_another_seed_draws_another_sample(tmp_path):
    cfg = config.from_dict({"review": {"kept_per_source": 2, "seed": "other"}})
    build(SOURCE, tmp_path, cfg, progress=False)
    assert check_queue(tmp_path, cfg) == []
    assert all(sample_key("other", i) == k for i, k in zip(queue(tmp_path)["item_id"], queue(tmp_path)["key"]))
