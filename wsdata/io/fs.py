"""Paths and URIs: local files directly, everything else (s3://, gs://, http(s)://) through fsspec.

Every read is bounded: a local path must be a regular file (a FIFO or device could block or never
end), a read stops one byte past the caller's limit, and a remote read has connect and read
timeouts, a total deadline and a minimum average rate (`Remote`): a server that trickles a byte
now and then never trips a timeout between two reads, so only the deadline ends it. http(s) needs
aiohttp (`pip install 'wsdata[remote]'`), s3 and gs need s3fs and gcsfs; without them a read fails
with a message that names the package.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")  # a URI starts with its scheme; `a://b` inside a name is a path


def resolve(path_or_uri: str, base_dir: Path) -> str:
    """A crawl field's path made absolute: relative paths against the crawl file's folder."""
    if path_or_uri.startswith("file://"):
        return path_or_uri[len("file://") :]
    if _SCHEME.match(path_or_uri):
        return path_or_uri
    p = Path(path_or_uri).expanduser()
    return str(p if p.is_absolute() else base_dir / p)


def is_local(uri: str) -> bool:
    return not _SCHEME.match(uri)


# The URI schemes a crawl may name (besides file://, a local path). fsspec knows many more, some of
# which read this machine's files around `limits.allowed_roots` (local://, simplecache::, zip://...).
REMOTE_SCHEMES = ("http", "https", "s3", "gs", "gcs")


def location_problem(path_or_uri: str) -> str | None:
    """Why a crawl's audio or transcript location is never opened, or None: a NUL character (no
    file has one in its name) or a URI scheme other than file:// and REMOTE_SCHEMES."""
    if "\0" in path_or_uri:
        return "holds a NUL character (U+0000), which no file name can"
    if (m := _SCHEME.match(path_or_uri)) and m.group(0)[:-3].lower() not in ("file", *REMOTE_SCHEMES):
        return f"the URI scheme {m.group(0)!r} is not read (file://, {', '.join(s + '://' for s in REMOTE_SCHEMES)})"
    return None


def under(path: str, roots: tuple[str, ...]) -> bool:
    """Whether local `path`, links followed and `..` resolved, lies inside one of `roots`."""
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, os.path.realpath(r)]) == os.path.realpath(r) for r in roots)


RATE_GRACE_S = 10.0  # seconds of a remote read before its average rate is held to min_bytes_per_s (a slow start)


@dataclass(frozen=True)
class Remote:
    """How far a remote read may go: seconds to connect and between two reads, bytes in all, seconds
    in all (from the request to the last byte), and the least average bytes per second once
    `grace_s` have passed (0: no minimum). `[limits]` remote_* in the config."""

    timeout_s: float = 30.0
    max_bytes: int = 2_000_000_000
    total_s: float = 600.0
    min_bytes_per_s: float = 1024.0
    grace_s: float = RATE_GRACE_S


DEFAULT_REMOTE = Remote()
UNTIMED = Remote(total_s=math.inf, min_bytes_per_s=0)  # a local file's read: no deadline, no least rate


class RemoteStalled(OSError):
    """A remote read stopped for taking too long; `code` is the pair.* reason suffix."""

    code: str


class RemoteDeadline(RemoteStalled):
    """The file was not read within `Remote.total_s` (limits.remote_total_s)."""

    code = "remote_deadline"


class RemoteTooSlow(RemoteStalled):
    """After `Remote.grace_s`, the file came slower than `Remote.min_bytes_per_s` on average."""

    code = "remote_too_slow"


class _Clock:
    """The time budget of one remote read, started before the request is sent."""

    def __init__(self, uri: str, remote: Remote):
        self.uri, self.remote, self.t0 = uri, remote, time.monotonic()

    def check(self, got: int) -> None:
        """Raise RemoteDeadline or RemoteTooSlow when the read, `got` bytes so far, must stop."""
        spent, r = time.monotonic() - self.t0, self.remote
        if spent >= r.total_s:
            raise self.deadline(got)
        if spent >= r.grace_s and got / spent < r.min_bytes_per_s:
            raise RemoteTooSlow(
                f"{self.uri}: {got / spent:,.0f} bytes/s on average over {spent:.0f} s"
                f" < {r.min_bytes_per_s:g} (limits.remote_min_bytes_per_s)"
            )

    @contextlib.contextmanager
    def waiting(self, got: int) -> Iterator[None]:
        """Around one remote call: the HTTP client's own total timeout (`total_s` per request, set
        in `_remote`), when it fires, is this deadline, so that a single read of a trickling body
        cannot outlast it."""
        try:
            yield
        except TimeoutError:
            if time.monotonic() - self.t0 >= self.remote.total_s * 0.99:  # the client's clock, not ours
                raise self.deadline(got) from None
            raise

    def deadline(self, got: int) -> RemoteDeadline:
        return RemoteDeadline(
            f"{self.uri}: not read within {self.remote.total_s:g} s (limits.remote_total_s); {got:,} bytes had come"
        )


