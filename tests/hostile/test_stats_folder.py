"""`wsdata stats DIR` on a build folder from someone else: its stats.json is read bounded, from a
regular file, and its strings are shown inert; what is no build's numbers is one line, exit 2."""

from __future__ import annotations

import json
import os

import pytest

from wsdata.cli import main


def _folder(tmp_path, text: str):
    out = tmp_path / "b"
    out.mkdir()
    (out / "stats.json").write_text(text)
    return out


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", '{"documents": 3}', "{}", '"\\ud800"'])
def test_a_stats_file_of_other_numbers_is_one_line(tmp_path, capsys, text):
    assert main(["stats", str(_folder(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_fifo_stats_file_is_never_opened(tmp_path, capsys):
    out = tmp_path / "b"
    out.mkdir()
    os.mkfifo(out / "stats.json")  # opening it to read would block forever
    assert main(["stats", str(out)]) == 2
    assert "FIFO" in capsys.readouterr().err


def test_reason_names_from_the_file_are_shown_inert(tmp_path, capsys, mini):
    built = tmp_path / "built"
    assert main(["build", "--source", str(mini / "crawl.jsonl"), "--out", str(built), "--quiet"]) == 0
    stats = json.loads((built / "stats.json").read_text())
    stats["documents"]["rejected_by_reason"]["\x1b]0;pwned\x07\x1b[2J"] = 1
    stats["funnel"][0]["step"] = "\x1b[31mred"
    (built / "stats.json").write_text(json.dumps(stats))
    capsys.readouterr()
    assert main(["stats", str(built)]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\x07" not in shown and "pwned" in shown
