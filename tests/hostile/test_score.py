"""`wsdata score` on shards it cannot trust: flags out of range are refused before anything is
written, a garbage FLAC row is skipped and counted, a shard with a corrupt Parquet footer is named
and left unscored while the others are scored, and a shard whose captions changed is scored again
(score files are keyed by the shard's SHA-256). A stand-in model answers instantly: these check the
command, not a model (tests/hostile/test_models.py runs real ones)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import SOURCE
from wsdata import config
from wsdata.agree import score as sc
from wsdata.cli import main
from wsdata.layout import Layout
from wsdata.lid.audio import LidError

pytestmark = pytest.mark.slow  # a real build of the minicorpus, once per module

SPEC = "stand-in/whisper"  # a hub-id-shaped name: the stand-in is never looked up


class StandIn:
    """A model that hears "hello world" in every clip, and counts what it was given."""

    kind = "stand-in"

    def __init__(self, fail: bool = False) -> None:
        self.clips = 0
        self.fail = fail

    def transcribe(
        self, clips: list[np.ndarray], languages: list[str], translate: list[bool] | None = None
    ) -> list[str]:
        if self.fail:
            raise LidError(f"{SPEC}: the model failed to run (RuntimeError: No position encodings)")
        assert all(c.dtype == np.float32 and 0 < len(c) <= 480_000 for c in clips)
        self.clips += len(clips)
        return ["hello world"] * len(clips)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from wsdata.orchestrate import build

    out = tmp_path_factory.mktemp("corpus") / "built"
    build(SOURCE, out, config.from_dict({"read": {"chunk_size": 3}}), progress=False)  # several shards
    assert len(_shards(out)) > 1
    return out


@pytest.fixture
def built(corpus: Path, tmp_path: Path) -> Path:
    out = tmp_path / "built"
    shutil.copytree(corpus, out)
    return out


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> StandIn:
    stand_in = StandIn()
    monkeypatch.setattr("wsdata.lid.audio.load_audio_lid", lambda spec, device="auto": stand_in)
    return stand_in


def _shards(out: Path) -> list[Path]:
    return [*Layout(out).shards("train"), *Layout(out).shards("validation")]


def _speech(shard: Path) -> int:
    return sum(not x for x in pq.read_table(shard, columns=["no_speech"])["no_speech"].to_pylist())


def _score_files(out: Path) -> list[Path]:
    return sorted(sc.scores_dir(out, SPEC).glob("*.parquet")) if sc.scores_dir(out, SPEC).is_dir() else []


def _rewrite(shard: Path, change) -> None:
    """Rewrite `shard` with `change(rows)` applied (the same schema and metadata)."""
    table = pq.read_table(shard)
    rows = table.to_pylist()
    change(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), shard)


def _first_speech(rows: list[dict]) -> dict:
    return next(r for r in rows if not r["no_speech"])


def _score(out: Path, capsys: pytest.CaptureFixture, *flags: str) -> tuple[int, list[str]]:
    rc = main(["score", str(out), "--model", SPEC, "--device", "cpu", *flags])
    return rc, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("flags", [["--batch-size", "0"], ["--batch-size", "-1"], ["--worst", "-5"]])
def test_out_of_range_flags_are_refused_and_nothing_is_written(built, model, capsys, flags):
    rc, err = _score(built, capsys, *flags)
    assert rc == 2 and len(err) == 1 and err[0].startswith(f"wsdata score: {flags[0]} {flags[1]}")
    assert _score_files(built) == [] and model.clips == 0
    # The later correct run finds nothing to reuse: every speech segment is scored.
    rc, _ = _score(built, capsys, "--quiet")
    assert rc == 0 and model.clips == sum(_speech(s) for s in _shards(built)) > 0
    assert len(_score_files(built)) == len(_shards(built))


def test_refused_flags_in_a_fresh_process(built):
    for flags in (["--batch-size", "0"], ["--worst", "-5"]):
        proc = subprocess.run(
            [sys.executable, "-m", "wsdata", "score", str(built), "--model", SPEC, *flags],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert _score_files(built) == []


def test_the_library_refuses_them_too(built):
    with pytest.raises(sc.ScoreError, match="--batch-size -1"):
        sc.score(built, StandIn(), SPEC, batch=-1)
    with pytest.raises(sc.ScoreError, match="--worst -5"):
        sc.add_worst_to_queue(built, pa.table({"id": ["x"], "wer": [1.0]}), "m", -5)
    assert _score_files(built) == []


def test_a_garbage_flac_row_is_skipped_and_counted(built, model, capsys):
    shard = next(s for s in _shards(built) if _speech(s) >= 2)
    speech = _speech(shard)

    def garbage(rows: list[dict]) -> None:
        _first_speech(rows)["audio"] = {"bytes": b"fLaC" + bytes(range(256)) * 4, "path": None}

    _rewrite(shard, garbage)
    rc, err = _score(built, capsys, "--quiet")
    assert rc == 0 and "Traceback" not in "\n".join(err)
    assert err == ["wsdata score: 1 segments not scored: audio that is not 16 kHz mono FLAC, or no caption"]
    scores = pq.read_table(sc.scores_dir(built, SPEC) / shard.name)
    assert scores.num_rows == speech - 1 and scores.schema.metadata[sc.SKIPPED] == b"1"
    # Reused on a rerun, and the count still said.
    rc, err = _score(built, capsys, "--quiet")
    assert rc == 0 and err[0].startswith("wsdata score: 1 segments not scored")


def test_a_corrupt_parquet_footer_is_named_and_the_other_shards_are_scored(built, model, capsys):
    shards = _shards(built)
    bad = shards[1]
    original = bad.read_bytes()
    bad.write_bytes(original[:-20])  # the footer's length and magic are gone
    rc, err = _score(built, capsys, "--quiet")
    assert rc == 2 and "Traceback" not in "\n".join(err)
    assert err[0].startswith(f"wsdata score: {bad.name} cannot be read as Parquet (")
    assert err[-1] == "wsdata score: 1 shards could not be read; the others are scored"
    assert [p.name for p in _score_files(built)] == sorted(s.name for s in shards if s != bad)
    # Once the shard is whole again, a rerun scores it and only it.
    bad.write_bytes(original)
    done: list[str] = []
    sc.score(built, model, SPEC, on_shard=done.append)
    assert done == [bad.name]


def test_a_shard_with_changed_captions_is_scored_again(built, model, capsys):
    assert _score(built, capsys, "--quiet")[0] == 0
    shards = _shards(built)
    changed = shards[0]

    def recaption(rows: list[dict]) -> None:
        _first_speech(rows)["text"] = "hello world"

    _rewrite(changed, recaption)
    done: list[str] = []
    sc.score(built, model, SPEC, on_shard=done.append)
    assert done == [changed.name]  # the unchanged shards' scores are reused
    rows = pq.read_table(sc.scores_dir(built, SPEC) / changed.name).to_pylist()
    assert any(r["text"] == "hello world" and r["wer"] == 0.0 for r in rows)
    # A score file with no record of what it scored (an older one) is never reused.
    old = sc.scores_dir(built, SPEC) / shards[-1].name
    pq.write_table(pq.read_table(old).replace_schema_metadata({}), old)
    done.clear()
    sc.score(built, model, SPEC, on_shard=done.append)
    assert done == [shards[-1].name]
    # The score file of a shard that is gone is removed.
    changed.unlink()
    sc.score(built, model, SPEC)
    assert not (sc.scores_dir(built, SPEC) / changed.name).exists()


def test_a_model_that_fails_mid_run_is_one_line(built, monkeypatch, capsys):
    monkeypatch.setattr("wsdata.lid.audio.load_audio_lid", lambda spec, device="auto": StandIn(fail=True))
    rc, err = _score(built, capsys, "--quiet")
    assert rc == 2 and err == [
        f"wsdata score: --model {SPEC}: the model failed to run (RuntimeError: No position encodings)"
    ]
    assert _score_files(built) == []


def test_a_corrupt_review_queue_is_one_line_and_the_scores_stand(built, model, capsys):
    Layout(built).queue.write_bytes(b"PAR1 not a queue")
    rc, err = _score(built, capsys, "--quiet")
    assert rc == 2 and len(err) == 1
    assert err[0].startswith(f"wsdata score: {Layout(built).queue}: cannot be read as the review queue (")
    assert len(_score_files(built)) == len(_shards(built))
