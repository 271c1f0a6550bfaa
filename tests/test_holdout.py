"""A small build still gets a validation split: the kept document first by the split hash is held
out, its counters follow it, and a kill in the middle of the move finishes on the rerun."""

from __future__ import annotations

import json

import pytest

from tests.helpers import SOURCE, all_rows, tree
from wsdata import config, holdout
from wsdata.hashing import unit_interval
from wsdata.layout import Layout
from wsdata.orchestrate import build
from wsdata.verify import check_accounting

pytestmark = pytest.mark.slow
CFG = config.load("default")


def test_the_first_document_by_hash_is_held_out(tmp_path):
    out = tmp_path / "o"
    stats = build(SOURCE, out, CFG, progress=False)
    data, _ = all_rows(out)
    docs = {r["doc_id"] for r in data}
    first = min(docs, key=lambda d: (unit_interval(f"{CFG.write.split_seed}:{d}"), d))
    assert stats["held_out_document"] == first
    val = [r for p in Layout(out).shards("validation") for r in _ids(p)]
    train = [r for p in Layout(out).shards("train") for r in _ids(p)]
    assert val and {d for d, _ in val} == {first} and first not in {d for d, _ in train}
    assert stats["segments"]["kept_validation"] == len(val) and stats["segments"]["kept_train"] == len(train)
    ms = sum(r["duration_ms"] for r in data if r["doc_id"] == first)
    assert stats["hours"]["kept_validation"] == pytest.approx(ms / 3.6e6, abs=1e-4)  # stats round hours
    assert check_accounting(out, SOURCE) == []
    assert "was held out" in Layout(out).card.read_text(encoding="utf-8")


def _ids(path):
    import pyarrow.parquet as pq

    return [(r["doc_id"], r["id"]) for r in pq.read_table(path, columns=["doc_id", "id"]).to_pylist()]


def test_a_kill_in_the_middle_of_the_move_finishes_on_the_rerun(tmp_path, monkeypatch):
    whole = tmp_path / "whole"
    build(SOURCE, whole, CFG, progress=False)
    out = tmp_path / "killed"
    real_move = holdout._move

    def killed(*a, **kw):
        raise KeyboardInterrupt  # after the intent is written, before any file moves

    monkeypatch.setattr(holdout, "_move", killed)
    with pytest.raises(KeyboardInterrupt):
        build(SOURCE, out, CFG, progress=False)
    markers = [json.loads(p.read_text()) for p in sorted((out / "_work" / "chunks").glob("*.json"))]
    assert any(m.get("hold_out") for m in markers)
    monkeypatch.setattr(holdout, "_move", real_move)
    build(SOURCE, out, CFG, progress=False)
    assert tree(out) == tree(whole)  # the same files, byte for byte, as a build never interrupted


def test_no_hold_out_when_asked_for_none(tmp_path):
    out = tmp_path / "o"
    stats = build(SOURCE, out, config.from_dict({"write": {"validation_fraction": 0.0}}), progress=False)
    assert stats["held_out_document"] is None and not Layout(out).shards("validation")
