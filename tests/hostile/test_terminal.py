"""What is crawled reaches a terminal or a page inert: escape sequences and bidi controls are shown,
never obeyed; the reviewer's own files (verdicts, clips) never end a review session."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import RAW, hostile_build
from wsdata.layout import Layout
from wsdata.review import html, report, tui
from wsdata.review import verdicts as vd
from wsdata.terminal import _UNSAFE, safe


def test_safe_shows_controls_visibly():
    assert safe("a\x1b[2Jb") == "a^[[2Jb"
    assert safe("x\u202ey") == "x<U+202E>y" and safe("\x9b") == "<U+009B>" and safe("\x7f") == "^?"
    assert safe("plain text, ünïcode ok") == "plain text, ünïcode ok"


@given(st.text(), st.integers(1, 40))
def test_no_control_survives_and_the_cut_is_after(text, width):
    out = safe(text, width)
    assert not _UNSAFE.search(out) and len(out) <= width


def test_review_screen_and_report_print_nothing_raw(tmp_path):
    out = hostile_build(tmp_path / "b")
    screen = io.StringIO()
    # w: write the clip (its audio is missing, its id 300+ characters); y: a verdict; then the next item
    assert tui.run(out, "rev\x1b[2J", stdin=io.StringIO("w\ny\nw\nq\n"), stdout=screen) == 0
    shown = screen.getvalue()
    assert not any(c in shown for c in RAW), [c for c in RAW if c in shown]
    assert "no audio for this item" in shown and "saved: right" in shown and "stopped" in shown
    text = report.text(report.tables(out))
    assert not any(c in text for c in RAW)
    page = html.render(report.tables(out), "audit")
    assert "<bdi>" in page and "\x1b" not in page and "\u202e</text>" not in page


def test_clip_names_are_safe_and_distinct():
    a, b = tui.clip_name("x" * 300 + "/a"), tui.clip_name("x" * 300 + "/b")
    assert a != b and len(a.encode()) < 120 and "/" not in a and a.endswith(".wav")
    assert tui.clip_name("doc/00001").startswith("doc_00001-")


def test_broken_verdict_lines_are_skipped_and_counted(tmp_path):
    out = hostile_build(tmp_path / "b")
    queue = tui.load_queue(out)
    vd.append(out, queue[0], "right", "ann")
    path = Layout(out).verdicts
    good = path.read_bytes()
    junk = [
        b"\xff\xfe not utf-8\n",
        json.dumps({"verdict": "right", "reviewer": "x"}).encode() + b"\n",  # no item_id
        json.dumps({**json.loads(good), "stratum": ["a"]}).encode() + b"\n",
        json.dumps({**json.loads(good), "source": {"a": 1}}).encode() + b"\n",
        b"[" * 100_000 + b"\n",
        '{"item_id": "torn in a character \u00e9'.encode()[:-1],  # the last line, cut inside '\u00e9'
    ]
    path.write_bytes(good + b"".join(junk))
    recs, skipped = vd.load_counted(out)
    assert len(recs) == 1 and skipped == len(junk)
    t = report.tables(out)
    assert t["verdicts"] == 1 and t["skipped"] == len(junk) and "6 unreadable lines" in report.text(t)
    screen = io.StringIO()
    assert tui.run(out, "bob", stdin=io.StringIO("q\n"), stdout=screen) == 0
    assert "6 unreadable lines of verdicts.jsonl skipped" in screen.getvalue()


def test_command_errors_quote_names_inertly(tmp_path, capsys):
    from tests.helpers import SOURCE
    from wsdata.cli import main

    odd = tmp_path / "out\x1b]0;pwned\x07\u202e"  # a legal file name, here a file where a folder goes
    odd.write_text("x")
    assert main(["build", "--source", str(SOURCE), "--out", str(odd), "--quiet"]) == 2
    missing = tmp_path / "quarantine\x1b[2J.txt"
    bad = tmp_path / "bad-quarantine.txt"
    bad.write_bytes(b"\xff\x1b[2J")
    rc = main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--quiet", "--quarantine", str(bad)])
    assert rc == 2
    assert main(["stats", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "cannot read it as UTF-8" in err
    assert not _UNSAFE.search(err.replace("\n", ""))
