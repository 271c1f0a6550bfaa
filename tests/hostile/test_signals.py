"""SIGTERM and Ctrl-C stop a `--workers 2` build cleanly: one line, exit 143 / 130, no process of
the build left behind, and a rerun that ends with the output of an uninterrupted build. A chunk in
flight is not waited for: a worker blocked on a server that holds its reply is killed with the rest.

Before: SIGTERM killed the driver alone and left both workers running for good (re-parented to
PID 1); Ctrl-C printed each worker's traceback, and SIGINT to the driver alone waited for every
chunk in flight.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import EN_AUDIO, EN_SRT, MINI, all_rows
from wsdata import config
from wsdata.layout import Layout
from wsdata.orchestrate import build
from wsdata.verify import check_accounting

pytestmark = pytest.mark.slow  # real builds, as subprocesses

COPIES = 8  # the six kept documents of the minicorpus, 8 times over: 24 chunks of 2 lines
CHUNK = ["--set", "read.chunk_size=2"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(crawl, its uninterrupted build): long enough that a signal lands mid-run."""
    folder = tmp_path_factory.mktemp("long")
    for sub in ("media", "subs"):
        shutil.copytree(MINI / sub, folder / sub)
    lines = (MINI / "crawl.jsonl").read_text(encoding="utf-8").splitlines()[:6]
    with open(folder / "crawl.jsonl", "w", encoding="utf-8") as f:
        for k in range(COPIES):
            for line in lines:
                doc = json.loads(line)
                f.write(json.dumps({**doc, "id": f"{doc['id']}-{k}"}) + "\n")
    ref = folder / "ref"
    cfg = config.override(config.load("default"), config.parse_set(CHUNK[1:]))  # as the CLI makes it
    build(folder / "crawl.jsonl", ref, cfg, progress=False)
    return folder / "crawl.jsonl", ref


