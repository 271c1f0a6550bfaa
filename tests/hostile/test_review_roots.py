"""The review surfaces open only what the build would open: a reject's source audio passes the build's
`limits.allowed_roots` and the regular-file check, a reject the build refused to open is never opened,
and a queue edited by hand (or from someone else) is refused the same way. Every excerpt is bounded.

The decoders are replaced by ones that fail the test, so "never opened" is asserted, not assumed; a
FIFO would hang a reader that opened it."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import EN_AUDIO, EN_SRT, http_get, review_server
from wsdata.cli import main
from wsdata.io.audio import encode_flac
from wsdata.layout import Layout
from wsdata.review import clip, tui
from wsdata.review import verdicts as vd
from wsdata.review.sample import QUEUE_SCHEMA
from wsdata.review.served import ServedQueue

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture(scope="module")
def rooted(tmp_path_factory):
    """A real build with limits.allowed_roots = [corpus/]: one document inside, one whose audio (real
    audio: it would decode) lies outside, so the build rejects it as pair.path_outside_roots."""
    tmp = tmp_path_factory.mktemp("roots")
    corpus, outside = tmp / "corpus", tmp / "outside"
    corpus.mkdir()
    outside.mkdir()
    shutil.copy(EN_AUDIO, corpus / "in.opus")
    shutil.copy(EN_SRT, corpus / "in.srt")
    shutil.copy(EN_AUDIO, outside / "secret.opus")
    lines = [
        {"id": "inside", "audio": "in.opus", "transcript": "in.srt", "language": "en", "source": "s"},
        {"id": "outside", "audio": str(outside / "secret.opus"), "text": "hello there", "source": "s"},
    ]
    (corpus / "crawl.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp / "out"
    args = ["build", "--source", str(corpus / "crawl.jsonl"), "--out", str(out), "--quiet"]
    assert main([*args, "--set", f'limits.allowed_roots=["{corpus}"]']) == 0
    return out, corpus, outside


@pytest.fixture
def no_decode(monkeypatch):
    """Any decode of source audio fails the test (a kept segment's FLAC comes from the queue)."""

    def opened(*a, **k):
        raise AssertionError(f"source audio opened: {a}")

    from wsdata.io import audio, libav

    monkeypatch.setattr(audio, "open_pcm", opened)
    monkeypatch.setattr(audio, "_ffmpeg_into", opened)
    monkeypatch.setattr(libav, "decode_into", opened)


def _queue(out):
    return pq.read_table(Layout(out).queue).to_pylist()


def _rewrite(out, rows):
    pq.write_table(pa.Table.from_pylist(rows, schema=QUEUE_SCHEMA), Layout(out).queue)


def test_the_build_refused_it(rooted):
    out, _, outside = rooted
    (row,) = [r for r in _queue(out) if r["doc_id"] == "outside"]
    assert row["reason"] == "pair.path_outside_roots" and row["audio_uri"] == str(outside / "secret.opus")


def test_the_web_page_never_opens_a_reject_outside_the_roots(rooted, no_decode, capfd):
    out = rooted[0]
    (row,) = [r for r in _queue(out) if r["doc_id"] == "outside"]
    with review_server(out) as server:
        status, body = http_get(server, f"/audio/{row['position']}")
        assert status == 404
        assert "no audio: path outside roots" in json.loads(body)["error"]
        item = json.loads(http_get(server, f"/api/item/{row['position']}")[1])
        assert "src" not in item["audio"] and "path outside roots" in item["audio"]["explanation"]
        kept = next(r for r in _queue(out) if r["decision"] == "kept")
        status, body = http_get(server, f"/audio/{kept['position']}")  # the queue's own FLAC still plays
        assert status == 200 and body == kept["audio_flac"]
    assert "Traceback" not in capfd.readouterr().err


def test_a_hand_edited_queue_is_checked_like_the_build(rooted, no_decode, tmp_path):
    """The queue is data too: a reject's path moved outside the roots, through a link, at a FIFO or
    a device, is refused whatever reason the row claims."""
    out, corpus, outside = rooted
    edited = tmp_path / "out"
    shutil.copytree(out, edited)
    fifo = corpus / "pipe.opus"
    if not fifo.exists():
        os.mkfifo(fifo)
    link = corpus / "link.opus"
    if not link.exists():
        link.symlink_to(outside / "secret.opus")
    rows = _queue(edited)
    rej = next(r for r in rows if r["decision"] == "rejected")
    cases = {
        str(outside / "secret.opus"): "path outside roots",
        str(link): "path outside roots",  # a link inside the roots to a file outside them
        "/dev/zero": "path outside roots",
        str(fifo): "FIFO",  # inside the roots, but opening it would hang
        str(corpus / "nothing.opus"): "no such file",
        str(corpus / "a\0b"): "NUL",
        f"file://{outside / 'secret.opus'}": "path outside roots",
        f"FILE://{outside / 'secret.opus'}": "never fetched",
        f"zip://secret.opus::file://{outside / 'x.zip'}": "never fetched",
        f"simplecache::file://{outside / 'secret.opus'}": "path outside roots",  # a relative path of that name
    }
    rows = [r for r in rows if r is not rej]
    first = max(r["position"] for r in rows) + 1
    for i, uri in enumerate(cases):
        rows.append({**rej, "position": first + i, "item_id": f"edited-{i}", "audio_uri": uri, "reason": "text.x"})
    _rewrite(edited, rows)
    q = ServedQueue(edited)
    for i, want in enumerate(cases.values()):
        got = q.audio(first + i)
        assert isinstance(got, str) and got.startswith("no audio") and want in got, (i, got)


def test_without_roots_a_device_or_fifo_is_still_refused(rooted, no_decode, tmp_path):
    out = rooted[0]
    edited = tmp_path / "out"
    shutil.copytree(out, edited)
    ident = json.loads(Layout(edited).build_ident.read_text())
    ident["config"]["limits"]["allowed_roots"] = []
    Layout(edited).build_ident.write_text(json.dumps(ident))
    os.mkfifo(tmp_path / "fifo")
    rows = _queue(edited)
    rej = next(r for r in rows if r["decision"] == "rejected")
    rej.update(reason="text.x", audio_uri=str(tmp_path / "fifo"))
    _rewrite(edited, rows)
    got = ServedQueue(edited).audio(rej["position"])
    assert isinstance(got, str) and "FIFO" in got
    rej.update(audio_uri="/dev/zero")
    _rewrite(edited, rows)
    got = ServedQueue(edited).audio(rej["position"])
    assert isinstance(got, str) and "character device" in got


@pytest.mark.parametrize("damage", ["missing", "garbage", "bad roots"])
def test_a_build_whose_limits_cannot_be_read_opens_no_source_audio(rooted, no_decode, tmp_path, damage):
    out = rooted[0]
    edited = tmp_path / "out"
    shutil.copytree(out, edited)
    layout = Layout(edited)
    if damage == "missing":
        layout.build_ident.unlink()
        stats = json.loads(layout.stats.read_text())
        del stats["config"]
        layout.stats.write_text(json.dumps(stats))
    elif damage == "garbage":
        layout.build_ident.write_text("[1, 2")
    else:
        ident = json.loads(layout.build_ident.read_text())
        ident["config"]["limits"]["allowed_roots"] = [1]
        layout.build_ident.write_text(json.dumps(ident))
    rows = _queue(edited)
    rej = next(r for r in rows if r["decision"] == "rejected")
    rej.update(reason="text.x", audio_uri=str(EN_AUDIO))
    _rewrite(edited, rows)
    got = ServedQueue(edited).audio(rej["position"])
    assert isinstance(got, str) and "no source audio is opened" in got


def test_the_terminal_review_never_opens_it_either(rooted, no_decode):
    out = rooted[0]
    queue = tui.load_queue(out)
    i = next(i for i, r in enumerate(queue) if r["doc_id"] == "outside")
    screen = io.StringIO()
    keys = "s\n" * i + "w\np\nq\n"  # skip to the item, write its WAV, play it, quit
    assert tui.run(out, "t", player="true", stdin=io.StringIO(keys), stdout=screen) == 0
    shown = screen.getvalue()
    assert shown.count("no audio for this item: path outside roots") == 2 and "wrote" not in shown
    assert not Layout(out).clips.exists()


def test_excerpts_and_kept_clips_are_at_most_30_s(rooted, tmp_path):
    """A queue row asking for 10 minutes of a source, or a kept FLAC of 10 minutes, gives 30 s."""
    out, corpus, _ = rooted
    long = np.tile(np.arange(-1000, 1000, dtype=np.int16), 8 * 600 * 10)[: 16_000 * 600]  # 10 min
    flac = encode_flac(long)
    assert len(clip.flac_samples(flac)) == clip.MAX_CLIP_MS * 16
    (corpus / "long.flac").write_bytes(flac)
    acc = clip.access(out)
    item = {"audio_uri": str(corpus / "long.flac"), "reason": "text.x", "start_ms": 1000, "end_ms": 600_000}
    assert len(clip.excerpt(item, acc)) == clip.MAX_CLIP_MS * 16
    for start in (-5, acc.max_audio_ms + 1):
        with pytest.raises(clip.NoAudio):
            clip.excerpt({**item, "start_ms": start}, acc)


# -- what the review writes: its own regular files in the build folder, never through a link ----------


def _copy(rooted, tmp_path):
    edited = tmp_path / "out"
    shutil.copytree(rooted[0], edited, symlinks=True)
    return edited


def test_a_verdicts_link_is_neither_read_nor_written_through(rooted, tmp_path, capfd):
    out = _copy(rooted, tmp_path)
    target = tmp_path / "bashrc"
    target.write_text("# mine\n")
    with review_server(out) as server:
        Layout(out).verdicts.symlink_to(target)  # planted while the page is open: each request says so
        status, body = http_get(server, "/api/state")
        assert status == 500 and "symbolic link" in json.loads(body)["error"]
    web = [sys.executable, "-m", "wsdata", "review", str(out), "--web", "--port", "0"]
    proc = subprocess.run(web, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and "symbolic link" in proc.stderr  # found at start: no server starts
    assert main(["review", str(out), "--reviewer", "t"]) == 2
    assert main(["review", str(out), "--report"]) == 2
    err = capfd.readouterr().err
    assert "symbolic link" in err and "Traceback" not in err
    assert target.read_text() == "# mine\n"


def test_a_verdicts_fifo_never_hangs_the_server(rooted, tmp_path, capfd):
    out = _copy(rooted, tmp_path)
    os.mkfifo(Layout(out).verdicts)
    with pytest.raises(vd.VerdictsError, match="not a regular file"):
        vd.append(out, _queue(out)[0], "right", "t")
    with pytest.raises(vd.VerdictsError, match="not a regular file"):
        vd.load(out)
    assert main(["review", str(out), "--reviewer", "t"]) == 2
    assert "not a regular file" in capfd.readouterr().err


def test_quarantine_is_appended_to_its_own_file_only(rooted, tmp_path, capfd):
    out = _copy(rooted, tmp_path)
    target = tmp_path / "profile"
    target.write_text("# mine\n")
    Layout(out).quarantine.symlink_to(target)
    assert main(["review", str(out), "--quarantine", "$(touch pwned)"]) == 2
    assert "symbolic link" in capfd.readouterr().err and target.read_text() == "# mine\n"
    Layout(out).quarantine.unlink()
    assert main(["review", str(out), "--quarantine", "s"]) == 0
    assert Layout(out).quarantine.read_text() == '"s"\n'


def test_a_clip_replaces_a_link_planted_at_its_name(rooted, tmp_path):
    out = _copy(rooted, tmp_path)
    kept = next(r for r in _queue(out) if r["decision"] == "kept")
    target = tmp_path / "victim"
    target.write_text("# mine\n")
    dest = Layout(out).clips / tui.clip_name(kept["item_id"])
    dest.parent.mkdir(parents=True)
    dest.symlink_to(target)
    said = tui._audio_action("w", kept, None, clip.access(out), out)
    assert said.startswith("wrote") and target.read_text() == "# mine\n"
    assert not dest.is_symlink() and dest.read_bytes()[:4] == b"RIFF"
