"""Dedup's bucket search on Ray vs polars in one process, on spilled keys of N synthetic documents.

    .venv/bin/python bench/ray_links.py [--docs 1000000]

Both find the same links (checked); wall time of `ray_engine.ray_links` on a local Ray instance of
2 CPUs (started before timing) against `cluster.local_links`. Prints a Markdown line.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dedup import spill_synthetic
from wsdata import config
from wsdata.dedup import cluster
from wsdata.dedup.minhash import lsh_params
from wsdata.engines import ray as ray_engine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    a = ap.parse_args()
    cfg = config.BuildConfig().dedup
    bands, _ = lsh_params(cfg.threshold, cfg.num_perm)
    with tempfile.TemporaryDirectory() as tmp:
        spill_synthetic(Path(tmp), a.docs, cfg, per_file=50_000)
        files = sorted(Path(tmp).glob("_work/dedup/sig/*.parquet"))
        n = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        t = time.perf_counter()
        want = cluster.local_links(files, bands, n).sort(["band", "line"])
        local_s = time.perf_counter() - t
        with ray_engine.Session(None, 2):
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            t = time.perf_counter()
            got = ray_engine.ray_links(files, bands, n).sort(["band", "line"])
            ray_s = time.perf_counter() - t
    assert got.equals(want), "the two engines found different links"
    print(f"| {a.docs:,} documents | {want.height:,} links | polars {local_s:.2f} s | Ray {ray_s:.2f} s |")


if __name__ == "__main__":
    main()
