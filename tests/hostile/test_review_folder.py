"""`wsdata review --report` and the live report on a build folder edited by hand or from someone else:
a stats.json that is garbage, of the wrong shape, a FIFO or a link is one clear line (exit 2) or a
500 with a message, never a traceback or a hang."""

from __future__ import annotations

import http.client
import json
import os

import pytest

from tests.helpers import hostile_build, http_get, review_server
from wsdata.cli import main
from wsdata.layout import Layout

BAD_STATS = {
    "not json": b"{oops",
    "a list": b"[1, 2]",
    "not utf-8": b"\xff\xfe\x00",
    "by_source a list": json.dumps({"documents": {"in": 1, "kept": 1}, "funnel": [], "by_source": []}).encode(),
    "wrong types": json.dumps({"documents": {"in": "x"}, "funnel": [{"step": 1}], "by_source": {"s": 3}}).encode(),
    "nested deep": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("case", [*BAD_STATS, "fifo", "missing"])
def test_a_bad_stats_json_is_one_line_not_a_traceback(tmp_path, capfd, case):
    out = hostile_build(tmp_path / "b", text="plain")
    stats = Layout(out).stats
    stats.unlink()
    if case == "fifo":
        os.mkfifo(stats)
    elif case != "missing":
        stats.write_bytes(BAD_STATS[case])
    assert main(["review", str(out), "--report"]) == 2
    err = capfd.readouterr().err
    assert err.startswith("wsdata review: ") and "stats.json" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not Layout(out).report_html.exists()
    with review_server(out) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=20)
        conn.request("GET", "/report")
        r = conn.getresponse()
        assert r.status == 500 and "stats.json" in json.loads(r.read())["error"]
        conn.request("GET", "/api/state")  # the review itself goes on
        assert conn.getresponse().status == 200
        conn.close()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("case", ["garbage", "wrong type", "no column", "fifo"])
def test_a_queue_that_is_no_queue_is_one_line_not_a_traceback(tmp_path, capfd, case):
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = hostile_build(tmp_path / "b", text="plain")
    queue = Layout(out).queue
    rows = pq.read_table(queue).to_pylist()
    if case == "garbage":
        queue.write_bytes(b"PAR1 not parquet PAR1")
    elif case == "wrong type":
        pq.write_table(pa.Table.from_pylist([{**r, "position": "zero"} for r in rows]), queue)
    elif case == "no column":
        pq.write_table(pa.Table.from_pylist([{k: v for k, v in r.items() if k != "reason"} for r in rows]), queue)
    else:
        queue.unlink()
        os.mkfifo(queue)
    assert main(["review", str(out), "--reviewer", "t"]) == 2
    err = capfd.readouterr().err
    assert err.startswith("wsdata review: ") and "queue.parquet" in err and "Traceback" not in err
    if case != "fifo":  # (the command refuses a FIFO before it serves)
        from wsdata.review import web

        with pytest.raises(Exception, match="queue") as e:
            web.serve(out, "127.0.0.1", 0)
        assert type(e.value).__name__ == "QueueError"


def test_json_columns_that_are_garbage_show_as_empty(tmp_path, capfd):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from wsdata.review import tui
    from wsdata.review.sample import QUEUE_SCHEMA

    out = hostile_build(tmp_path / "b", text="plain")
    queue = Layout(out).queue
    rows = pq.read_table(queue).to_pylist()
    bad = ["{", '[1, {"start_ms": "x"}, {"start_ms": 1, "end_ms": 2}]', "[" * 5000, '"a string"']
    rows = [{**r, "evidence": bad[i % 4], "timestamps": bad[(i + 1) % 4]} for i, r in enumerate(rows)]
    pq.write_table(pa.Table.from_pylist(rows, schema=QUEUE_SCHEMA), queue)
    with review_server(out) as server:
        for p in (0, 1):
            status, body = http_get(server, f"/api/item/{p}")
            assert status == 200 and json.loads(body)["evidence"] == []
    screen = io.StringIO()
    assert tui.run(out, "t", stdin=io.StringIO("s\ns\n"), stdout=screen) == 0
    assert "queue done" in screen.getvalue() and "Traceback" not in capfd.readouterr().err


def test_lone_surrogates_in_stats_and_verdicts_do_not_break_the_report(tmp_path, capfd):
    out = hostile_build(tmp_path / "b", text="plain")
    layout = Layout(out)
    stats = json.loads(layout.stats.read_text())
    stats["by_source"] = {"src\ud800": stats["by_source"]["plain"]}
    layout.stats.write_text(json.dumps(stats))  # ensure_ascii: written as the escape \ud800
    line = {"item_id": "x\udfff", "stratum": "kept", "source": "src\ud800", "decision": "kept"}
    line.update(verdict="wrong", reviewer="r\ud800", position=0, note="", time="")
    layout.verdicts.write_text(json.dumps(line) + "\n")
    assert main(["review", str(out), "--report"]) == 0
    printed = capfd.readouterr()
    assert "src\ufffd" in printed.out and "Traceback" not in printed.err
    assert "src\ufffd" in layout.report_html.read_text(encoding="utf-8")
    with review_server(out) as server:
        assert http_get(server, "/report")[0] == 200


def test_scores_that_are_no_parquet_are_one_line(tmp_path, capfd):
    out = hostile_build(tmp_path / "b", text="plain")
    (out / "scores" / "model").mkdir(parents=True)
    (out / "scores" / "model" / "00000.parquet").write_bytes(b"PAR1 garbage PAR1")
    for args in (["--report"], ["--quarantine-worst", "3"]):
        assert main(["review", str(out), *args]) == 2
        err = capfd.readouterr().err
        assert "scores" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not Layout(out).quarantine.exists()
