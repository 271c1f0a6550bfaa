"""`wsdata review DIR --web` over HTTP: who may ask (Host, token), what every answer carries (the
content policy), verdicts (only JSON from the page itself), audio ranges, the live report, and a
terminal and two web reviewers appending at once."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
from html.parser import HTMLParser

import pexpect
import pytest

from tests.helpers import HOSTILE_HTML, SOURCE, SPEECH, hostile_build, review_server
from wsdata import config
from wsdata.cli import main
from wsdata.layout import Layout
from wsdata.orchestrate import build
from wsdata.review import verdicts as vd
from wsdata.review.web import _byte_range, _host_name, address, is_loopback, serve

FLAC = (SPEECH / "en" / "agent-incorrect.flac").read_bytes()


def request(server, method, path, body=None, headers=None):
    """(status, headers, body bytes) of one request to `server`."""
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def post_verdict(server, body, headers=None):
    data = json.dumps(body).encode()
    return request(server, "POST", "/api/verdict", data, {"Content-Type": "application/json", **(headers or {})})


@pytest.fixture
def hostile(tmp_path):
    out = hostile_build(tmp_path / "b", text=HOSTILE_HTML, flac=FLAC)
    with review_server(out, reviewer="ann") as server:
        yield server


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.handlers, self.external, self.styles, self.links = [], [], [], 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a.get("src"))
        if tag == "style":
            self.styles += 1
        if tag == "a":
            self.links.append(a.get("href"))
        self.handlers += [k for k in a if k.startswith("on")]
        self.external += [v for k, v in a.items() if k in ("src", "href") and v and re.match(r"\w+:|//", v)]


def _parse(body: bytes) -> _Page:
    p = _Page()
    p.feed(body.decode())
    return p


# -- the plumbing, without a server ------------------------------------------------------------------


def test_loopback_names_and_host_headers():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "evil.example", "localhost.evil.example"))
    assert _host_name("[::1]:8377") == "::1" and _host_name("localhost:9000") == "localhost"
    assert _host_name("127.0.0.1") == "127.0.0.1" and _host_name("a:b:c") == ""


def test_byte_ranges():
    assert _byte_range(None, 100) is None and _byte_range("bytes=0-9,20-29", 100) is None
    assert _byte_range("bytes=10-19", 100) == (10, 19) and _byte_range("bytes=90-", 100) == (90, 99)
    assert _byte_range("bytes=-10", 100) == (90, 99) and _byte_range("bytes=50-500", 100) == (50, 99)
    for bad in ("bytes=100-", "bytes=20-10", "bytes=-0"):
        with pytest.raises(ValueError):
            _byte_range(bad, 100)


# -- over HTTP, on a queue of hostile strings ---------------------------------------------------------


def test_every_answer_carries_the_policy_and_pages_run_only_our_files(hostile):
    for path in ("/", "/static/review.js", "/api/state", "/api/item/0", "/audio/0", "/report", "/nowhere"):
        status, headers, _ = request(hostile, "GET", path)
        assert status == (404 if path == "/nowhere" else 200), path
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/", "/report"):
        page = _parse(request(hostile, "GET", path)[2])
        assert page.scripts and all(page.scripts), "an inline script"
        assert not page.handlers and not page.external and page.styles == 0  # nothing from elsewhere


def test_the_report_escapes_sources_and_links_each_to_its_items(hostile):
    status, _, body = request(hostile, "GET", "/report")
    page = body.decode()
    assert status == 200 and "<script>window" not in page and "<img" not in page and "\x1b" not in page
    assert "&lt;script&gt;" in page and "&lt;U+202E&gt;evil" in page
    links = [h for h in _parse(body).links if h.startswith("/?source=")]
    assert links and all(h == links[0] for h in links)  # the one source, in the table and the chart
    assert "%3Cscript%3E" in links[0]  # the raw source, URL-encoded: the page filters by it
    status, _, body = request(hostile, "GET", links[0])
    assert status == 200
    items = json.loads(request(hostile, "GET", "/api/state?source=" + links[0].split("=", 1)[1])[2])["items"]
    assert [i["position"] for i in items] == [0, 1]


def test_static_files_are_a_fixed_list(hostile):
    for path in ("/static/../web.py", "/static/review.html", "/static/%2e%2e/web.py", "/static/"):
        assert request(hostile, "GET", path)[0] == 404


def test_requests_for_another_host_are_refused(hostile):
    assert request(hostile, "GET", "/api/state", headers={"Host": "evil.example"})[0] == 403  # DNS rebinding
    assert request(hostile, "GET", "/api/state", headers={"Host": "localhost:9000"})[0] == 200  # ssh -L 9000:...
    assert request(hostile, "GET", "/api/state", headers={"Host": "[::1]:1"})[0] == 200


def test_verdicts_come_as_json_from_the_page_itself(hostile):
    item = json.loads(request(hostile, "GET", "/api/item/1")[2])
    body = {"position": 1, "check": item["check"], "verdict": "wrong", "reviewer": "ann", "note": "n"}
    data = json.dumps(body).encode()
    assert request(hostile, "POST", "/api/verdict", data, {"Content-Type": "text/plain"})[0] == 415  # a form
    assert post_verdict(hostile, body, {"Origin": "http://evil.example"})[0] == 403
    big = {**body, "note": "x" * 20_000}
    assert post_verdict(hostile, big)[0] == 413
    assert request(hostile, "POST", "/api/verdict", b"{not json", {"Content-Type": "application/json"})[0] == 400
    assert post_verdict(hostile, {**body, "verdict": "maybe"})[0] == 400
    assert not Layout(hostile.queue.out).verdicts.exists()
    port = hostile.server_address[1]
    status, _, reply = post_verdict(hostile, body, {"Origin": f"http://127.0.0.1:{port}"})
    assert status == 200 and json.loads(reply)["saved"] == "wrong"
    (rec,) = vd.load(hostile.queue.out)
    assert (rec["position"], rec["verdict"], rec["reviewer"], rec["note"]) == (1, "wrong", "ann", "n")


def test_audio_is_the_flac_with_byte_ranges_and_a_reason_when_there_is_none(hostile):
    status, headers, body = request(hostile, "GET", "/audio/0")
    assert status == 200 and body == FLAC and headers["Content-Type"] == "audio/flac"
    status, headers, body = request(hostile, "GET", "/audio/0", headers={"Range": "bytes=100-199"})
    assert status == 206 and body == FLAC[100:200] and headers["Content-Range"] == f"bytes 100-199/{len(FLAC)}"
    assert request(hostile, "GET", "/audio/0", headers={"Range": f"bytes={len(FLAC)}-"})[0] == 416
    status, _, body = request(hostile, "GET", "/audio/1")  # a reject whose audio is missing
    assert status == 404 and "no audio" in json.loads(body)["error"]
    assert request(hostile, "GET", "/audio/7")[0] == 404


def test_the_version_follows_the_verdicts(hostile):
    v0 = json.loads(request(hostile, "GET", "/api/version")[2])["version"]
    item = json.loads(request(hostile, "GET", "/api/item/0")[2])
    post_verdict(hostile, {"position": 0, "check": item["check"], "verdict": "right", "reviewer": "ann"})
    assert json.loads(request(hostile, "GET", "/api/version")[2])["version"] != v0


def test_a_token_is_asked_for_on_every_request(tmp_path):
    out = hostile_build(tmp_path / "b", flac=FLAC)
    with review_server(out, token="s3cret") as server:
        assert request(server, "GET", "/")[0] == 403
        assert request(server, "GET", "/audio/0")[0] == 403
        assert request(server, "GET", "/?token=wrong")[0] == 403
        status, headers, _ = request(server, "GET", "/?token=s3cret")
        assert status == 303 and headers["Location"] == "/"
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert request(server, "GET", "/api/state", headers={"Cookie": cookie})[0] == 200
        assert request(server, "GET", "/api/state", headers={"Cookie": cookie + "x"})[0] == 403
        assert post_verdict(server, {"position": 0})[0] == 403
        item = json.loads(request(server, "GET", "/api/item/0", headers={"Cookie": cookie})[2])
        body = {"position": 0, "check": item["check"], "verdict": "right", "reviewer": "ann"}
        assert post_verdict(server, body, {"Cookie": cookie})[0] == 200


def test_binding_beyond_localhost_makes_a_token(tmp_path):
    out = hostile_build(tmp_path / "b")
    server = serve(out, "0.0.0.0", 0)
    try:
        assert server.token and not server.loopback_only
        assert address(server, "0.0.0.0").endswith(f":{server.server_address[1]}/?token={server.token}")
    finally:
        server.server_close()
    server = serve(out, "127.0.0.1", 0)
    try:
        assert server.token is None and server.loopback_only
    finally:
        server.server_close()


def test_the_command_prints_where_to_look_and_refuses_a_busy_port(tmp_path, capsys):
    out = hostile_build(tmp_path / "b")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["review", str(out), "--web", "--port", str(port)]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsdata.cli", "review", str(out), "--web", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first, second = proc.stdout.readline(), proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        assert url and "ssh -N -L" in second
        conn = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=10)
        conn.request("GET", "/api/state")
        assert conn.getresponse().status == 200
    finally:
        proc.terminate()
        proc.wait(10)


# -- a terminal and two browsers' worth of verdicts at once, on a real build -----------------------------


@pytest.mark.slow
def test_terminal_and_web_reviewers_at_once_lose_nothing(tmp_path):
    out = tmp_path / "out"
    build(SOURCE, out, config.load("default"), progress=False)
    with review_server(out) as server:
        state = json.loads(request(server, "GET", "/api/state")[2])
        positions = [i["position"] for i in state["items"]]
        checks = {p: json.loads(request(server, "GET", f"/api/item/{p}")[2])["check"] for p in positions}
        rounds = 3
        failures = []

        def web_reviewer(name):
            for _ in range(rounds):
                for p in positions:
                    body = {"position": p, "check": checks[p], "verdict": "wrong", "reviewer": name, "note": name * 50}
                    if post_verdict(server, body)[0] != 200:
                        failures.append((name, p))

        term = pexpect.spawn(
            sys.executable, ["-m", "wsdata.cli", "review", str(out), "--reviewer", "term"], encoding="utf-8", timeout=60
        )
        term.expect(r"item 1/")  # the terminal holds the whole queue to judge; the browsers start now
        threads = [threading.Thread(target=web_reviewer, args=(n,)) for n in ("web1", "web2")]
        for t in threads:
            t.start()
        saved = 0
        while True:  # the terminal passes over items the browsers judge meanwhile
            if saved and term.expect([r"item \d+/", "queue done"]) == 1:
                break
            term.send("y")
            term.expect("saved: right")
            saved += 1
        term.expect(pexpect.EOF)
        for t in threads:
            t.join()
    assert not failures
    lines = Layout(out).verdicts.read_bytes().split(b"\n")
    assert lines[-1] == b""  # every line whole, the last one too
    recs = [json.loads(x) for x in lines[:-1]]  # each line one JSON verdict: none torn or interleaved
    assert len(recs) == len(vd.load(out)) == 2 * rounds * len(positions) + saved and 1 <= saved <= len(positions)
    for name in ("web1", "web2"):
        mine = [r for r in recs if r["reviewer"] == name]
        assert sorted(r["position"] for r in mine) == sorted(positions * rounds)
        assert all(r["note"] == name * 50 for r in mine)
    assert [r["verdict"] for r in recs if r["reviewer"] == "term"] == ["right"] * saved
