"""The review page in headless Chromium (tests/browser.py): a real build's audio plays in the
browser with its cues lit, verdicts by key land in verdicts.jsonl exactly, a reload resumes at the
first item nobody judged, the report follows the verdicts live, and hostile strings stay text.

WSDATA_SCREENSHOTS=DIR keeps the screenshots (docs/img/review-web.png is one)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.browser import follow, page, settled, wait
from tests.helpers import HOSTILE_HTML, SOURCE, SPEECH, hostile_build, review_server
from wsdata import config
from wsdata.layout import Layout
from wsdata.orchestrate import build
from wsdata.review import verdicts as vd
from wsdata.review.tui import load_queue
from wsdata.terminal import safe

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _shot(pg, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    pg.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    if keep := os.environ.get("WSDATA_SCREENSHOTS"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)


def _press(pg, key: str, then: int) -> None:
    pg.keyboard.press(key)
    settled(pg, then)


def test_hear_judge_reload_and_resume(tmp_path):
    out = tmp_path / "out"
    build(SOURCE, out, config.load("default"), progress=False)
    queue = load_queue(out)
    assert queue[0]["decision"] == "kept" and queue[0]["audio_flac"], "the bundled build's first item is kept"
    # A reject whose source audio exists: the page plays an excerpt decoded from it.
    excerpt = next(
        it["position"]
        for it in queue
        if it["decision"] == "rejected" and it["audio_uri"] and Path(it["audio_uri"]).is_file() and it["position"] > 4
    )
    silent = next(it["position"] for it in queue if it["decision"] == "rejected" and not it["audio_uri"])
    with review_server(out) as server, page() as pg:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        pg.goto(url)
        pg.fill("#who-name", "carol")  # asked once
        pg.press("#who-name", "Enter")
        settled(pg, 0)
        assert pg.inner_text("#title").startswith(f"item 1 / {len(queue)}")
        assert "0 / " in pg.inner_text("#progress")

        # Space plays the segment's FLAC; the cue under the playhead is lit.
        first_cue_ms = json.loads(queue[0]["timestamps"])[0]["start_ms"]
        pg.keyboard.press(" ")
        wait(pg, f"document.getElementById('audio').currentTime * 1000 > {first_cue_ms + 1200}")
        wait(pg, "document.querySelectorAll('#cues li.active').length === 1")
        _shot(pg, tmp_path, "review-web.png")
        pg.keyboard.press(" ")
        wait(pg, "document.getElementById('audio').paused")

        _press(pg, "y", 1)  # right; on to the next item nobody has judged
        pg.keyboard.press("m")
        wait(pg, "document.activeElement === document.getElementById('note')")
        pg.keyboard.type("odd timing")
        pg.keyboard.press("Enter")
        _press(pg, "n", 2)  # wrong, with the note
        _press(pg, "ArrowRight", 3)  # item 3 left for later
        _press(pg, "u", 4)
        assert "3 / " in pg.inner_text("#progress")

        recs = [json.loads(x) for x in Layout(out).verdicts.read_text().splitlines()]
        assert [(r["reviewer"], r["position"], r["verdict"], r["note"]) for r in recs] == [
            ("carol", 0, "right", ""),
            ("carol", 1, "wrong", "odd timing"),
            ("carol", 3, "unsure", ""),
        ]
        assert [r["item_id"] for r in recs] == [queue[p]["item_id"] for p in (0, 1, 3)]

        pg.reload()  # the name is kept; the page opens at the first item nobody has judged
        settled(pg, 2)
        assert pg.is_hidden("#who") and pg.inner_text("#reviewer") == "carol"

        # A reject's excerpt, decoded from its source, plays too; an item without audio says why.
        step = "ArrowRight" if excerpt > 2 else "ArrowLeft"
        while pg.evaluate("() => document.body.dataset.position") != str(excerpt):
            here = int(pg.evaluate("() => document.body.dataset.position"))
            _press(pg, step, here + (1 if step == "ArrowRight" else -1))
        assert "excerpt" in pg.inner_text("#audio-note")
        pg.keyboard.press(" ")
        wait(pg, "document.getElementById('audio').currentTime > 0.5")
        pg.keyboard.press(" ")
        pg.goto(url)
        settled(pg, 2)
        while pg.evaluate("() => document.body.dataset.position") != str(silent):
            here = int(pg.evaluate("() => document.body.dataset.position"))
            _press(pg, "ArrowRight" if silent > here else "ArrowLeft", here + (1 if silent > here else -1))
        assert pg.is_hidden("#audio") and "no audio" in pg.inner_text("#audio-note")
        assert len(vd.load(out)) == 3  # moving about judged nothing

        # Every other item, one key each: each shows its audio or why there is none.
        pg.goto(url)
        settled(pg, 2)
        for _ in range(len(queue) - 3):
            has_audio = pg.evaluate("() => !!document.getElementById('audio').getAttribute('src')")
            assert has_audio or pg.inner_text("#audio-note").startswith("no audio")
            pg.keyboard.press("y")
            wait(pg, "document.body.dataset.pending === '0'")
        assert pg.is_visible("#done") and f"{len(queue)} / {len(queue)} judged" in pg.inner_text("#progress")
        assert not pg.errors
    assert sorted(r["item_id"] for r in vd.load(out)) == sorted(it["item_id"] for it in queue)


def test_the_report_follows_verdicts_live(tmp_path):
    out = tmp_path / "out"
    build(SOURCE, out, config.load("default"), progress=False)
    queue = load_queue(out)
    with review_server(out) as server, page() as pg:
        pg.goto(f"http://127.0.0.1:{server.server_address[1]}/report")
        assert "0 verdicts" in pg.inner_text("body")
        vd.append(out, queue[0], "wrong", "dave")  # a terminal reviewer's verdict
        wait(pg, "document.body.innerText.includes('1 verdicts')", 10_000)
        _shot(pg, tmp_path, "report-web.png")
        link = pg.locator("table a").first
        source = link.inner_text()
        follow(pg, link)
        mine = [it["position"] for it in queue if (it["source"] or "(none)") == source]
        pg.fill("#who-name", "dave")  # a browser new to this server asks the name first
        pg.press("#who-name", "Enter")
        settled(pg, next(p for p in mine if p != 0))  # the first of them nobody has judged
        assert pg.inner_text("#filter-source") == source and not pg.errors


def test_hostile_strings_show_as_inert_text(tmp_path):
    flac = (SPEECH / "en" / "agent-incorrect.flac").read_bytes()
    out = hostile_build(tmp_path / "b", text=HOSTILE_HTML, flac=flac)
    shown = safe(HOSTILE_HTML)  # what the page must show: every character there, as text
    assert "<script>" in shown and "<U+202E>evil" in shown and "^[[31m" in shown
    with review_server(out) as server, page() as pg:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        pg.goto(base + "/")
        pg.fill("#who-name", "eve")
        pg.press("#who-name", "Enter")
        settled(pg, 0)
        pg.keyboard.press(" ")  # the cue lights while the audio plays: still text
        wait(pg, "document.querySelectorAll('#cues li.active').length === 1")
        for sel in ("#facts", "#cues", "#text", "#evidence"):
            assert shown in pg.inner_text(sel), sel
        assert pg.evaluate("() => window.__pwned === undefined")
        assert pg.locator("img").count() == 0 and pg.locator("script").count() == 1  # only review.js
        _press(pg, "y", 1)
        assert shown in pg.inner_text("#facts") and "no audio" in pg.inner_text("#audio-note")
        pg.goto(base + "/report")
        assert shown.replace("\n", "") in pg.inner_text("table").replace("\n", "")
        assert pg.evaluate("() => window.__pwned === undefined") and pg.locator("img").count() == 0
        follow(pg, pg.locator("table a").first)  # to this source's items, named inertly
        settled(pg, 1)  # item 0 is judged: the first of this source nobody has judged
        assert pg.inner_text("#filter-source") == shown
        assert pg.evaluate("() => window.__pwned === undefined") and not pg.errors
    (rec,) = vd.load(out)
    assert rec["source"] == HOSTILE_HTML  # the record keeps the crawled string itself


def test_a_browser_and_a_terminal_share_the_queue(tmp_path):
    import sys

    import pexpect

    out = tmp_path / "out"
    build(SOURCE, out, config.load("default"), progress=False)
    queue = load_queue(out)
    term = pexpect.spawn(
        sys.executable, ["-m", "wsdata.cli", "review", str(out), "--reviewer", "term"], encoding="utf-8", timeout=60
    )
    term.expect("item 1/")
    with review_server(out) as server, page() as pg:
        pg.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        pg.fill("#who-name", "web")
        pg.press("#who-name", "Enter")
        settled(pg, 0)
        while pg.is_hidden("#done"):  # the browser judges (n) what the terminal (y) has not, both at once
            pg.keyboard.press("n")
            term.send("y")
            if term.expect(["saved: right", "queue done", pexpect.EOF]) != 0:
                break
            wait(pg, "document.body.dataset.pending === '0'")
        assert not pg.errors
    term.close()
    recs = [json.loads(x) for x in Layout(out).verdicts.read_text(encoding="utf-8").splitlines()]
    assert len(recs) == len(vd.load(out))  # every line one whole verdict
    web = [r["position"] for r in recs if r["reviewer"] == "web"]
    assert web and all(r["verdict"] == "wrong" for r in recs if r["reviewer"] == "web")
    assert len(set(web)) == len(web)  # the page never re-judged an item
    assert {r["item_id"] for r in recs} == {it["item_id"] for it in queue}  # together they judged all
