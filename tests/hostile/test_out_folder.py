"""The output folder is the build's own: a folder of the user's is refused, and a rerun deletes
only the temporaries the build itself left (a user's `thesis.tmp` beside a build survives)."""

from __future__ import annotations

import pytest

from tests.helpers import SOURCE
from wsdata import config
from wsdata.errors import BuildError
from wsdata.layout import Layout
from wsdata.orchestrate import prepare_out

CFG = config.BuildConfig()


def test_a_non_empty_folder_that_is_no_build_is_refused(tmp_path):
    (tmp_path / "project").mkdir()
    thesis = tmp_path / "project" / "thesis.tmp"
    thesis.write_text("three years of work")
    with pytest.raises(BuildError, match="not empty and holds no wsdata build"):
        prepare_out(tmp_path / "project", SOURCE, CFG)
    assert thesis.read_text() == "three years of work"
    with pytest.raises(BuildError, match="is a file"):
        prepare_out(thesis, SOURCE, CFG)
    prepare_out(tmp_path / "empty", SOURCE, CFG)  # new or empty folders are fine
    assert Layout(tmp_path / "empty").build_ident.is_file()


def test_a_rerun_removes_only_its_own_temporaries(tmp_path):
    out = tmp_path / "out"
    layout = Layout(out)
    prepare_out(out, SOURCE, CFG)
    ours = [
        layout.chunk_marker(3).with_name("00003.json.tmp"),
        layout.dedup / "sig" / "00001.parquet.4242.tmp",
        layout.data / "train-00002.parquet.tmp",
        out / "stats.json.tmp",
    ]
    mine = [out / "notes.tmp", out / "my" / "draft.tmp"]
    for p in ours + mine:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    prepare_out(out, SOURCE, CFG)  # the rerun
    assert [p.exists() for p in ours] == [False] * len(ours)
    assert [p.exists() for p in mine] == [True] * len(mine)
