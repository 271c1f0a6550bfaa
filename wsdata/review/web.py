"""`wsdata review DIR --web`: the review queue as a local web page, and the report, live.

The standard library's threading HTTP server: a review page serves a handful of reviewers, and
needs routing for eight paths, JSON, byte ranges for the audio and a few headers; a web framework
would add a dependency to keep up to date and nothing this needs. The page's HTML, script and
style are files in wsdata/review/static/, served from here: nothing loads from the internet, so it
works on an air-gapped server.

Safety, since a queue holds crawled strings and the server may be reachable by others:
- bound to 127.0.0.1 by default, and then it answers only requests whose Host is a loopback name
  (a web page elsewhere cannot reach it by DNS rebinding);
- bound anywhere else, it needs a token, printed once: `/?token=T` sets a cookie, and every request
  without the cookie or the token is refused;
- a verdict is a POST of JSON from the page's own origin (a cross-site form cannot send one);
- every response carries a Content-Security-Policy allowing scripts, styles and media from the
  server's own files only (no inline script, whatever a crawled string holds), and nosniff;
- crawled strings reach the page made inert (wsdata/review/served.py), and the page sets them as
  text, never as HTML.
"""

from __future__ import annotations

import hmac
import http.cookies
import ipaddress
import json
import re
import secrets
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from wsdata.io.textenc import loads_json
from wsdata.review.sample import QueueError
from wsdata.review.served import ReviewError, ServedQueue
from wsdata.review.verdicts import VerdictsError
from wsdata.terminal import safe

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8377
MAX_BODY = 16 * 1024  # bytes of a verdict request
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
STATIC = {  # the only files served from wsdata/review/static/
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
    "report.js": "text/javascript; charset=utf-8",
    "report.css": "text/css; charset=utf-8",
}
_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 with or without brackets) is this machine only."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The host of a Host header, without its port: `[::1]:8377` -> `::1`, `localhost:9000` -> `localhost`."""
    m = re.fullmatch(r"\[([^\]]*)\](?::\d+)?|([^:]*)(?::\d+)?", header.strip())
    return (m.group(1) or m.group(2) or "") if m else ""


