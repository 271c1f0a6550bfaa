"""Union-find and the global pass: clusters, the keep rule, reasons, resume."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsdata.dedup.cluster import union_find


def reference_components(edges: list[tuple[int, int]]) -> dict[int, int]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for u, v in edges:
        a, b = find(u), find(v)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {x: min(y for y in parent if find(y) == find(x)) for x in parent}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=80))
def test_union_find_matches_a_plain_one(edges):
    u, v = np.array([e[0] for e in edges]), np.array([e[1] for e in edges])
    nodes, label = union_find(u, v)
    want = reference_components(edges)
    assert dict(zip(nodes.tolist(), label.tolist())) == want


def test_union_find_long_chain():
    n = 10_000
    nodes, label = union_find(np.arange(1, n), np.arange(0, n - 1))
    assert len(nodes) == n and (label == 0).all()


@pytest.mark.parametrize("edges", [[(5, 5)], [(3, 9), (9, 3)]])
def test_union_find_self_and_repeated_edges(edges):
    nodes, label = union_find(np.array([e[0] for e in edges]), np.array([e[1] for e in edges]))
    assert set(label.tolist()) == {min(nodes.tolist())}


def test_candidates_are_verified_on_full_signatures(tmp_path):
    """Two documents sharing one LSH band but not similar overall are not linked."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from wsdata import config
    from wsdata.dedup import cluster
    from wsdata.dedup.minhash import lsh_params
    from wsdata.layout import Layout

    cfg = config.load("default")
    b, _ = lsh_params(cfg.dedup.threshold, cfg.dedup.num_perm)
    rng = np.random.default_rng(0)
    sigs = rng.integers(0, 2**32 - 1, size=(4, cfg.dedup.num_perm), dtype=np.uint32)
    sigs[1] = sigs[0]
    sigs[1, :10] += 1  # 1 and 0: 118/128 values equal (0.92 >= 0.8): duplicates
    sigs[3, :20] = sigs[2, :20]  # 3 and 2: 20/128 equal (0.16): not duplicates
    keys = rng.integers(-(2**62), 2**62, size=(4, b + 1), dtype=np.int64)
    keys[1, 5], keys[3, 0] = keys[0, 5], keys[2, 0]  # each pair shares one band
    cols = {
        "line": np.arange(1, 5),
        "doc_id": ["d1", "d2", "d3", "d4"],
        "exact": keys[:, b],
        "machine_looking": np.zeros(4, bool),
        "length": np.array([10, 20, 10, 10]),
        "n_words": np.full(4, 5),
        "sig": pa.array([r.tobytes() for r in sigs], pa.binary()),
    }
    cols.update({f"band_{k}": keys[:, k] for k in range(b)})
    path = Layout(tmp_path).dedup_signatures(0)
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table(cols), path)
    summary = cluster.find_duplicates(tmp_path, cfg)
    assert (summary["clusters"], summary["rejected"], summary["rejected_exact"]) == (1, 1, 0)
    assert cluster.decisions_for(Layout(tmp_path), 1, 4) == {
        1: ("dedup.near_duplicate", "duplicate_of=d2 (line 2; cluster of lines from 1)")
    }
