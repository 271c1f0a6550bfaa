"""What the verdicts say: each filter's precision, the kept data's error rate, and which sources
to look at next (the paper's second pass: error rate x size). Wilson 95% intervals throughout."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from wsdata.layout import Layout
from wsdata.review import verdicts as vd
from wsdata.review.sample import KEPT_STRATA
from wsdata.terminal import safe

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """(k/n, lower, upper) of the Wilson score interval; (nan, 0, 1) when n = 0."""
    if n == 0:
        return math.nan, 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return p, max(0.0, centre - half), min(1.0, centre + half)


def tables(out: Path) -> dict[str, Any]:
    """The report's numbers for build folder `out` (queue, verdicts and stats.json)."""
    layout = Layout(out)
    valid, skipped = vd.load_counted(out)
    recs = vd.latest(valid)
    by_stratum: dict[str, dict[str, int]] = {}
    by_source: dict[str, dict[str, int]] = {}
    for r in recs:
        c = by_stratum.setdefault(r["stratum"], {"right": 0, "wrong": 0, "unsure": 0})
        c[r["verdict"]] += 1
        if r["decision"] == "kept":
            s = by_source.setdefault(r["source"] or "", {"right": 0, "wrong": 0, "unsure": 0})
            s[r["verdict"]] += 1
    rows = []
    for stratum, c in sorted(by_stratum.items()):
        n = c["right"] + c["wrong"]
        # For a reject reason: precision = share judged right. For kept: share judged wrong.
        k = c["wrong"] if stratum in KEPT_STRATA else c["right"]
        p, lo, hi = wilson(k, n)
        rows.append({"stratum": stratum, "n": n, "unsure": c["unsure"], "k": k, "rate": p, "lo": lo, "hi": hi})
    stats = _stats(layout)
    sources = []
    for src, v in stats.get("by_source", {}).items():
        c = by_source.get(src, {"right": 0, "wrong": 0, "unsure": 0})
        n = c["right"] + c["wrong"]
        err, lo, hi = wilson(c["wrong"], n)
        rej = 1 - v["documents_kept"] / v["documents_in"] if v["documents_in"] else 0.0
        rate = err if n else rej  # reviewed error rate where there is one, else the rejection rate
        sources.append(
            {
                "source": src or "(none)",
                "key": src,  # the source as in the queue ("" for none): the review page filters by it
                # decoded hours, plus the estimate for documents rejected before decoding: a source
                # turned down whole by the text filters must rank by its size too
                "hours_in": v["hours_in"] + v.get("hours_in_estimated", 0.0),
                "hours_estimated": v.get("hours_in_estimated", 0.0),
                "hours_kept": v["hours_kept"],
                "rejection_rate": rej,
                "reviewed": n,
                "error_rate": err,
                "error_lo": lo,
                "error_hi": hi,
                "priority": rate * (v["hours_in"] + v.get("hours_in_estimated", 0.0)),
            }
        )
    sources.sort(key=lambda s: -s["priority"])
    return {
        "strata": rows,
        "sources": sources,
        "verdicts": len(recs),
        "skipped": skipped,
        "stats": stats,
        "scores": model_scores(out),
    }


class ReportError(Exception):
    """The build folder's stats.json (or scores) cannot make a report; the message says why."""


def _stats(layout: Layout) -> dict[str, Any]:
    """stats.json (wsdata.summary.read_stats); ReportError when it cannot be read."""
    from wsdata.errors import BuildError
    from wsdata.summary import read_stats

    try:
        return read_stats(layout)
    except BuildError as e:
        raise ReportError(str(e)) from None


def make(out: Path, title: str, served: bool = False) -> tuple[str, str]:
    """The report of build folder `out` as terminal text and as an HTML page (wsdata/review/html.py).
    ReportError when its files do not hold a build's numbers: a folder edited by hand or from
    someone else must not stop the command with a traceback."""
    from pyarrow import ArrowException  # a scores file that is no Parquet, or of other columns

    from wsdata.review import html

    try:
        t = tables(out)
        return text(t), html.render(t, title, served)
    except ReportError:
        raise
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, OSError, ArrowException) as e:
        raise ReportError(
            f"{Layout(out).stats} or the scores do not hold a wsdata build's numbers ({type(e).__name__}: {e})"
        ) from None


def model_scores(out: Path) -> dict[str, Any] | None:
    """What `wsdata score` found (the latest model): sources by WER x hours, and a WER histogram."""
    from wsdata.agree import score

    found = score.latest_scores(out)
    if found is None:
        return None
    model, table = found
    edits, words = sum(table["edits"].to_pylist()), sum(table["words"].to_pylist())
    return {
        "model": model,
        "segments": table.num_rows,
        "wer": edits / words if words else 0.0,
        "sources": score.by_source(table),
        "histogram": score.histogram(table),
    }


def _pct(x: float) -> str:
    return "  -  " if math.isnan(x) else f"{x:6.1%}"


def text(t: dict[str, Any]) -> str:
    lines = [
        f"{t['verdicts']} verdicts"
        + (f" ({t['skipped']} unreadable lines of verdicts.jsonl skipped)" if t["skipped"] else ""),
        "",
        "Filter precision (share of rejections judged right), Wilson 95%:",
        f"  {'reason':<34}{'n':>5}{'unsure':>8}{'precision':>11}   95% interval",
    ]
    for r in t["strata"]:
        if r["stratum"] not in KEPT_STRATA:
            lines.append(
                f"  {safe(r['stratum']):<34}{r['n']:>5}{r['unsure']:>8}{_pct(r['rate']):>11}"
                f"   [{r['lo']:.1%}, {r['hi']:.1%}]"
            )
    kept = [r for r in t["strata"] if r["stratum"] in KEPT_STRATA]
    lines += ["", "Kept segments that should have been rejected:"]
    for r in kept:
        lines.append(
            f"  {r['stratum']:<34}{r['n']:>5}{r['unsure']:>8}{_pct(r['rate']):>11}   [{r['lo']:.1%}, {r['hi']:.1%}]"
        )
    lines += [
        "",
        "Sources to look at next (error rate, or rejection rate where none was reviewed, x hours in):",
        f"  {'source':<32}{'hours in':>9}{'rejected':>10}{'reviewed':>10}{'error':>9}{'priority':>10}",
    ]
    for s in t["sources"][:20]:
        lines.append(
            f"  {safe(s['source'], 31):<32}{s['hours_in']:>9.3f}{s['rejection_rate']:>10.1%}{s['reviewed']:>10}"
            f"{_pct(s['error_rate']):>9}{s['priority']:>10.4f}"
        )
    sc = t.get("scores")
    if sc:
        lines += [
            "",
            (
                f"Under the model {safe(sc['model'])} ({sc['segments']} kept speech segments, WER {sc['wer']:.1%}):"
                " sources by WER x hours, as Whisper's authors sorted theirs"
            ),
            f"  {'source':<32}{'segments':>9}{'hours':>9}{'WER':>8}{'priority':>10}",
        ]
        for s in sc["sources"][:20]:
            lines.append(
                f"  {safe(s['source'] or '(none)', 31):<32}{s['segments']:>9}{s['hours']:>9.3f}{s['wer']:>8.1%}"
                f"{s['priority']:>10.4f}"
            )
        top = max((n for _, n in sc["histogram"]), default=0) or 1
        lines += ["", "  WER of kept segments:"]
        lines += [f"  {label:>8} {n:>6} {'#' * round(40 * n / top)}" for label, n in sc["histogram"]]
    return "\n".join(lines)
