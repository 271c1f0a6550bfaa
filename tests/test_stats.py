"""The typed counters: sums over chunks are exact, in any order and grouping, and survive the
completion marker's JSON; counters of another version are refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsdata.stats import ChunkStats, KeptCount, ReasonCount, SourceCount, StatsVersionError, StepCount

names = st.sampled_from(["read", "pair/audio", "segment", "x.y", ""])
small = st.integers(0, 1000)


@st.composite
def chunk_stats(draw) -> ChunkStats:
    s = ChunkStats(docs_in=draw(small), docs_kept=draw(small), audio_ms_in=draw(small), segments_cut=draw(small))
    for name in draw(st.lists(names, max_size=3)):
        s.steps[name] = StepCount(draw(small), draw(small), draw(small), draw(small), draw(small))
        s.doc_reasons[name] = ReasonCount(draw(small), draw(small))
        s.by_source[name] = SourceCount(draw(small), draw(small), draw(small), draw(small))
        s.by_language.setdefault(name, {})[draw(st.sampled_from(["transcribe", "translate"]))] = KeptCount(
            draw(small), draw(small)
        )
    return s


def total(parts: list[ChunkStats]) -> dict:
    out = ChunkStats()
    for p in parts:
        out.merge(ChunkStats.from_json(json.loads(json.dumps(p.to_json()))))
    return out.to_json()


@settings(max_examples=200, deadline=None)
@given(st.lists(chunk_stats(), min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_sums_do_not_depend_on_order_or_grouping(parts, rng):
    want = total(parts)
    shuffled = list(parts)
    rng.shuffle(shuffled)
    assert total(shuffled) == want
    half = len(parts) // 2
    assert total([ChunkStats.from_json(total(parts[:half])), ChunkStats.from_json(total(parts[half:]))]) == want
    assert want["docs_in"] == sum(p.docs_in for p in parts)


@given(chunk_stats())
def test_json_round_trip_and_merge_leaves_the_other_untouched(s):
    before = json.dumps(s.to_json())
    assert ChunkStats.from_json(s.to_json()).to_json() == s.to_json()
    ChunkStats().merge(s).merge(s)
    assert json.dumps(s.to_json()) == before  # merging copies, never aliases the other's counters


def test_counters_of_another_version_are_refused():
    data = ChunkStats().to_json()
    data["version"] = 1
    with pytest.raises(StatsVersionError, match="version 1"):
        ChunkStats.from_json(data)
