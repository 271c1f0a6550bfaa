"""Verdicts POSTed to `wsdata review --web` by a broken or hostile client: every one gets a clean 4xx
or a closed connection, never a 500 or a traceback on the server's stderr, and the server goes on
serving after each. A lone surrogate in a note is stored as U+FFFD, as in crawled text."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from tests.helpers import SPEECH, hostile_build, review_server
from wsdata.layout import Layout
from wsdata.review import verdicts as vd
from wsdata.review.web import MAX_BODY, Handler

FLAC = (SPEECH / "en" / "agent-incorrect.flac").read_bytes()


@pytest.fixture
def server(tmp_path, capfd):
    out = hostile_build(tmp_path / "b", text="plain", flac=FLAC)
    with review_server(out, reviewer="ann") as srv:
        yield srv
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception" not in err, err


def _request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _still_serving(server):
    status, body = _request(server, "GET", "/api/state")
    assert status == 200 and json.loads(body)["total"] == 2


def _raw(server, data: bytes, half_close: bool = True) -> bytes:
    """Send `data` on a fresh connection (then stop sending), and return all the server answers."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=20) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        return got


def _post_head(length: str, extra: str = "") -> bytes:
    return (
        f"POST /api/verdict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _verdict(server, **fields):
    item = json.loads(_request(server, "GET", "/api/item/1")[1])
    return {"position": 1, "check": item["check"], "verdict": "wrong", "reviewer": "ann", **fields}


def _post(server, raw: bytes):
    return _request(server, "POST", "/api/verdict", raw, {"Content-Type": "application/json"})


def test_a_lone_surrogate_in_a_note_is_stored_as_a_replacement_character(server):
    body = json.dumps(_verdict(server, note="a\ud800b", reviewer="z\udfffz"))  # ensure_ascii: \ud800 escapes
    assert "\\ud800" in body
    status, reply = _post(server, body.encode())
    assert status == 200 and json.loads(reply)["saved"] == "wrong"
    (rec,) = vd.load(server.queue.out)
    assert rec["note"] == "a\ufffdb" and rec["reviewer"] == "z\ufffdz"
    Layout(server.queue.out).verdicts.read_bytes().decode("utf-8")  # the file stays UTF-8
    assert json.loads(_request(server, "GET", "/api/item/1")[1])["verdicts"][0]["note"] == "a\ufffdb"
    _still_serving(server)


def test_a_client_that_stops_mid_body_gets_a_closed_connection(server):
    got = _raw(server, _post_head("1000") + b'{"position"')  # 10 of 1,000 bytes, then nothing more
    assert got == b""  # no answer: there is nothing to answer
    assert not Layout(server.queue.out).verdicts.exists()
    _still_serving(server)


def test_a_client_that_stalls_mid_body_is_let_go(server, monkeypatch):
    monkeypatch.setattr(Handler, "timeout", 1)  # seconds a half-sent request may sit
    got = _raw(server, _post_head("1000") + b'{"position"', half_close=False)
    assert got == b""
    _still_serving(server)


@pytest.mark.parametrize(
    ("length", "status"),
    [
        ("-5", 411),
        ("-0", 411),
        ("0", 411),
        ("abc", 411),
        ("1e3", 411),
        ("\u0661\u0660", 411),  # Arabic-Indic digits: int() takes them, HTTP does not
        (str(MAX_BODY + 1), 413),
        ("9" * 30, 413),
        ("9" * 5000, 413),  # longer than Python parses as an int by default
    ],
)
def test_bad_content_lengths_are_refused_and_the_connection_closed(server, length, status):
    got = _raw(server, _post_head(length.encode("utf-8").decode("latin-1")) + b"{}")
    assert got.startswith(f"HTTP/1.1 {status} ".encode()), got[:100]
    assert b"Connection: close" in got
    _still_serving(server)


def test_no_content_length_is_411(server):
    got = _raw(server, b"POST /api/verdict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 411 ")
    _still_serving(server)


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"\xff\xfe{}",  # not UTF-8
        b"[" * 8000 + b"]" * 8000,  # nested past the parser
        b"[1, 2]",
        b'"a verdict"',
        b"null",
        b"1" * 5000,  # an integer longer than Python parses
    ],
)
def test_bodies_that_are_no_json_object_are_400(server, raw):
    assert _post(server, raw)[0] == 400
    assert not Layout(server.queue.out).verdicts.exists()
    _still_serving(server)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"position": 1.0}, 400),
        ({"position": None}, 400),
        ({"position": 10**30}, 404),
        ({"position": -1}, 404),
        ({"verdict": ["wrong"]}, 400),
        ({"verdict": {"a": 1}}, 400),
        ({"reviewer": ["ann"]}, 400),
        ({"reviewer": {"n": "ann"}}, 400),
        ({"note": 3}, 400),
        ({"note": ["x"]}, 400),
        ({"check": ["x"]}, 409),
        ({"check": None}, 409),
    ],
)
def test_wrong_field_types_are_4xx(server, fields, status):
    body = json.dumps(_verdict(server, **fields)).encode()
    assert _post(server, body)[0] == status
    assert not Layout(server.queue.out).verdicts.exists()
    _still_serving(server)


def test_a_body_past_the_cap_is_never_read(server):
    big = json.dumps(_verdict(server, note="x" * (MAX_BODY + 10))).encode()
    assert _post(server, big)[0] == 413
    _still_serving(server)
