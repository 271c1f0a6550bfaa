"""`wsdata export`: a real build as NeMo manifests, lhotse manifests and webdataset tars; each read
back by its own rules (NeMo's documented fields, lhotse itself, tar members), and export -> import
giving the same segments, text and audio samples."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import SOURCE, all_rows
from wsdata import config
from wsdata.cli import main
from wsdata.io.audio import decode_flac
from wsdata.orchestrate import build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "out"
    build(SOURCE, out, config.load("default"), progress=False)
    return out


def _speech(out: Path) -> list[dict]:
    return [r for r in all_rows(out)[0] if not r["no_speech"]]


def _export(built: Path, fmt: str, dest: Path, *more: str) -> Path:
    assert main(["export", str(built), "--format", fmt, "--out", str(dest), *more]) == 0
    return dest


def _same_segments(a: list[dict], b: list[dict]) -> None:
    """The same (text, language, task, samples) multiset: ids differ by design (a file's name)."""

    def key(r: dict) -> tuple:
        return (r["text"], r["language"], r["task"], decode_flac(r["audio"]["bytes"]).tobytes())

    assert Counter(map(key, a)) == Counter(map(key, b))


def test_nemo_manifests_hold_nemos_fields_and_import_back(built, tmp_path):
    dest = _export(built, "nemo", tmp_path / "nemo", "--speech-only")
    lines = [
        json.loads(x) for s in ("train", "validation") for x in (dest / f"{s}_manifest.json").read_text().splitlines()
    ]
    assert len(lines) == len(_speech(built))
    for rec in lines:  # NeMo's documented fields and types; audio paths relative to the manifest
        assert isinstance(rec["audio_filepath"], str) and (dest / rec["audio_filepath"]).is_file()
        assert isinstance(rec["duration"], float) and 0 < rec["duration"] <= 30
        assert isinstance(rec["text"], str) and rec["text"] and isinstance(rec["lang"], str)
        samples = decode_flac((dest / rec["audio_filepath"]).read_bytes())
        assert rec["duration"] == len(samples) / 16000
    back = tmp_path / "back"
    for split in ("train", "validation"):
        out = back / split
        flags = ["--no-dedup", "--no-text-filters", "--quiet"]
        assert main(["import", str(dest / f"{split}_manifest.json"), "--out", str(out), *flags]) == 0
    _same_segments(_speech(built), _speech(back / "train") + _speech(back / "validation"))
    assert all(r["source"] for r in _speech(back / "train"))


def test_lhotse_loads_the_export_and_it_imports_back(built, tmp_path):
    lhotse = pytest.importorskip("lhotse", reason="the interop extra (lhotse) is not installed")
    dest = _export(built, "lhotse", tmp_path / "lh", "--speech-only")
    cuts = lhotse.CutSet.from_file(dest / "train_cuts.jsonl.gz")
    rows = {r["text"]: r for r in _speech(built)}
    for cut in cuts:
        (sup,) = cut.supervisions
        want = decode_flac(rows[sup.text]["audio"]["bytes"])
        assert cut.sampling_rate == 16000 and cut.num_samples == len(want)
        assert (abs(cut.load_audio()[0] * 32768 - want) < 1).all()  # lhotse reads the same samples
        assert sup.language == rows[sup.text]["language"]
    back = tmp_path / "back"
    files = [str(dest / f"{s}_cuts.jsonl.gz") for s in ("train", "validation")]
    assert main(["import", *files, "--out", str(back), "--no-dedup", "--no-text-filters", "--quiet"]) == 0
    _same_segments(_speech(built), _speech(back))


def test_webdataset_tars_pair_flac_and_json(built, tmp_path):
    dest = _export(built, "webdataset", tmp_path / "wd")
    members: dict[str, dict[str, bytes]] = {}
    for tar in sorted(dest.glob("*.tar")):
        with tarfile.open(tar) as t:
            for m in t.getmembers():
                key, ext = m.name.split(".", 1)  # webdataset's rule: the key ends at the first dot
                members.setdefault(key, {})[ext] = t.extractfile(m).read()
    data = {r["id"]: r for r in all_rows(built)[0]}
    assert len(members) == len(data)
    for parts in members.values():
        meta = json.loads(parts["json"])
        row = data[meta["id"]]
        assert parts["flac"] == row["audio"]["bytes"] and meta["text"] == row["text"]
        assert meta["timestamps"] == row["timestamps"] and meta["no_speech"] == row["no_speech"]


def test_export_refuses_a_non_build_and_a_full_folder(built, tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "nemo", "--out", str(tmp_path / "x")]) == 2
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("keep me")
    assert main(["export", str(built), "--format", "nemo", "--out", str(full)]) == 2
    assert (full / "mine.txt").read_text() == "keep me"
    err = capsys.readouterr().err
    assert "not a finished wsdata build" in err and "not empty" in err
