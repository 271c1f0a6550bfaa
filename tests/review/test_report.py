"""Wilson intervals and the report's tables, checked against numbers computed by hand."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser

import pytest

from tests.helpers import all_rows
from wsdata.review import html, report
from wsdata.review import verdicts as vd


@pytest.mark.parametrize(
    "k, n, lo, hi",
    [
        (8, 10, 0.4902, 0.9433),  # p = 0.8: centre (0.8 + z²/20) / (1 + z²/10), half-width z/(1+z²/n)·sqrt(...)
        (0, 1, 0.0, 0.7935),  # k = 0: upper = z² / (n + z²)
        (1, 1, 0.2065, 1.0),
        (50, 100, 0.4038, 0.5962),
        (3, 30, 0.0346, 0.2562),
    ],
)
def test_wilson_against_hand_computed_values(k, n, lo, hi):
    p, a, b = report.wilson(k, n)
    assert p == pytest.approx(k / n)
    assert (a, b) == (pytest.approx(lo, abs=5e-4), pytest.approx(hi, abs=5e-4))


def test_wilson_without_data():
    p, a, b = report.wilson(0, 0)
    assert math.isnan(p) and (a, b) == (0.0, 1.0)


@pytest.mark.slow
def test_tables_from_verdicts(reviewed_build):
    out, queue = reviewed_build
    t = report.tables(out)
    rows = {r["stratum"]: r for r in t["strata"]}
    kept = rows["kept"]  # 4 kept items judged: right, right, wrong, unsure
    assert (kept["n"], kept["k"], kept["unsure"]) == (3, 1, 1)
    assert (kept["rate"], kept["lo"], kept["hi"]) == (
        pytest.approx(1 / 3),
        pytest.approx(0.0615, abs=5e-4),
        pytest.approx(0.7923, abs=5e-4),
    )
    first_reject = next(it["reason"] for it in queue if it["decision"] == "rejected")
    r = rows[first_reject]  # alice said wrong, then changed it to right: her last verdict counts
    assert (r["n"], r["k"], r["rate"]) == (1, 1, 1.0)
    # Sources: hours from stats.json (decoded, plus the estimate for documents rejected before
    # decoding); rejection rate where nothing was reviewed.
    stats = json.loads((out / "stats.json").read_text())
    src = {s["source"]: s for s in t["sources"]}
    for name, v in stats["by_source"].items():
        rej = 1 - v["documents_kept"] / v["documents_in"]
        s = src[name]
        assert s["rejection_rate"] == pytest.approx(rej)
        rate = s["error_rate"] if s["reviewed"] else rej
        assert s["priority"] == pytest.approx(rate * (v["hours_in"] + v["hours_in_estimated"]))
    assert [s["priority"] for s in t["sources"]] == sorted((s["priority"] for s in t["sources"]), reverse=True)


class _Svg(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts, self.bars, self.points, self.scripts = 0, [], 0, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.charts += tag == "svg"
        self.points += tag == "circle"
        self.scripts += tag == "script" or any(k in a for k in ("src",))
        if tag == "rect":
            self.bars.append(float(a["width"]))


@pytest.mark.slow
def test_html_report_is_self_contained_with_charts(reviewed_build):
    out, _ = reviewed_build
    page = html.render(report.tables(out), "audit")
    p = _Svg()
    p.feed(page)
    assert p.charts == 4 and p.scripts == 0  # funnel, precision, kept error, sources; nothing fetched
    assert sum(w > 0 for w in p.bars) >= 3 and p.points >= 2
    assert "1 unsure" in page  # unsure verdicts are not in the rates, but shown


@pytest.fixture(scope="module")
def reviewed_build(tmp_path_factory):
    from tests.helpers import SOURCE
    from wsdata import config
    from wsdata.orchestrate import build
    from wsdata.review.tui import load_queue

    out = tmp_path_factory.mktemp("rev")
    build(SOURCE, out, config.load("default"), progress=False)
    queue = load_queue(out)
    kept = [it for it in queue if it["decision"] == "kept"][:4]
    for it, v in zip(kept, ["right", "right", "wrong", "unsure"]):
        vd.append(out, it, v, "bob")
    rej = next(it for it in queue if it["decision"] == "rejected")
    vd.append(out, rej, "wrong", "alice")
    vd.append(out, rej, "right", "alice", note="changed my mind")
    assert len(vd.load(out)) == 6 and all_rows(out)
    return out, queue
