"""`wsdata review --report` and the live report on a build folder edited by hand or from someone else:
a stats.json that is garbage, of the wrong shape, a FIFO or a link is one clear line (exit 2) or a
500 with a message, never a traceback or a hang."""

from __future__ import annotations

import http.client
import json
import os

import pytest

from tests.helpers import hostile_build, review_server
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
