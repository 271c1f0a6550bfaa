"""The review page's data (wsdata/review/served.py): progress, items made inert, audio or why there
is none, and the checks a verdict passes before it is appended. No server, no browser."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import EN_AUDIO, HOSTILE, RAW, SPEECH, hostile_build
from wsdata.io.audio import decode_flac
from wsdata.layout import Layout
from wsdata.review import verdicts as vd
from wsdata.review.sample import QUEUE_ROW_GROUP, QUEUE_SCHEMA
from wsdata.review.served import ReviewError, ServedQueue, check_reviewer, evidence_rows, item_check
from wsdata.terminal import safe

FLAC = (SPEECH / "en" / "agent-incorrect.flac").read_bytes()


@pytest.fixture
def queue(tmp_path):
    return ServedQueue(hostile_build(tmp_path / "b", flac=FLAC), "ann")


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _strings(v)


def test_every_crawled_string_leaves_inert(queue):
    for p in (0, 1):
        view = queue.item(p)
        leaked = [s for s in _strings(view) if any(c in s for c in RAW)]
        assert not leaked
        assert view["source"] == safe(HOSTILE) and view["cues"][0]["text"] == safe(HOSTILE)
    st = queue.state()
    assert not [s for s in _strings(st) if any(c in s for c in RAW)]


def test_kept_audio_is_the_queue_flac_and_a_missing_source_is_explained(queue):
    kept, rejected = queue.item(0), queue.item(1)
    assert kept["audio"]["kind"] == "segment" and kept["audio"]["src"].startswith("/audio/0?")
    assert queue.audio(0) == FLAC  # the bytes as the build wrote them
    assert "explanation" in rejected["audio"] and "no audio" in rejected["audio"]["explanation"]
    assert "missing.wav" in rejected["audio"]["explanation"]


def test_a_reject_gets_an_excerpt_of_its_span_at_most_30_s(tmp_path):
    out = hostile_build(tmp_path / "b", text="plain")
    table = pq.read_table(Layout(out).queue).to_pylist()
    table[1].update(audio_uri=str(EN_AUDIO), start_ms=2_000, end_ms=200_000, reason="text.chars_per_second_low")
    pq.write_table(pa.Table.from_pylist(table, schema=QUEUE_SCHEMA), Layout(out).queue)
    q = ServedQueue(out)
    view = q.item(1)
    assert view["audio"]["kind"] == "excerpt"
    samples = decode_flac(q.audio(1))
    assert len(samples) == 30 * 16_000  # capped at 30 s from the span's start


def test_progress_counts_anyones_verdicts_per_stratum(queue):
    st = queue.state()
    assert (st["total"], st["judged"], st["first_unjudged"]) == (2, 0, 0)
    assert [s["total"] for s in st["strata"]] == [1, 1]
    queue.judge({"position": 0, "check": queue.item(0)["check"], "verdict": "right", "reviewer": "ann"})
    st = queue.state()
    assert (st["judged"], st["first_unjudged"]) == (1, 1)
    assert [i["judged"] for i in st["items"]] == [True, False]
    # A verdict appended by someone else (a terminal) shows at the next request.
    vd.append(queue.out, pq.read_table(Layout(queue.out).queue).to_pylist()[1], "wrong", "bob")
    st = queue.state()
    assert (st["judged"], st["first_unjudged"]) == (2, None)
    assert queue.item(1)["verdicts"][0]["reviewer"] == "bob"


def test_state_of_one_source(queue):
    assert [i["position"] for i in queue.state(HOSTILE)["items"]] == [0, 1]
    assert queue.state("elsewhere")["items"] == [] and queue.state("elsewhere")["first_unjudged"] is None


def test_a_verdict_is_the_terminals_record(queue):
    saved = queue.judge(
        {"position": 1, "check": queue.item(1)["check"], "verdict": "wrong", "reviewer": " ann ", "note": "hm"}
    )
    assert saved["saved"] == "wrong"
    (rec,) = vd.load(queue.out)
    assert rec["item_id"].startswith(HOSTILE) and rec["reviewer"] == "ann" and rec["note"] == "hm"
    assert set(rec) == {"item_id", "position", "stratum", "source", "decision", "verdict", "note", "reviewer", "time"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"position": 0, "verdict": "maybe", "reviewer": "a"}, 400),
        ({"position": "0", "verdict": "right", "reviewer": "a"}, 400),
        ({"position": True, "verdict": "right", "reviewer": "a"}, 400),
        ({"position": 0, "verdict": "right", "reviewer": "a\x1b[2J"}, 400),
        ({"position": 0, "verdict": "right", "reviewer": "x" * 65}, 400),
        ({"position": 0, "verdict": "right", "reviewer": "a", "note": "x" * 2001}, 400),
        ({"position": 9, "verdict": "right", "reviewer": "a"}, 404),
        ({"position": 0, "verdict": "right", "reviewer": "a", "check": "0" * 16}, 409),
        ([1, 2], 400),
    ],
)
def test_bad_verdicts_are_refused_with_a_status(queue, body, status):
    with pytest.raises(ReviewError) as e:
        queue.judge(body)
    assert e.value.status == status
    assert not Layout(queue.out).verdicts.exists()


def test_a_rewritten_queue_is_read_again(queue, tmp_path):
    check = queue.item(0)["check"]
    table = pq.read_table(Layout(queue.out).queue).to_pylist()
    table[0]["item_id"] = "another"
    pq.write_table(pa.Table.from_pylist(table, schema=QUEUE_SCHEMA), Layout(queue.out).queue)
    with pytest.raises(ReviewError) as e:  # the page showed the old item: refused, not misfiled
        queue.judge({"position": 0, "check": check, "verdict": "right", "reviewer": "a"})
    assert e.value.status == 409 and queue.item(0)["check"] == item_check("another")


@pytest.mark.slow
def test_queue_row_groups_are_small_so_one_flac_is_read_alone(tmp_path):
    from tests.helpers import SOURCE
    from wsdata import config
    from wsdata.orchestrate import build

    cfg = config.load("default")
    out = tmp_path / "o"
    build(SOURCE, out, cfg, progress=False)
    meta = pq.ParquetFile(Layout(out).queue).metadata
    assert meta.num_rows > QUEUE_ROW_GROUP and meta.row_group(0).num_rows == QUEUE_ROW_GROUP


def test_evidence_rows_flatten_one_level():
    ev = json.dumps({"a": 0.123456, "b": {"x": 1, "y": None}, "c": None, "d": "t\x1b"})
    assert evidence_rows(ev) == [("a", "0.123"), ("b.x", "1"), ("d", "t^[")]
    assert evidence_rows(None) == []


def test_reviewer_names():
    assert check_reviewer("  Zoë ") == "Zoë"
    for bad in ("", "   ", None, 3, "a\u202eb", "a\nb"):
        with pytest.raises(ReviewError):
            check_reviewer(bad)
