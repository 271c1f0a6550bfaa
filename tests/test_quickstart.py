"""docs/quickstart.md, run as written: its `wsdata` commands and its Python snippet, in order, in a
fresh folder (the training command on a tinier model; the browser review is tested elsewhere)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TINY

pytestmark = [pytest.mark.slow, pytest.mark.model]
ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "quickstart.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def commands() -> list[list[str]]:
    """The doc's `wsdata` command lines (continuations joined, comments dropped)."""
    out = []
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("wsdata "):
                out.append(shlex.split(line))
    return out


def test_the_quickstart_runs_as_written(tmp_path, whisper_base):
    pytest.importorskip("torch", reason="the train extra is not installed")
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "whisper-base-ct2").symlink_to(whisper_base)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "2"}
    cmds = commands()
    assert [c[1] for c in cmds] == ["build", "stats", "review", "review", "review", "train", "transcribe"]
    for cmd in cmds:
        if "--web" in cmd:
            continue  # a server: tests/review/test_web*.py
        if cmd[1] == "train":
            cmd = [*cmd, "--tiny-dims", TINY]
        stdin = "y\nq\n" if cmd[1] == "review" and len(cmd) == 3 else None  # one verdict, then stop
        proc = subprocess.run(
            cmd, cwd=tmp_path, env=env, input=stdin, capture_output=True, text=True, timeout=900, check=False
        )
        assert proc.returncode == 0, (cmd, proc.stderr[-2000:])
    assert (tmp_path / "build" / "quick" / "review" / "verdicts.jsonl").read_text().count("\n") == 1
    assert (tmp_path / "runs" / "quick" / "model" / "config.json").is_file()
    (snippet,) = blocks("python")
    proc = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0 and "(" in proc.stdout, proc.stderr[-2000:]
