"""`wsdata review` in a real terminal (pexpect): verdicts by key, kill -9 mid-session, resume, and
two reviewers on one queue; then quarantine feeding the next build."""

from __future__ import annotations

import json
import signal
import sys

import pexpect
import pytest

from tests.helpers import SOURCE, all_rows
from wsdata import config
from wsdata.cli import main
from wsdata.layout import Layout
from wsdata.orchestrate import build
from wsdata.review import verdicts as vd
from wsdata.review.tui import load_queue

pytestmark = pytest.mark.slow


@pytest.fixture
def built(tmp_path):
    build(SOURCE, tmp_path / "out", config.load("default"), progress=False)
    return tmp_path / "out"


def spawn(out, reviewer):
    child = pexpect.spawn(
        sys.executable,
        ["-m", "wsdata.cli", "review", str(out), "--reviewer", reviewer],
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    return child


def test_review_kill_and_resume(built):
    n = len(load_queue(built))
    child = spawn(built, "alice")
    child.expect(f"item 1/{n}")
    child.send("y")  # one key, no Enter: raw terminal mode
    child.expect("saved: right")
    child.expect(f"item 2/{n}")
    child.send("m")
    child.expect("note: ")
    child.send("odd timing\r")
    child.send("n")
    child.expect("saved: wrong")
    child.expect(f"item 3/{n}")
    child.send("x")  # an unknown key shows the help again
    child.expect(r"\[y\] right")
    child.kill(signal.SIGKILL)  # no chance to clean up
    child.close()
    recs = vd.load(built)
    lines = Layout(built).verdicts.read_text().splitlines()
    assert len(lines) == len(recs) == 2 and all(json.loads(x) for x in lines)
    assert [r["verdict"] for r in recs] == ["right", "wrong"] and recs[1]["note"] == "odd timing"
    assert recs[0]["reviewer"] == "alice" and recs[0]["position"] == 0 and recs[0]["time"]
    # Reopened: it starts at item 3, the first nobody has judged. Another reviewer joins.
    child = spawn(built, "bob")
    child.expect("2 judged; reviewer bob")
    child.expect(f"item 3/{n}")
    child.send("u")
    child.expect("saved: unsure")
    child.expect(f"item 4/{n}")
    child.sendcontrol("c")  # Ctrl-C in raw mode: a clean stop, nothing lost
    child.expect("stopped: 1 verdicts saved this session")
    child.expect(pexpect.EOF)
    recs = vd.load(built)
    assert [(r["reviewer"], r["position"], r["verdict"]) for r in recs] == [
        ("alice", 0, "right"),
        ("alice", 1, "wrong"),
        ("bob", 2, "unsure"),
    ]


def test_items_judged_meanwhile_elsewhere_are_passed_over(built):
    import io

    from wsdata.review import tui

    queue = load_queue(built)

    class Keys(io.StringIO):
        """y for every item; with the first key, a browser judges the second item."""

        def readline(self, *a):
            if self.tell() == 0:
                vd.append(built, queue[1], "wrong", "browser")
            return super().readline(*a)

    screen = io.StringIO()
    assert tui.run(built, "term", stdin=Keys("y\ny\nq\n"), stdout=screen) == 0
    shown = screen.getvalue()
    assert f"item 1/{len(queue)}" in shown and f"item 2/{len(queue)}" not in shown and f"item 3/{len(queue)}" in shown
    assert [(r["reviewer"], r["position"]) for r in vd.load(built)] == [("browser", 1), ("term", 0), ("term", 2)]


def test_write_wav_of_a_kept_and_a_rejected_item(built):
    import soundfile as sf

    from wsdata.review.clip import access
    from wsdata.review.tui import write_wav

    queue = load_queue(built)
    kept = next(it for it in queue if it["decision"] == "kept")
    rej = next(
        it
        for it in queue
        if it["decision"] == "rejected"
        and it["audio_uri"]
        and it["start_ms"] is not None
        and it["reason"].startswith("segment.")
    )
    for it in (kept, rej):
        path = write_wav(it, built / f"{it['item_id'].replace('/', '_')}.wav", access(built))
        data, rate = sf.read(path)
        assert rate == 16000 and abs(len(data) / 16 - (it["end_ms"] - it["start_ms"])) <= 2


def test_quarantine_feeds_the_next_build(built, tmp_path, capsys):
    assert main(["review", str(built), "--quarantine", "youtube:@StandardTelQC"]) == 0
    assert main(["review", str(built), "--quarantine", "youtube:@StandardTelQC"]) == 0  # recorded once
    qfile = Layout(built).quarantine
    assert qfile.read_text().splitlines() == ['"youtube:@StandardTelQC"']  # a JSON string: any name reads back
    out = tmp_path / "next"
    assert main(["build", "--source", str(SOURCE), "--out", str(out), "--quarantine", str(qfile), "--quiet"]) == 0
    data, rejects = all_rows(out)
    assert not [r for r in data if r["source"] == "youtube:@StandardTelQC"]
    q = [r for r in rejects if r["segment_id"] is None and r["source"] == "youtube:@StandardTelQC"]
    assert q and all(r["reason"] == "text.quarantined_source" for r in q)


def test_report_command_writes_html(built, capsys):
    queue = load_queue(built)
    vd.append(built, queue[0], "right", "carol")
    assert main(["review", str(built), "--report"]) == 0
    out = capsys.readouterr().out
    assert "1 verdicts" in out and "Filter precision" in out and "Sources to look at next" in out
    assert Layout(built).report_html.read_text().count("<svg") == 4


def test_long_text_is_wrapped_at_words_and_cut():
    import io

    from wsdata.review.tui import MAX_TEXT, show

    words = " ".join(f"word{i:04d}" for i in range(400))  # 3,600 characters
    item = {
        "decision": "rejected", "reason": "machine.all_caps", "source": "s", "doc_id": "d", "segment_id": None,
        "start_ms": None, "end_ms": None, "detail": "x", "evidence": "{}", "text": words, "timestamps": None,
        "audio_uri": None,
    }  # fmt: skip
    screen = io.StringIO()
    show(item, 0, 1, screen)
    text = screen.getvalue()
    assert f"({len(words) - MAX_TEXT} more characters)" in text
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines)  # the fallback terminal width
    body = " ".join(line[10:] for line in lines if line.startswith(("text", " " * 10)))
    assert all(len(w) == 8 for w in body.split()[:60])  # no word split across lines
