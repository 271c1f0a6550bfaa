"""Two commands writing one folder: the second stops at once (exit 2) and names the first's PID.

The lock is the kernel's flock on OUT/_work/lock (wsdata/lock.py): a holder killed with SIGKILL
leaves the file, never the lock, so the rerun resumes.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.helpers import SOURCE, all_rows, commonvoice_folder, review_server
from wsdata import config, lock
from wsdata.cli import main
from wsdata.interop.export import LOCK as EXPORT_LOCK
from wsdata.layout import Layout
from wsdata.orchestrate import build
from wsdata.verify import check_accounting

pytestmark = pytest.mark.slow  # real builds of tests/data/minicorpus, as subprocesses


def request(server: Any, method: str, path: str, body: bytes | None = None) -> bytes:
    """One request to the review server; its body (the status must be 200)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        reply = conn.getresponse()
        assert reply.status == 200, reply.read()
        return reply.read()
    finally:
        conn.close()


def wsdata(*args: str) -> list[str]:
    return [sys.executable, "-m", "wsdata", *args]


def build_cmd(out: Path, *extra: str) -> list[str]:
    return wsdata("build", "--source", str(SOURCE), "--out", str(out), "--quiet", *extra)


@pytest.fixture
def holder() -> Iterator[Callable[[Path, Path], int]]:
    """hold(lock_file, folder): another process that takes the lock and keeps it until the test
    ends; returns its PID."""
    procs = []

    def hold(lock_file: Path, folder: Path) -> int:
        code = (
            "import sys; from pathlib import Path; from wsdata import lock\n"
            f"with lock.hold(Path({str(lock_file)!r}), Path({str(folder)!r})):\n"
            "    print('held', flush=True); sys.stdin.read()\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc.pid

    yield hold
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=60)


def test_two_builds_into_one_out_one_runs_the_other_names_it(tmp_path):
    """The issue's repro: two builds 0.3 s apart. Before the lock both exited 0 and one segment
    landed in train and validation both."""
    ref, out = tmp_path / "ref", tmp_path / "out"
    build(SOURCE, ref, config.load("default"), progress=False)
    cmd = build_cmd(out)
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ran = {p.pid: (p.wait(timeout=600), p.communicate()[1]) for p in (first, second)}
    assert sorted(rc for rc, _ in ran.values()) == [0, 2]
    winner = next(pid for pid, (rc, _) in ran.items() if rc == 0)
    refused = next(err for rc, err in ran.values() if rc == 2)
    assert f"PID {winner}" in refused and "in use by another wsdata command" in refused
    assert "Traceback" not in refused
    split = {
        s: {r["id"] for f in Layout(out).shards(s) for r in pq.read_table(f, columns=["id"]).to_pylist()}
        for s in ("train", "validation")
    }
    assert split["train"] and split["validation"] and not split["train"] & split["validation"]
    assert check_accounting(out, SOURCE) == []
    assert all_rows(out) == all_rows(ref)
    assert json.loads(Layout(out).stats.read_text()) == json.loads(Layout(ref).stats.read_text())


def test_a_build_into_a_locked_folder_changes_nothing(tmp_path, holder):
    out = tmp_path / "out"
    pid = holder(Layout(out).lock, out)
    proc = subprocess.run(build_cmd(out), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 2
    (said,) = proc.stderr.strip().splitlines()  # one line, before any model or notice
    assert f"PID {pid}" in said
    assert sorted(p.name for p in out.rglob("*")) == ["_work", "lock"]  # no build.json, no shard


def test_import_score_and_export_into_a_locked_folder_are_refused(tmp_path, holder, capsys):
    built, corpus = tmp_path / "built", tmp_path / "cv"
    build(SOURCE, built, config.load("default"), progress=False)
    commonvoice_folder(corpus, n=2)
    pid = holder(Layout(built).lock, built)
    before = {p: p.stat().st_mtime_ns for p in built.rglob("*") if p.is_file()}
    # score: DIR/scores/ and the review queue are the build's; refused before any model loads
    assert main(["score", str(built), "--model", str(tmp_path / "no-such-model")]) == 2
    err = capsys.readouterr().err
    assert f"PID {pid}" in err and "no-such-model" not in err
    # import into a folder another build holds
    assert main(["import", str(corpus), "--format", "commonvoice", "--out", str(built), "--quiet"]) == 2
    (said,) = capsys.readouterr().err.strip().splitlines()
    assert f"PID {pid}" in said
    assert not Layout(built).import_work.exists()
    # a rebuild of it
    assert main(["build", "--source", str(SOURCE), "--out", str(built), "--quiet"]) == 2
    (said,) = capsys.readouterr().err.strip().splitlines()
    assert f"PID {pid}" in said
    assert {p: p.stat().st_mtime_ns for p in built.rglob("*") if p.is_file()} == before
    # the review server's verdicts go on beside it (they have their own lock, on verdicts.jsonl)
    with review_server(built, reviewer="ann") as server:
        item = json.loads(request(server, "GET", "/api/item/0"))
        body = {"position": 0, "check": item["check"], "verdict": "right", "reviewer": "ann"}
        request(server, "POST", "/api/verdict", json.dumps(body).encode())
    assert json.loads(Layout(built).verdicts.read_text().splitlines()[-1])["verdict"] == "right"

    # export: its --out is locked while an export writes it; refused, and no file of ours is left
    dest = tmp_path / "exported"
    pid = holder(dest / EXPORT_LOCK, dest)
    assert main(["export", str(built), "--format", "nemo", "--out", str(dest)]) == 2
    assert f"PID {pid}" in capsys.readouterr().err
    assert [p.name for p in dest.iterdir()] == [EXPORT_LOCK]

    # reading stays open: stats, and an export out of the locked build into a free folder
    assert main(["stats", str(built)]) == 0
    assert main(["export", str(built), "--format", "nemo", "--out", str(tmp_path / "free")]) == 0
    assert not (tmp_path / "free" / EXPORT_LOCK).exists()


def test_a_sigkilled_holder_leaves_no_stale_lock(tmp_path):
    preset = tmp_path / "chunks2.toml"
    preset.write_text("[read]\nchunk_size = 2\n")
    out = tmp_path / "out"
    cmd = build_cmd(out, "--pipeline", str(preset))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(Layout(out).chunk_marker(0).parent.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not Layout(out).stats.exists(), "the build finished before it was killed"
    assert Layout(out).lock.read_text().strip() == str(proc.pid)  # the file stays; its lock went with the holder
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming" in rerun.stderr and "in use" not in rerun.stderr
    assert check_accounting(out, SOURCE) == []


def test_one_process_may_nest_holds_of_one_lock(tmp_path):
    """`wsdata import` holds OUT while it stages, then builds it (orchestrate.build holds it too)."""
    path = tmp_path / "out" / "_work" / "lock"
    with lock.hold(path, tmp_path / "out"), lock.hold(path, tmp_path / "out"):
        assert path.read_text().strip() == str(os.getpid())
        refused = []  # a second build from another thread of this process is refused as well

        def other_thread() -> None:
            try:
                build(SOURCE, tmp_path / "out", config.load("default"), progress=False)
            except lock.FolderBusy as e:
                refused.append(str(e))

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(refused) == 1 and f"PID {os.getpid()}" in refused[0]
    probe = subprocess.run(  # released: another process takes it at once
        [
            sys.executable,
            "-c",
            f"from pathlib import Path; from wsdata import lock\nwith lock.hold(Path({str(path)!r}), Path('.')): pass",
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
