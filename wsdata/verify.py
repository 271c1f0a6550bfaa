"""Check a finished build against its accounting rules (docs/shards.md, Accounting).

Every crawl line ends in exactly one place (a document with rows in data/, or one document-level
reject); every segment id appears once, in data/ or in rejects/; stats.json adds up and matches
the files. Used by the tests after every build and by `scripts/check_truth.py`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from wsdata.io.crawl import iter_lines
from wsdata.layout import Layout


def read_rows(folder: Path, columns: list[str] | None = None) -> list[dict]:
    """Every row of the Parquet files in `folder` (a build's `Layout(out).data` or `.rejects`)."""
    rows: list[dict] = []
    for f in sorted(folder.glob("*.parquet")):
        rows += pq.read_table(f, columns=columns).to_pylist()
    return rows


def check_accounting(out: Path, source: Path) -> list[str]:
    """Problems found, as sentences; an empty list means the build's books balance."""
    problems: list[str] = []
    layout = Layout(out)
    stats = json.loads(layout.stats.read_text(encoding="utf-8"))
    limit = stats["config"].get("limits", {}).get("max_line_bytes")  # lines are cut as the build cut them
    lines = [n for n, _ in iter_lines(source, limit)]
    kept = read_rows(layout.data, ["id", "doc_id", "start_ms", "end_ms", "duration_ms"])
    rejects = read_rows(layout.rejects, ["doc_id", "segment_id", "line", "reason", "stage"])
    doc_rejects = [r for r in rejects if r["segment_id"] is None]
    kept_docs = {r["doc_id"] for r in kept}
    rejected_lines = Counter(r["line"] for r in doc_rejects)
    for r in doc_rejects:
        if r["doc_id"] in kept_docs and r["stage"] != "read":  # a duplicate id line may name a kept doc
            problems.append(f"document {r['doc_id']} is both kept and rejected")
        if r["reason"].split(".", 1)[0] != r["stage"]:
            problems.append(f"reject of line {r['line']}: stage {r['stage']} does not match reason {r['reason']}")
    for n, c in rejected_lines.items():
        if c > 1:
            problems.append(f"line {n} has {c} document-level rejects")
    if len(kept_docs) + len(doc_rejects) != len(lines):
        problems.append(f"{len(lines)} lines in, but {len(kept_docs)} kept + {len(doc_rejects)} rejected documents")
    seg_ids = Counter([r["id"] for r in kept] + [r["segment_id"] for r in rejects if r["segment_id"]])
    dupes = [s for s, c in seg_ids.items() if c > 1]
    if dupes:
        problems.append(f"{len(dupes)} segment ids appear twice, e.g. {dupes[0]}")
    for r in kept:
        if not 0 < r["duration_ms"] <= 30_000 or r["end_ms"] - r["start_ms"] != r["duration_ms"]:
            problems.append(f"kept segment {r['id']} spans {r['start_ms']}..{r['end_ms']} ms")
    d, s = stats["documents"], stats["segments"]
    if d["in"] != d["kept"] + d["rejected"] or d["in"] != len(lines):
        problems.append(f"stats.json documents do not add up: {d}")
    if d["kept"] != len(kept_docs) or d["rejected"] != len(doc_rejects):
        problems.append("stats.json documents differ from the files")
    if (
        s["kept"] != len(kept)
        or s["rejected"] != len(rejects) - len(doc_rejects)
        or s["cut"] != s["kept"] + s["rejected"]
    ):
        problems.append(f"stats.json segments differ from the files: {s}")
    return problems
