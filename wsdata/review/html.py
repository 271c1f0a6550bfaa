"""The audit report as one self-contained HTML file: inline CSS and SVG charts, no scripts.

Crawled strings (sources, reasons) are escaped, and their control characters shown visibly
(wsdata/terminal.py); in the table each is also isolated in `<bdi>`."""

from __future__ import annotations

import html
import math
from typing import Any

from wsdata.review.sample import KEPT_STRATA
from wsdata.terminal import safe

_W, _LABEL, _ROW = 760, 260, 22  # chart width, label column, row height (px)


def _bars(title: str, rows: list[tuple[str, float, str]], vmax: float, css: str = "bar") -> str:
    """A horizontal bar chart: (label, value, text shown after the bar)."""
    h = _ROW * len(rows) + 30
    out = [
        (
            f'<h2>{html.escape(title)}</h2><svg class="chart" width="{_W}" height="{h}" role="img" '
            f'aria-label="{html.escape(title)}">'
        )
    ]
    span = _W - _LABEL - 120
    for i, (label, v, shown) in enumerate(rows):
        y = 10 + i * _ROW
        w = 0 if vmax <= 0 or math.isnan(v) else max(1.0, span * v / vmax)
        out.append(
            f'<text x="{_LABEL - 8}" y="{y + 14}" text-anchor="end">{html.escape(safe(label, 40))}</text>'
            f'<rect class="{css}" x="{_LABEL}" y="{y}" width="{w:.1f}" height="{_ROW - 6}"/>'
            f'<text x="{_LABEL + w + 6:.1f}" y="{y + 14}">{html.escape(shown)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _intervals(title: str, rows: list[dict[str, Any]]) -> str:
    """Point and Wilson 95% interval per row, on a 0-100% axis."""
    h = _ROW * len(rows) + 40
    span = _W - _LABEL - 120
    out = [
        (
            f'<h2>{html.escape(title)}</h2><svg class="chart" width="{_W}" height="{h}" role="img" '
            f'aria-label="{html.escape(title)}">'
        )
    ]
    for t in (0, 0.5, 1):
        x = _LABEL + span * t
        out.append(
            f'<line class="grid" x1="{x}" y1="5" x2="{x}" y2="{h - 20}"/>'
            f'<text x="{x}" y="{h - 5}" text-anchor="middle">{t:.0%}</text>'
        )
    for i, r in enumerate(rows):
        y = 10 + i * _ROW + 8
        out.append(f'<text x="{_LABEL - 8}" y="{y + 5}" text-anchor="end">{html.escape(safe(r["stratum"], 40))}</text>')
        if r["n"]:
            x0, x1, xp = (_LABEL + span * v for v in (r["lo"], r["hi"], r["rate"]))
            out.append(
                f'<line class="ci" x1="{x0:.1f}" y1="{y}" x2="{x1:.1f}" y2="{y}"/>'
                f'<circle class="point" cx="{xp:.1f}" cy="{y}" r="5"/>'
                f'<text x="{_W - 110}" y="{y + 5}">{r["rate"]:.0%} (n={r["n"]})</text>'
            )
        else:
            out.append(f'<text x="{_LABEL}" y="{y + 5}">not reviewed yet</text>')
    out.append("</svg>")
    return "".join(out)


def _rate(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.1%}"


def render(t: dict[str, Any], title: str) -> str:
    st = t["stats"]
    funnel = [
        (
            f["step"],
            float(f["documents_in"] - f["documents_rejected"]),
            f"{f['documents_in'] - f['documents_rejected']} of {f['documents_in']}",
        )
        for f in st["funnel"]
    ]
    rejects = [r for r in t["strata"] if r["stratum"] not in KEPT_STRATA]
    kept = [r for r in t["strata"] if r["stratum"] in KEPT_STRATA]
    top = t["sources"][:15]
    pmax = max((s["priority"] for s in top), default=0.0)
    table = "".join(
        f"<tr><td><bdi>{html.escape(safe(s['source']))}</bdi></td><td>{s['hours_in']:.3f}</td><td>{s['rejection_rate']:.1%}</td>"
        f"<td>{s['reviewed']}</td><td>{_rate(s['error_rate'])}</td><td>{s['priority']:.4f}</td></tr>"
        for s in top
    )
    priorities = [(s["source"], s["priority"], f"{s['priority']:.4f}") for s in top]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 24px; color: #222; }}
svg.chart text {{ font: 12px system-ui, sans-serif; fill: #222; }}
rect.bar {{ fill: #4a7ab7; }} rect.warn {{ fill: #c8553d; }}
line.ci {{ stroke: #4a7ab7; stroke-width: 3; }} circle.point {{ fill: #1d3557; }} line.grid {{ stroke: #ddd; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{t["verdicts"]} verdicts. Documents: {st["documents"]["in"]} in, {st["documents"]["kept"]} kept.
Intervals are Wilson 95% score intervals.</p>
{_bars("Funnel: documents left after each stage", funnel, float(st["documents"]["in"]))}
{_intervals("Filter precision: share of rejections judged right", rejects)}
{_intervals("Kept segments judged wrong (should have been rejected)", kept)}
{_bars("Sources to look at next: error (or rejection) rate x hours in", priorities, pmax, "warn")}
<table><tr><th>source</th><th>hours in</th><th>rejected</th><th>reviewed kept</th><th>error rate</th>
<th>priority</th></tr>
{table}</table>
{_scores(t.get("scores"))}
</body></html>
"""


def _scores(sc: dict[str, Any] | None) -> str:
    """`wsdata score`'s ranking and histogram, when the build has been scored."""
    if not sc:
        return ""
    top = sc["sources"][:15]
    by_wer = [(s["source"] or "(none)", s["priority"], f"WER {s['wer']:.1%} x {s['hours']:.3f} h") for s in top]
    hist = [(label, float(n), str(n)) for label, n in sc["histogram"]]
    title = (
        f"Under the model {safe(sc['model'])}: sources by WER x hours ({sc['segments']} segments, WER {sc['wer']:.1%})"
    )
    return _bars(title, by_wer, max((s["priority"] for s in top), default=0.0), "warn") + _bars(
        "WER of kept segments", hist, max((n for _, n, _ in hist), default=0.0)
    )
