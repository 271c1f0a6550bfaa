"""The one atomic writer: a file appears whole under its name or not at all."""

from __future__ import annotations

import os

import pytest

from wsdata.io import atomic


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    path = tmp_path / "sub" / "f.json"
    with pytest.raises(RuntimeError), atomic.atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert not path.exists() and list((tmp_path / "sub").iterdir()) == []


def test_rewrite_replaces_whole_and_folders_too(tmp_path):
    path = tmp_path / "f.json"
    atomic.write_json(path, {"a": 1})
    atomic.write_json(path, {"a": "é"})
    assert path.read_text(encoding="utf-8") == '{\n "a": "é"\n}' and not list(tmp_path.glob("*.tmp"))
    folder = tmp_path / "model"
    with atomic.atomic_path(folder) as tmp:
        tmp.mkdir()
        (tmp / "w.bin").write_bytes(b"x")
    assert (folder / "w.bin").read_bytes() == b"x"


def test_unique_temporary_names_for_shared_files(tmp_path):
    path = tmp_path / "cache.npz"
    assert atomic.tmp_path(path).name == "cache.npz.tmp"
    assert atomic.tmp_path(path, unique=True).name == f"cache.npz.{os.getpid()}.tmp"
