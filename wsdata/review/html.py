"""The audit report: one self-contained HTML file (inline CSS and SVG charts, no scripts), or the
same page served live by `wsdata review DIR --web` (its stylesheet and a script that reloads it as
verdicts arrive, served beside it; every source links to its items on the review page).

Crawled strings (sources, reasons) are escaped, and their control characters shown visibly
(wsdata/terminal.py); in the table each is also isolated in `<bdi>`."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import quote

from wsdata.review.sample import KEPT_STRATA
from wsdata.terminal import safe

_W, _LABEL, _ROW = 760, 260, 22  # chart width, label column, row height (px)


def source_link(source: str) -> str:
    """The review page's address for the items of `source` ("" for items with none)."""
    return "/?source=" + quote(source, safe="")


def _label(x: int, y: int, label: str, href: str | None) -> str:
    text = f'<text x="{x}" y="{y}" text-anchor="end">{html.escape(safe(label, 40))}</text>'
    return f'<a href="{html.escape(href)}">{text}</a>' if href else text


def _bars(
    title: str,
    rows: list[tuple[str, float, str]],
    vmax: float,
    css: str = "bar",
    hrefs: list[str] | None = None,
) -> str:
    """A horizontal bar chart: (label, value, text shown after the bar); `hrefs` link the labels."""
    h = _ROW * len(rows) + 30
    out = [
        (
            f'<h2>{html.escape(title)}</h2><svg class="chart" viewBox="0 0 {_W} {h}" role="img" '
            f'aria-label="{html.escape(title)}">'
        )
    ]
    span = _W - _LABEL - 120
    for i, (label, v, shown) in enumerate(rows):
        y = 10 + i * _ROW
        w = 0 if vmax <= 0 or math.isnan(v) else max(1.0, span * v / vmax)
        out.append(
            _label(_LABEL - 8, y + 14, label, hrefs[i] if hrefs else None)
            + f'<rect class="{css}" x="{_LABEL}" y="{y}" width="{w:.1f}" height="{_ROW - 6}"/>'
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
            f'<h2>{html.escape(title)}</h2><svg class="chart" viewBox="0 0 {_W} {h}" role="img" '
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
                f'<text x="{_W - 110}" y="{y + 5}">{r["rate"]:.0%} (n={r["n"]}{_unsure(r)})</text>'
            )
        else:
            out.append(f'<text x="{_LABEL}" y="{y + 5}">not judged yet{_unsure(r, ": ")}</text>')
    out.append("</svg>")
    return "".join(out)


def _unsure(r: dict[str, Any], sep: str = ", ") -> str:
    """The unsure verdicts of a row: not in its rate, but shown (a filter nobody can judge is news)."""
    return f"{sep}{r['unsure']} unsure" if r.get("unsure") else ""


def _rate(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.1%}"


def render(t: dict[str, Any], title: str, served: bool = False) -> str:
    """The report page. `served`: for `wsdata review --web`, with its stylesheet and live-reload
    script as files beside it (the server's policy allows no inline ones) and sources linked to
    their items; otherwise one self-contained file."""
    st = t["stats"]
    link: Callable[[str], str | None] = source_link if served else (lambda _: None)
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
        f"<tr><td>{_cell(s['source'], link(s['key']))}</td><td>{s['hours_in']:.3f}</td>"
        f"<td>{s['rejection_rate']:.1%}</td><td>{s['reviewed']}</td><td>{_rate(s['error_rate'])}</td>"
        f"<td>{s['priority']:.4f}</td></tr>"
        for s in top
    )
    priorities = [(s["source"], s["priority"], f"{s['priority']:.4f}") for s in top]
    hrefs = [h for s in top if (h := link(s["key"]))] or None
    css = resources.files("wsdata.review").joinpath("static", "report.css").read_text(encoding="utf-8")
    head = (
        '<link rel="stylesheet" href="/static/report.css"><script src="/static/report.js" defer></script>'
        if served
        else f"<style>\n{css}</style>"
    )
    live = '<p id="live">live: this page follows the verdicts as they arrive</p>' if served else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
{head}</head><body>
<h1>{html.escape(title)}</h1>
{live}
<p>{t["verdicts"]} verdicts. Documents: {st["documents"]["in"]} in, {st["documents"]["kept"]} kept.
Intervals are Wilson 95% score intervals.</p>
{_bars("Funnel: documents left after each stage", funnel, float(st["documents"]["in"]))}
{_intervals("Filter precision: share of rejections judged right", rejects)}
{_intervals("Kept segments judged wrong (should have been rejected)", kept)}
{_bars("Sources to look at next: error (or rejection) rate x hours in", priorities, pmax, "warn", hrefs)}
<table><tr><th>source</th><th>hours in</th><th>rejected</th><th>reviewed kept</th><th>error rate</th>
<th>priority</th></tr>
{table}</table>
{_scores(t.get("scores"), link)}
</body></html>
"""


def _cell(text: str, href: str | None) -> str:
    inner = f"<bdi>{html.escape(safe(text))}</bdi>"
    return f'<a href="{html.escape(href)}">{inner}</a>' if href else inner


def _scores(sc: dict[str, Any] | None, link: Callable[[str], str | None]) -> str:
    """`wsdata score`'s ranking and histogram, when the build has been scored."""
    if not sc:
        return ""
    top = sc["sources"][:15]
    by_wer = [(s["source"] or "(none)", s["priority"], f"WER {s['wer']:.1%} x {s['hours']:.3f} h") for s in top]
    hrefs = [h for s in top if (h := link(s["source"] or ""))] or None
    hist = [(label, float(n), str(n)) for label, n in sc["histogram"]]
    title = (
        f"Under the model {safe(sc['model'])}: sources by WER x hours ({sc['segments']} segments, WER {sc['wer']:.1%})"
    )
    return _bars(title, by_wer, max((s["priority"] for s in top), default=0.0), "warn", hrefs) + _bars(
        "WER of kept segments", hist, max((n for _, n, _ in hist), default=0.0)
    )