def _stat(pid: str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state, ppid, pgrp, session, ...)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def live_in_session(sid: int) -> list[int]:
    """Processes of session `sid` that still run (zombies, waiting for init to reap them, don't)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (f := _stat(d.name)) and int(f[3]) == sid and f[0] != "Z":
            found.append(int(d.name))
    return found


def children(pid: int) -> list[int]:
    return [
        int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and (f := _stat(d.name)) and int(f[1]) == pid
    ]


def build_cmd(crawl: Path, out: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "wsdata", "build", "--source", str(crawl), "--out", str(out), "--workers", "2"]
    return [*cmd, "--quiet", *CHUNK, *extra]


def workers_of(proc: subprocess.Popen) -> list[int]:
    return [c for c in children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def stopped_cleanly(proc: subprocess.Popen, sig: signal.Signals, to_group: bool, code: int) -> None:
    """Send `sig`; the build must end with `code`, one line and no traceback, and leave no process."""
    try:
        (os.killpg if to_group else os.kill)(proc.pid, sig)
        err = proc.communicate(timeout=30)[1]  # generous: it takes well under a second
    finally:
        if proc.poll() is None or live_in_session(proc.pid):  # the old behaviour: end it, then fail
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == code, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines()[-1] == "wsdata build: interrupted; rerun the same command to resume"
    assert err.count("interrupted") == 1
    deadline = time.monotonic() + 30  # the multiprocessing resource tracker ends when its pipe closes
    while live_in_session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_in_session(proc.pid) == []


SIGNALS = [
    (signal.SIGTERM, False, 143),  # kill, timeout, a scheduler: the driver alone
    (signal.SIGINT, True, 130),  # Ctrl-C in a terminal: the whole foreground process group
    (signal.SIGINT, False, 130),  # kill -INT of the driver alone
]
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")


@needs_proc
@pytest.mark.parametrize(("sig", "to_group", "code"), SIGNALS[:2])
def test_a_signal_mid_run_stops_the_build_and_the_rerun_resumes(corpus, tmp_path, sig, to_group, code):
    crawl, ref = corpus
    out = tmp_path / "out"
    cmd = build_cmd(crawl, out)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    markers = Layout(out).chunk_marker(0).parent
    deadline = time.monotonic() + 300
    while not list(markers.glob("*.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert len(workers_of(proc)) == 2, "the build's two workers should be running"
    stopped_cleanly(proc, sig, to_group, code)
    assert not Layout(out).stats.exists(), "the build ended before the signal"

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming" in rerun.stderr
    assert check_accounting(out, crawl) == []
    assert all_rows(out) == all_rows(ref)
    assert json.loads(Layout(out).stats.read_text()) == json.loads(Layout(ref).stats.read_text())


class Held(BaseHTTPRequestHandler):
    """/t.srt: EN_SRT, but held back (headers sent, no body) until `release` is set."""

    protocol_version = "HTTP/1.0"
    asked = threading.Event()
    release = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        self.do_HEAD()
        type(self).asked.set()
        if type(self).release.wait(timeout=300):
            self.wfile.write(EN_SRT.read_bytes())


@pytest.fixture
def held() -> Iterator[str]:
    Held.asked.clear()
    Held.release.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Held)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/t.srt"
    Held.release.set()
    httpd.shutdown()
    httpd.server_close()


@needs_proc
@pytest.mark.parametrize(("sig", "to_group", "code"), SIGNALS)
def test_a_chunk_in_flight_is_not_waited_for(held, tmp_path, sig, to_group, code):
    """One worker idle, the other blocked in a read the server holds: the driver stops them both
    at once (before: Ctrl-C printed the idle worker's traceback, SIGINT to the driver waited for
    the read, SIGTERM left both workers behind)."""
    pytest.importorskip("aiohttp", reason="the remote extra is not installed (make test installs it)")
    crawl, out = tmp_path / "crawl.jsonl", tmp_path / "out"
    doc = {"audio": str(EN_AUDIO), "language": "en", "caption_kind": "manual"}
    lines = [{**doc, "id": "local", "transcript": str(EN_SRT)}, {**doc, "id": "remote", "transcript": held}]
    crawl.write_text("".join(json.dumps(line) + "\n" for line in lines))
    cmd = build_cmd(crawl, out, "--set", "read.chunk_size=1", "--set", "limits.remote_timeout_s=600", "--no-dedup")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (Held.asked.is_set() and Layout(out).chunk_marker(0).exists()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert Held.asked.is_set() and Layout(out).chunk_marker(0).exists()
    assert len(workers_of(proc)) == 2
    stopped_cleanly(proc, sig, to_group, code)
    assert not Layout(out).chunk_marker(1).exists()

    Held.release.set()  # the server answers now: the rerun builds the held chunk
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert check_accounting(out, crawl) == []
    assert {r["doc_id"] for r in all_rows(out)[0]} == {"local", "remote"}


@pytest.mark.parametrize(("command", "line"), [("stats", "rerun the same command"), ("train", "--resume")])
def test_sigterm_to_any_command_is_its_clean_stop(monkeypatch, capsys, tmp_path, command, line):
    """Every command (import, score, train, ...) takes SIGTERM as Ctrl-C: one line, exit 143, and
    the handler it found is back afterwards."""
    from wsdata import cli

    def runs_until_killed(args: object) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)  # the signal ends this at once
        return 0

    before = signal.getsignal(signal.SIGTERM)
    if command == "stats":
        monkeypatch.setattr(cli, "_stats", runs_until_killed)
        argv = ["stats", str(tmp_path)]
    else:
        pytest.importorskip("torch", reason="the train extra is not installed")
        monkeypatch.setattr("wsdata.train.cli._train", runs_until_killed)
        argv = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 143
    (said,) = capsys.readouterr().err.strip().splitlines()
    assert said.startswith(f"wsdata {command}: interrupted; ") and line in said
    assert signal.getsignal(signal.SIGTERM) == before