def _static(name: str) -> bytes:
    return resources.files("wsdata.review").joinpath("static", name).read_bytes()


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end] (inclusive) of a single `bytes=` range, None for the whole file; ValueError when
    it cannot be served (416)."""
    if not header:
        return None
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not m or (m.group(1) == m.group(2) == ""):
        return None  # several ranges or another unit: the whole file, as RFC 9110 allows
    if m.group(1) == "":  # the last N bytes
        n = int(m.group(2))
        if n == 0:
            raise ValueError("empty suffix range")
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if start >= size or end < start:
        raise ValueError("range past the end")
    return start, end


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True  # a reviewer's open connection never keeps the command from stopping
    allow_reuse_address = True

    def __init__(self, queue: ServedQueue, host: str, port: int, token: str | None):
        self.queue, self.token = queue, token
        self.loopback_only = is_loopback(host)
        if ":" in host.strip("[]"):
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that goes away or stalls mid-request (an aborted POST, a skipped clip) costs its
        connection only, silently; anything else is logged, and the server goes on."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "wsdata-review"
    protocol_version = "HTTP/1.1"  # keep-alive: the page's requests and the audio's ranges share one
    timeout = 60  # seconds a connection may sit idle or half-sent before its thread lets it go

    # -- plumbing ---------------------------------------------------------------------------------
    def version_string(self) -> str:
        return self.server_version  # not Python's version: nothing for a scanner

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a request log would drown the one line that matters (the address); errors go to stderr

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:  # a request whose body stays unread: the client must not reuse this connection
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj, ensure_ascii=True).encode()
        self._send(status, body, "application/json", {"Cache-Control": "no-store"})

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _allowed(self, url: Any) -> bool:
        """The Host and token checks; answers the request itself when it is refused or redirected."""
        if self.server.loopback_only and not is_loopback(_host_name(self.headers.get("Host", ""))):
            return self._refuse("this review server answers requests to localhost only")
        token = self.server.token
        if token is None:
            return True
        given = parse_qs(url.query).get("token", [""])[0]
        if given and hmac.compare_digest(given.encode(), token.encode()):
            if self.command == "GET":  # once: a cookie from now on, and the token out of the address bar
                cookie = f"{self._cookie_name()}={token}; Path=/; HttpOnly; SameSite=Strict"
                self._send(303, b"", "text/plain", {"Location": url.path or "/", "Set-Cookie": cookie})
                return False
            return True
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            pass
        sent = jar.get(self._cookie_name())
        if sent is not None and hmac.compare_digest(sent.value.encode(), token.encode()):
            return True
        return self._refuse("this review server needs its token: open the address it printed when it started")

    def _refuse(self, message: str) -> bool:
        if self.command == "POST":
            self.close_connection = True  # its body stays unread: the connection cannot carry another request
        self._error(403, message)
        return False

    def _cookie_name(self) -> str:
        return f"wsdata_review_{self.server.server_address[1]}"

    def _run(self, fn: Any) -> None:
        """Call a route; a ReviewError is its status, anything else a 500 (logged) and the server goes on."""
        try:
            fn()
        except ReviewError as e:
            self._error(e.status, str(e))
        except (QueueError, VerdictsError) as e:  # the queue or verdicts file is not what a build writes
            self._error(500, safe(e, 500))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away (a skipped clip): nothing to answer
        except Exception:  # noqa: BLE001 - one bad item must not stop the review of the others
            traceback.print_exc(file=sys.stderr)
            self._error(500, "internal error: see the server's terminal")

    # -- routes -----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if not self._allowed(url):
            return
        self._run(lambda: self._get(url))

    def do_HEAD(self) -> None:
        self.do_GET()

    def _get(self, url: Any) -> None:
        path, query = url.path, parse_qs(url.query, keep_blank_values=True)
        q = self.server.queue
        if path == "/":
            self._send(200, _static("review.html"), "text/html; charset=utf-8", {"Cache-Control": "no-store"})
        elif path.startswith("/static/") and path[8:] in STATIC:
            self._send(200, _static(path[8:]), STATIC[path[8:]])
        elif path == "/api/state":
            self._json(200, q.state(query["source"][0] if "source" in query else None))
        elif path == "/api/version":
            self._json(200, {"version": q.version()})
        elif m := re.fullmatch(r"/api/item/(\d{1,12})", path):
            self._json(200, q.item(int(m.group(1))))
        elif m := re.fullmatch(r"/audio/(\d{1,12})", path):
            self._audio(int(m.group(1)))
        elif path == "/report":
            self._report()
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")  # none, and no 404 in the browser's console
        else:
            self._error(404, "no such page")

    def _audio(self, position: int) -> None:
        data = self.server.queue.audio(position)
        if isinstance(data, str):
            raise ReviewError(404, data)
        try:
            span = _byte_range(self.headers.get("Range"), len(data))
        except ValueError:
            self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
            return
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
        if span is None:
            self._send(200, data, "audio/flac", headers)
            return
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self._send(206, data[start : end + 1], "audio/flac", headers)

    def _report(self) -> None:
        from wsdata.review import report

        out = self.server.queue.out
        try:
            _, page = report.make(out, f"wsdata audit: {out.resolve().name}", served=True)
        except report.ReportError as e:
            raise ReviewError(500, safe(e, 500)) from None
        self._send(200, page.encode(), "text/html; charset=utf-8", {"Cache-Control": "no-store"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if not self._allowed(url):
            return
        self._run(lambda: self._post(url.path))

    def _post(self, path: str) -> None:
        raw = self._body()
        if raw is None:
            return  # the client went away mid-body: nothing to answer
        if path != "/api/verdict":
            raise ReviewError(404, "no such page")
        if self.headers.get_content_type() != "application/json":
            raise ReviewError(415, "a verdict is sent as application/json")  # a form cannot: no cross-site posts
        origin = self.headers.get("Origin")
        if origin and urlsplit(origin).netloc != self.headers.get("Host", ""):
            raise ReviewError(403, "a verdict comes from the review page itself")
        try:  # lone surrogates (valid JSON escapes, not Unicode) become U+FFFD, as in a crawl line
            body = loads_json(raw.decode("utf-8"))
        except ValueError:  # not UTF-8, not JSON, nested too deeply
            raise ReviewError(400, "a verdict is a JSON object") from None
        self._json(200, self.server.queue.judge(body))

    def _body(self) -> bytes | None:
        """The request's body: 1 to MAX_BODY bytes, as many as its Content-Length says; ReviewError
        (411, 413) for a missing, negative or larger length, None when the client stops sending
        before the end (then the connection is closed, unanswered)."""
        value = self.headers.get("Content-Length", "").strip()
        length = -1  # absent, signed or not a number: 411
        if re.fullmatch(r"[0-9]+", value):  # ASCII digits only; a 5,000-digit one is not parsed
            length = int(value) if len(value) <= 12 else MAX_BODY + 1
        if not 0 < length <= MAX_BODY:
            self.close_connection = True  # its body is not read: the connection cannot carry another request
            raise ReviewError(413 if length > 0 else 411, f"a request body of 1 to {MAX_BODY} bytes, with its length")
        try:
            raw = self.rfile.read(length)  # at most MAX_BODY; `timeout` bounds a client that stalls
        except OSError:  # a reset or the idle timeout
            raw = b""
        if len(raw) < length:
            self.close_connection = True
            return None
        return raw


def serve(
    out: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    reviewer: str = "",
    token: bool | str = False,
) -> ReviewServer:
    """A review server for build folder `out`, bound but not yet serving (call `serve_forever`).
    A token is made when `host` is not a loopback address, or when `token` is True; a string is
    used as the token itself (tests). OSError when the address cannot be bound."""
    if isinstance(token, str):
        secret: str | None = token
    else:
        secret = secrets.token_urlsafe(18) if token or not is_loopback(host) else None
    return ReviewServer(ServedQueue(out, reviewer), host, port, secret)


def address(server: ReviewServer, host: str) -> str:
    """The address to open, with the token when there is one (printed once, at start)."""
    port = server.server_address[1]
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    if host in ("0.0.0.0", "::", "[::]"):
        shown = socket.gethostname()  # a reviewer elsewhere cannot open 0.0.0.0
    url = f"http://{shown}:{port}/"
    return url + (f"?token={server.token}" if server.token else "")
