"""Verdicts: one JSON line per judgement in OUT/review/verdicts.jsonl, appended durably.

Each verdict is one `write` of one line to a file opened with O_APPEND, then fsync: several
reviewers can append to the same file at once without overwriting each other, and a kill at any
moment leaves every earlier verdict on disk. A reviewer's later verdict on an item replaces their
earlier one when the report is computed.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wsdata.layout import Layout

CHOICES = ("right", "wrong", "unsure")  # was the decision (keep or reject) right?


def append(out: Path, item: dict[str, Any], verdict: str, reviewer: str, note: str = "") -> dict[str, Any]:
    if verdict not in CHOICES:
        raise ValueError(f"verdict {verdict!r} is not one of {CHOICES}")
    rec = {
        "item_id": item["item_id"],
        "position": item["position"],
        "stratum": item["stratum"],
        "source": item["source"],
        "decision": item["decision"],
        "verdict": verdict,
        "note": note,
        "reviewer": reviewer,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    line = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
    path = Layout(out).verdicts
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return rec


def load(out: Path) -> list[dict[str, Any]]:
    """Every readable verdict of build folder `out`, in file order (a torn last line is skipped)."""
    path = Layout(out).verdicts
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and rec.get("verdict") in CHOICES:
            out.append(rec)
    return out


def latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each reviewer's last verdict on each item."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        last[(r["item_id"], r["reviewer"])] = r
    return list(last.values())