class RemoteUnavailable(OSError):
    """The package that reads this kind of URI is not installed; the message names it."""


_PACKAGES = {
    "http": "aiohttp (pip install 'wsdata[remote]')",
    "https": "aiohttp (pip install 'wsdata[remote]')",
    "s3": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
}


def _remote(uri: str, remote: Remote) -> tuple[fsspec.AbstractFileSystem, str]:
    scheme = uri.split("://", 1)[0].lower()
    if scheme not in REMOTE_SCHEMES:  # the read stage refuses these too: no local file around the roots
        raise RemoteUnavailable(f"{scheme}:// is not read (only {', '.join(REMOTE_SCHEMES)})")
    options: dict = {}
    if scheme in ("http", "https"):
        try:
            import aiohttp
        except ImportError:
            raise RemoteUnavailable(f"{scheme}:// needs {_PACKAGES[scheme]}") from None
        # total: one request's whole life, so that a single read of a trickling body cannot outlast
        # the deadline that `_Clock` checks between reads.
        timeout = aiohttp.ClientTimeout(total=remote.total_s, sock_connect=remote.timeout_s, sock_read=remote.timeout_s)
        options = {"client_kwargs": {"timeout": timeout}}
    try:
        return fsspec.core.url_to_fs(uri, **options)
    except ImportError as e:
        raise RemoteUnavailable(f"{scheme}:// needs {_PACKAGES.get(scheme, 'an fsspec backend')} ({e})") from None


class NotAFile(OSError):
    """A local path that is a folder, device, FIFO or socket: reading it could block or never end."""


class TooLarge(OSError):
    """More bytes than the caller's limit: the rest is never read."""


def _regular(uri: str) -> os.stat_result:
    """`os.stat` of a regular file; NotAFile for anything else (FileNotFoundError when absent)."""
    st = os.stat(uri)
    if not stat.S_ISREG(st.st_mode):
        kinds = (
            (stat.S_ISDIR, "folder"),
            (stat.S_ISFIFO, "FIFO"),
            (stat.S_ISCHR, "character device"),
            (stat.S_ISBLK, "block device"),
            (stat.S_ISSOCK, "socket"),
        )
        kind = next((name for test, name in kinds if test(st.st_mode)), "special file")
        raise NotAFile(f"{uri} is a {kind}, not a regular file")
    return st


UNKNOWN_SIZE = -1  # a server that does not say (no Content-Length): not the same as empty


def size(uri: str, remote: Remote = DEFAULT_REMOTE) -> int | None:
    """Size in bytes (UNKNOWN_SIZE when a server does not say), or None when the file does not
    exist. Raises NotAFile for a local path that is no regular file, OSError when unreachable."""
    if is_local(uri):
        try:
            return _regular(uri).st_size
        except FileNotFoundError:
            return None
    fs, path = _remote(uri, remote)
    if not fs.exists(path):
        return None
    n = fs.size(path)
    return UNKNOWN_SIZE if n is None else int(n)


def read_bytes(uri: str, limit: int, remote: Remote = DEFAULT_REMOTE) -> bytes:
    """The whole file, if it holds at most `limit` bytes; TooLarge otherwise, after reading at most
    limit + 1 of them. A local path must be a regular file (NotAFile)."""
    if is_local(uri):
        _regular(uri)
        clock = _Clock(uri, UNTIMED)  # a regular file: it ends, and the limit bounds it
        opened = open(uri, "rb")  # noqa: SIM115 - closed by the `with` below, as the remote file is
    else:
        fs, path = _remote(uri, remote)
        clock = _Clock(uri, remote)
        with clock.waiting(0):
            opened = fs.open(path, "rb")
    parts, n = [], 0
    with opened as f:  # a stream may return fewer bytes than asked: read until the end or the limit
        while n <= limit:
            with clock.waiting(n):
                block = f.read(limit + 1 - n)
            if not block:
                break
            parts.append(block)
            n += len(block)
            clock.check(n)
    data = b"".join(parts)
    if len(data) > limit:
        raise TooLarge(f"{uri} holds more than {limit:,} bytes")
    return data


@contextlib.contextmanager
def local_copy(uri: str, remote: Remote = DEFAULT_REMOTE) -> Iterator[str]:
    """A local path for `uri`: the file itself, or a temporary download of at most
    `remote.max_bytes` (ffmpeg needs to seek; TooLarge past it)."""
    if is_local(uri):
        yield uri
        return
    suffix = Path(uri.split("?", 1)[0]).suffix
    fs, path = _remote(uri, remote)
    clock = _Clock(uri, remote)
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with clock.waiting(0):
            src = fs.open(path, "rb")
        with src:
            copied = 0
            while True:
                with clock.waiting(copied):
                    block = src.read(1 << 20)
                if not block:
                    break
                copied += len(block)
                if copied > remote.max_bytes:
                    raise TooLarge(f"{uri} holds more than {remote.max_bytes:,} bytes (limits.max_remote_bytes)")
                tmp.write(block)
                clock.check(copied)
        tmp.flush()
        yield tmp.name
