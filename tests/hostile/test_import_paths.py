"""Every importer's path field stays inside the corpus's folder: a Common Voice `path`, a NeMo
`audio_filepath`, a lhotse `file` source and a Hugging Face path column that lead out of it (`..`,
an absolute path, a link, file://) are `pair.path_outside_roots` rejects, never training data,
unless the user widens `limits.allowed_roots`. A NUL byte or an over-long name is a reject of its
record too (not `pair.internal_error`, not a stopped import), and the rest of the corpus is kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import SPEECH, all_rows, commonvoice_folder, lhotse_cut, write_jsonl
from wsdata.cli import main
from wsdata.layout import Layout
from wsdata.verify import check_accounting

pytestmark = pytest.mark.slow

CLIP = SPEECH / "en" / "agent-incorrect.flac"
TEXT = "Login incorrect. Please enter your agent number."
LONG_NAME = "n" * 300 + ".flac"  # one name over NAME_MAX (255 bytes)
DEEP_PATH = "d/" * 2100 + "x.flac"  # short names, 4,206 bytes in all: over PATH_MAX


def _outside(tmp_path: Path) -> Path:
    """Real speech outside the corpus: kept if it were read."""
    (tmp_path / "outside").mkdir(exist_ok=True)
    return Path(shutil.copy(CLIP, tmp_path / "outside" / "secret.flac"))


def _import(corpus: Path, out: Path, *extra: str) -> dict[str, str]:
    """Import `corpus` (exit 0 expected); {doc id: reason} of its document rejects."""
    assert main(["import", str(corpus), "--out", str(out), "--quiet", "--no-dedup", "--no-text-filters", *extra]) == 0
    assert check_accounting(out, Layout(out).import_work / "crawl.jsonl") == []
    stats = json.loads(Layout(out).stats.read_text(encoding="utf-8"))
    assert not any(r.endswith("internal_error") for r in stats["documents"]["rejected_by_reason"])
    _, rejects = all_rows(out)
    return {r["doc_id"]: r["reason"] for r in rejects if r["segment_id"] is None}


def _kept(out: Path) -> set[str]:
    data, _ = all_rows(out)
    return {r["doc_id"] for r in data}


def test_common_voice_paths_stay_in_the_folder_unless_the_roots_are_widened(tmp_path, capsys):
    secret = _outside(tmp_path)
    cv = tmp_path / "cv"
    rows = commonvoice_folder(cv, "en", 2)
    (cv / "clips" / "link.flac").symlink_to(secret)
    hostile = {
        "dotdot": "../../outside/secret.flac",
        "absolute": str(secret),
        "link": "link.flac",
        "nul": "a\0b.flac",
        "long": LONG_NAME,
        "deep": DEEP_PATH,
    }
    with open(cv / "validated.tsv", "a", encoding="utf-8") as f:
        f.writelines(f"spk\t{path}\t{TEXT}\t2\t0\t\t\t\t\ten\t\n" for path in hostile.values())
    out = tmp_path / "out"
    reasons = _import(cv, out)
    good = {Path(r["path"]).stem for r in rows}
    assert _kept(out) == good
    by_path = {name: reasons.get(Path(p).stem) for name, p in hostile.items() if name not in ("nul", "deep")}
    assert by_path == {
        "dotdot": "pair.path_outside_roots",
        "absolute": "pair.path_outside_roots",
        "link": "pair.path_outside_roots",
        "long": "pair.audio_unreadable",
    }
    assert reasons["x"] == "pair.audio_unreadable"  # the deep path: ENAMETOOLONG, as a reject
    assert sorted(v for k, v in reasons.items() if k.startswith("validated.tsv-line-")) == ["read.invalid_field"]
    assert "limits.allowed_roots" in capsys.readouterr().err  # says how to allow them

    wide = tmp_path / "wide"
    roots = json.dumps([str(cv), str(secret.parent)])
    _import(cv, wide, "--set", f"limits.allowed_roots={roots}")
    assert _kept(wide) == good | {"secret", "link"}  # the user's roots: read


def test_nemo_paths_and_spans_stay_in_the_manifest_folder(tmp_path):
    secret = _outside(tmp_path)
    corpus = tmp_path / "corpus"
    shutil.copy(CLIP, corpus.mkdir() or corpus / "ok.flac")
    span = {"offset": 0.5, "duration": 2.0}
    lines = [
        {"audio_filepath": "ok.flac", "duration": 5.155, "text": TEXT},
        {"audio_filepath": "../outside/secret.flac", "text": TEXT},
        {"audio_filepath": str(secret), "text": TEXT, **span},  # a span is checked before it is decoded
        {"audio_filepath": f"file://{secret}", "text": TEXT},
        {"audio_filepath": f"local://{secret}", "text": TEXT},  # fsspec's local files: not a remote scheme
        {"audio_filepath": "a\0b.flac", "text": TEXT, **span},
        {"audio_filepath": LONG_NAME, "text": TEXT, **span},
    ]
    manifest = write_jsonl(corpus / "train_manifest.json", lines)
    out = tmp_path / "out"
    reasons = _import(manifest, out)
    assert _kept(out) == {"ok"}
    assert reasons == {
        "secret": "pair.path_outside_roots",
        "secret-500": "pair.path_outside_roots",
        "secret-line-4": "pair.path_outside_roots",
        "secret-line-5": "read.invalid_field",
        f"{manifest.name}-line-6-500": "read.invalid_field",
        f"{Path(LONG_NAME).stem}-500": "pair.audio_unreadable",
    }


def test_lhotse_file_sources_stay_in_the_manifest_folder(tmp_path):
    secret = _outside(tmp_path)
    corpus = tmp_path / "corpus"
    shutil.copy(CLIP, corpus.mkdir() or corpus / "ok.flac")
    cuts = [
        lhotse_cut("ok", "ok.flac"),
        lhotse_cut("dotdot", "../outside/secret.flac"),
        lhotse_cut("absolute-window", str(secret), 1.0, 2.0),
        lhotse_cut("nul-window", "a\0b.flac", 1.0, 2.0),
        lhotse_cut("long-window", LONG_NAME, 1.0, 2.0),
    ]
    out = tmp_path / "out"
    reasons = _import(write_jsonl(corpus / "cuts.jsonl", cuts), out)
    assert _kept(out) == {"ok"}
    assert reasons == {
        "dotdot": "pair.path_outside_roots",
        "absolute-window": "pair.path_outside_roots",
        "nul-window": "read.invalid_field",
        "long-window": "pair.audio_unreadable",
    }


def test_hugging_face_path_columns_stay_in_the_dataset_folder(tmp_path):
    datasets = pytest.importorskip("datasets", reason="the interop extra (datasets) is not installed")
    secret = _outside(tmp_path)
    folder = tmp_path / "hf"
    folder.mkdir()
    shutil.copy(CLIP, folder / "ok.flac")
    audio = [
        {"bytes": None, "path": "ok.flac"},  # relative to the dataset's folder
        {"bytes": None, "path": "../outside/secret.flac"},
        {"bytes": None, "path": str(secret)},
        {"bytes": None, "path": "a\0b.flac"},
        {"bytes": None, "path": LONG_NAME},
        {"bytes": CLIP.read_bytes(), "path": "x\0" + "e" * 300},  # bytes: the path only names a type
    ]
    ids = ["ok", "dotdot", "absolute", "nul", "long", "bytes"]
    # A struct of bytes and path, as an Audio column stores it (without the type: `datasets` would
    # stat each path while saving).
    datasets.Dataset.from_dict({"id": ids, "audio": audio, "sentence": [TEXT] * len(ids)}).save_to_disk(str(folder))
    out = tmp_path / "out"
    reasons = _import(folder, out)
    assert _kept(out) == {"ok", "bytes"}
    assert reasons == {
        "dotdot": "pair.path_outside_roots",
        "absolute": "pair.path_outside_roots",
        "nul": "read.invalid_field",
        "long": "pair.audio_unreadable",
    }
