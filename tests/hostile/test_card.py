"""Crawled `source` and `license` strings in the dataset card (OUT/README.md) and the audit report:
shown as text, never a live link, a remote image, HTML, or a table cell of their own; the card's YAML
header holds only a quoted licence id."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import MINI, hostile_build
from wsdata.cli import main
from wsdata.layout import Layout

# Each is Markdown or HTML that would act if written raw.
HOSTILE = [
    "[x](http://evil.example/a)",
    "![img](http://evil.example/a.png)",
    "<script>alert(1)</script>",
    "a|b`c`|d",
    "see http://bare.example/x and www.evil.example, or mail@evil.example",
    "**bold** _em_ ~~gone~~ # head \\| [ref]: http://evil",
    "line\nbreak | [y](javascript:alert(1))",
    '<img src="http://evil.example/i.png">&#91;z&#93;(http://evil)',
]
LICENSES = ["[l](http://evil.example/l)|no", "![i](http://evil.example/i.png)", "<b>MIT</b>`x`", "no"]


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    """A real build of the minicorpus's first good documents, each with a hostile source and licence."""
    tmp = tmp_path_factory.mktemp("card")
    lines = []
    for i, raw in enumerate((MINI / "crawl.jsonl").read_text().splitlines()[:5]):
        rec = json.loads(raw)
        for k in ("audio", "transcript"):
            if k in rec:
                rec[k] = str(MINI / rec[k])
        rec["source"] = HOSTILE[i]
        rec["license"] = LICENSES[i % len(LICENSES)]
        lines.append(json.dumps(rec))
    lines.append(json.dumps({"id": "gone", "audio": "nowhere.opus", "text": "x", "source": HOSTILE[5]}))
    lines.append(json.dumps({"id": "gone2", "audio": "nowhere.opus", "text": "x", "source": HOSTILE[6]}))
    lines.append(json.dumps({"id": "gone3", "audio": "nowhere.opus", "text": "x", "source": HOSTILE[7]}))
    lines.append(json.dumps({"id": "f", "audio": "n.opus", "text": "x", "[k](http://evil.example)": 1}))
    crawl = tmp / "crawl.jsonl"
    crawl.write_text("\n".join(lines) + "\n")
    out = tmp / "out"
    assert main(["build", "--source", str(crawl), "--out", str(out), "--quiet"]) == 0
    stats = json.loads(Layout(out).stats.read_text())
    assert len([k for k in stats["licenses"] if k]) >= 3  # hostile licences reached the card's table
    return Layout(out).card.read_text(encoding="utf-8")


def _cells(row: str) -> int:
    """Table cells of a GFM row: pipes not escaped by a backslash (a backslash escapes one character)."""
    n, i = 0, 0
    while i < len(row):
        if row[i] == "\\":
            i += 2
            continue
        n += row[i] == "|"
        i += 1
    return n - 1


def test_no_live_link_image_or_html(card):
    body = card.split("## Pipeline config", 1)[0]
    for bad in ("](http", "](javascript", "![", "<script", "<img", "<b>", "&#91;", "http://", "www.evil", "\n["):
        assert bad not in body, bad
    assert "\\[x\\]\\(http:\\/\\/evil.example/a\\)" in body  # escaped, so shown as typed
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in body
    assert "line^Jbreak" in body  # a newline is shown, never a line of its own


def test_tables_keep_their_columns(card):
    table = None
    for line in card.split("## Pipeline config", 1)[0].splitlines():
        if not line.startswith("|"):
            table = None
            continue
        if table is None:
            table = _cells(line)  # the header row
        assert _cells(line) == table, line


def test_the_yaml_header_is_one_quoted_id_or_other(card):
    head = card.split("---\n")[1]
    assert head.startswith("license: other\n")
    assert "evil" not in head and "<" not in head and "[" not in head


def test_a_single_licence_id_is_quoted():
    """`no` would be a YAML false, `null` a null: the id is a quoted string."""
    from wsdata.card import _license_yaml

    assert _license_yaml({"no": {}}) == ['license: "no"']
    assert _license_yaml({"CC-BY-4.0": {}}) == ['license: "cc-by-4.0"']
    assert _license_yaml({"a b": {}}) == ["license: other"]


def test_rendered_it_has_no_link_image_or_html(card):
    """Rendered by a CommonMark parser with GFM tables: text only, and every row its columns."""
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(card.split("---\n", 2)[2])
    assert not re.search(r"<(a|img|script|b)\b", html)
    for table in re.findall(r"<table>.*?</table>", html, re.DOTALL):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)
        counts = {len(re.findall(r"<t[hd]\b", r)) for r in rows}
        assert len(counts) == 1, table


def test_the_report_escapes_the_same_strings(tmp_path):
    """report.html (wsdata review --report): every source as text in the table and the charts."""
    from wsdata.review import html as report_html
    from wsdata.review import report

    for i, s in enumerate(HOSTILE):
        out = hostile_build(tmp_path / f"b{i}", text=s)
        assert main(["review", str(out), "--report"]) == 0
        page = Layout(out).report_html.read_text(encoding="utf-8")
        assert "<script>alert" not in page and "<img src" not in page and "<b>" not in page
        assert not re.search(r'href="(?!/)', page)  # no link but the page's own
        assert page == report_html.render(report.tables(out), f"wsdata audit: {out.name}")
