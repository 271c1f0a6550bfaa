"""The Ray engine against the local one on real audio: the same files byte for byte (with the
agreement check's model too), dedup's Ray group-by against polars, a Ray worker killed mid-build,
and resuming across engines."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import SOURCE, all_rows, dedup_crawl, tree
from wsdata import config
from wsdata.chunks import iter_chunks
from wsdata.cli import main
from wsdata.dedup import cluster
from wsdata.layout import Layout
from wsdata.orchestrate import build, prepare_out
from wsdata.process import process_chunk
from wsdata.verify import check_accounting

pytestmark = [pytest.mark.slow, pytest.mark.ray]
ray = pytest.importorskip("ray", reason="the ray extra is not installed (make test installs it)")
ray_engine = pytest.importorskip("wsdata.engines.ray")
CFG = config.from_dict({"read": {"chunk_size": 2}, "machine": {"trust_caption_kind": False}})


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.mark.parametrize("corpus", ["minicorpus", "dedup"])
def test_ray_build_equals_the_local_build_file_for_file(tmp_path, local_ray, corpus):
    src = SOURCE if corpus == "minicorpus" else dedup_crawl(tmp_path)
    build(src, tmp_path / "local", CFG, workers=2, progress=False)
    stats = build(src, tmp_path / "ray", CFG, workers=2, progress=False, engine="ray")
    assert check_accounting(tmp_path / "ray", src) == []
    assert stats["documents"]["in"] == len(src.read_text().strip().splitlines())
    assert tree(tmp_path / "ray") == tree(tmp_path / "local")
    if corpus == "dedup":
        assert stats["dedup"]["rejected"] == 3  # the Ray group-by found the same duplicates


@pytest.mark.model
def test_ray_build_with_the_agreement_check_equals_the_local_one(tmp_path, local_ray, whisper_base):
    """`--asr` on Ray: each task loads the model once per worker process, one thread each, as a local
    worker does, so transcripts, error rates and decisions are the same file for file."""
    cfg = config.override(CFG, {"agree.asr": whisper_base})
    build(SOURCE, tmp_path / "local", cfg, workers=2, progress=False)
    stats = build(SOURCE, tmp_path / "ray", cfg, workers=2, progress=False, engine="ray")
    assert check_accounting(tmp_path / "ray", SOURCE) == []
    kept, _ = all_rows(tmp_path / "ray")
    speech = [r for r in kept if not r["no_speech"]]
    assert speech and all(r["asr_text"] and r["asr_wer"] is not None for r in speech)
    assert any(f["step"] == "agree" for f in stats["funnel"])
    assert tree(tmp_path / "ray") == tree(tmp_path / "local")


def test_ray_links_equal_polars_links(tmp_path, local_ray):
    """Random spilled keys with planted bucket-mates (some in several bands, some exact)."""
    bands, n = 14, 5000
    rng = np.random.default_rng(7)
    keys = rng.integers(-(2**63), 2**63 - 1, size=(n, bands + 1), dtype=np.int64)
    for i in rng.choice(np.arange(1, n), size=400, replace=False):
        j = int(rng.integers(0, i))
        cols = rng.choice(bands + 1, size=int(rng.integers(1, 4)), replace=False)
        keys[i, cols] = keys[j, cols]
    files = []
    for f, lo in enumerate(range(0, n, 1500)):
        part = {"line": np.arange(lo, min(n, lo + 1500)), "exact": keys[lo : lo + 1500, bands]}
        part.update({f"band_{k}": keys[lo : lo + 1500, k] for k in range(bands)})
        files.append(tmp_path / f"{f:05d}.parquet")
        pq.write_table(pa.table(part), files[-1])
    order = ["band", "line", "root"]
    want = cluster.local_links(files, bands, n).sort(order)
    got = ray_engine.ray_links(files, bands, n).sort(order)
    assert want.height > 400 and got.equals(want)
    assert ray_engine.ray_links([], bands, 0).height == 0


def _task_pids() -> list[int]:
    """Ray worker processes running one of the build's chunk tasks now (Ray names them by task)."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and b"MapBatches(_apply)" in (d / "cmdline").read_bytes():
                pids.append(int(d.name))
        except OSError:
            continue
    return pids


def test_a_killed_ray_worker_loses_and_repeats_nothing(tmp_path, local_ray):
    ref, out = tmp_path / "ref", tmp_path / "ray"
    build(SOURCE, ref, CFG, progress=False)
    result: dict = {}
    job = threading.Thread(
        target=lambda: result.update(build(SOURCE, out, CFG, workers=2, progress=False, engine="ray"))
    )
    job.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and job.is_alive() and time.monotonic() < deadline:
        if Layout(out).dedup_done.exists():  # the build pass (decode, stages, writes) is on
            for pid in _task_pids():
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.002)
    job.join(300)
    assert killed is not None, "no chunk task was seen running: nothing was killed"
    assert result, "the Ray build did not finish after its worker was killed"
    assert check_accounting(out, SOURCE) == []
    assert all_rows(out) == all_rows(ref)
    assert not list(out.rglob("*.tmp"))
    assert (out / "stats.json").read_text() == (ref / "stats.json").read_text()


def test_a_local_build_resumes_on_ray(tmp_path, local_ray):
    ref, out = tmp_path / "ref", tmp_path / "mixed"
    build(SOURCE, ref, CFG, progress=False)
    prepare_out(out, SOURCE, CFG)  # a local build killed after its dedup pass and two chunks
    for c in iter_chunks(SOURCE, 2):
        cluster.signature_chunk(c, SOURCE.parent, out, CFG)
    assert len(Layout(out).all_dedup_signatures()) == 10
    cluster.find_duplicates(out, CFG)
    for c in list(iter_chunks(SOURCE, 2))[:2]:
        process_chunk(c, SOURCE.parent, out, CFG)
    build(SOURCE, out, CFG, workers=2, progress=False, engine="ray")
    assert tree(out) == tree(ref)


def test_engine_ray_without_ray_installed_is_one_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    rc = main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--engine", "ray", "--quiet"])
    assert rc == 2
    assert "pip install 'wsdata[ray]'" in capsys.readouterr().err
