"""A run folder, a model folder and training shards from someone else are data, never code.

`--resume` loads only a checkpoint inside RUN/checkpoints/, with weights_only=True: a pickled
payload never runs, and is refused in one line. A bad row in a shard (garbage FLAC, no text, odd
types) is skipped and counted, never the end of a run. `--data A:inf` and a config.json that is no
JSON object are one line and exit 2.
"""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")

from tests.helpers import TINY, train_args
from wsdata.cli import main
from wsdata.io.audio import encode_flac
from wsdata.train.data import ShardStream
from wsdata.train.loop import train
from wsdata.vocab import Vocab

pytestmark = pytest.mark.model

V = Vocab.bundled()


def _row(k: int, **kw: object) -> dict:
    pcm = (np.sin(np.arange(16_000) / 10) * (100 + k)).astype(np.int16)
    row = {
        "id": f"d{k}/00000",
        "audio": {"bytes": encode_flac(pcm), "path": f"d{k}.flac"},
        "text": f"row {k}",
        "timestamps": [],
        "prev_text": "",
        "language": "en",
        "task": "transcribe",
        "no_speech": False,
        "source": "s",
        "start_ms": 0,
        "end_ms": 1000,
    }
    return row | kw


BAD = {  # id -> what is wrong with the row
    "garbage-flac": {"audio": {"bytes": b"fLaC\x00\x01garbage" * 50, "path": "x.flac"}},
    "no-text": {"text": None},
    "no-audio": {"audio": None},
    "html-not-flac": {"audio": {"bytes": b"<html>not audio</html>", "path": "x.flac"}},
}


def corpus(folder: Path, good: int = 4, bad: bool = True) -> Path:
    """A build folder with one train shard of `good` tone rows, and the BAD rows between them."""
    rows = [_row(k) for k in range(good)]
    if bad:
        rows[1:1] = [_row(100 + i, id=name, **kw) for i, (name, kw) in enumerate(BAD.items())]
    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "train-00000.parquet", row_group_size=3)
    return folder


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    return rc, capsys.readouterr().err


class Payload:
    """What a hostile checkpoint pickles: unpickling it calls open(marker, "w"), creating the marker."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


def _payload_checkpoint(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {}, "step": 1, "rng": Payload(marker)}, path)
    return path


def _resume(capsys, data: Path, run: Path) -> tuple[int, str]:
    """`wsdata train --resume` with the data-stream flags of `train_args` (a resume must match them)."""
    flags = ("--tiny-dims", TINY, "--workers", "0", "--eval-batches", "0", "--batch-size", "4")
    flags += ("--micro-batch-size", "2")
    return run_cli(capsys, "train", "--data", str(data), "--out", str(run), "--resume", "--steps", "2", *flags)


def test_a_pickled_payload_in_a_run_folder_never_runs(tmp_path, capsys):
    data = corpus(tmp_path / "data", bad=False)
    run, marker = tmp_path / "run", tmp_path / "pwned"
    _payload_checkpoint(run / "checkpoints" / "step-0000001.pt", marker)
    (run / "checkpoints" / "latest").write_text("step-0000001.pt")
    rc, err = _resume(capsys, data, run)
    assert rc == 2 and not marker.exists()
    assert len(err.strip().splitlines()) == 1 and "refused: it holds a pickled object (io.open)" in err
    assert "Traceback" not in err and "weights_only=False" not in err  # never advice to unpickle it
    # the payload is live: what the trainer used to do with it creates the marker
    torch.load(run / "checkpoints" / "step-0000001.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("how", ["absolute", "dotdot", "link", "fifo", "missing", "empty"])
def test_latest_must_name_a_regular_file_inside_checkpoints(tmp_path, capsys, how):
    data = corpus(tmp_path / "data", bad=False)
    run, marker = tmp_path / "run", tmp_path / "pwned"
    ckpts = run / "checkpoints"
    ckpts.mkdir(parents=True)
    outside = _payload_checkpoint(tmp_path / "elsewhere" / "step-0000009.pt", marker)
    name, want = {
        "absolute": (str(outside), "absolute paths and .. are refused"),
        "dotdot": ("../../elsewhere/step-0000009.pt", "absolute paths and .. are refused"),
        "link": ("step-0000009.pt", "is a link that leads outside"),
        "fifo": ("step-0000009.pt", "not a regular file"),
        "missing": ("step-0000009.pt", "No such file"),
        "empty": ("\n", "not a file in"),
    }[how]
    if how == "link":
        (ckpts / name).symlink_to(outside)
    if how == "fifo":
        os.mkfifo(ckpts / name)  # opening it to read would block for ever
    (ckpts / "latest").write_text(name)
    rc, err = _resume(capsys, data, run)
    assert rc == 2 and want in err and len(err.strip().splitlines()) == 1, err
    assert not marker.exists()


def test_a_checkpoint_of_tensors_but_not_of_wsdata_is_one_line(tmp_path, capsys):
    data = corpus(tmp_path / "data", bad=False)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save([torch.zeros(3)], run / "checkpoints" / "step-0000001.pt")  # loads with weights_only=True
    (run / "checkpoints" / "latest").write_text("step-0000001.pt")
    rc, err = _resume(capsys, data, run)
    assert rc == 2 and "not a wsdata checkpoint" in err and len(err.strip().splitlines()) == 1
    (run / "checkpoints" / "step-0000001.pt").write_bytes(b"\x80\x04garbage")
    rc, err = _resume(capsys, data, run)
    assert rc == 2 and "not a loadable PyTorch checkpoint" in err and len(err.strip().splitlines()) == 1


def test_bad_rows_are_skipped_and_counted_exactly(tmp_path):
    files = [corpus(tmp_path / "c", good=4) / "data" / "train-00000.parquet"]
    with pytest.warns(UserWarning, match="skipped: ") as caught:
        items = list(ShardStream(files, V, seed=1, shuffle_buffer=2, loop=False))
    assert sorted(x["id"] for x in items) == [f"d{k}/00000" for k in range(4)]
    assert sum(x["skipped"] for x in items) == len(BAD)  # every bad row before the last sample
    said = " ".join(str(w.message) for w in caught)
    assert all(name in said for name in BAD) and "no readable 16 kHz FLAC" in said and "no text" in said


@pytest.mark.parametrize(
    "column,value,why",
    [
        ("text", None, "no text"),  # a column of nulls
        ("text", 5, "no text"),  # an int64 column
        ("language", 7, "language is not a string"),
        ("timestamps", "x", "timestamps are not a list of cues"),
        ("audio", "x.flac", "no audio bytes"),  # a string column, not {bytes, path}
        ("audio", {"bytes": None, "path": "x"}, "no audio bytes"),
    ],
)
def test_a_column_a_shard_mistypes_makes_its_rows_bad_not_the_run(tmp_path, column, value, why):
    f = tmp_path / "train-00000.parquet"
    pq.write_table(pa.Table.from_pylist([_row(k, **{column: value}) for k in range(2)]), f)
    with pytest.warns(UserWarning, match=why):
        items = list(ShardStream([f], V, loop=False))
    assert items == []


def test_a_column_a_shard_lacks_makes_its_rows_bad_not_the_run(tmp_path):
    f = tmp_path / "train-00000.parquet"
    rows = [{k: v for k, v in _row(k).items() if k != "text"} for k in range(2)]  # no text column at all
    pq.write_table(pa.Table.from_pylist([*rows]), f)
    with pytest.warns(UserWarning, match="no text"):
        assert list(ShardStream([f], V, loop=False)) == []


def test_training_goes_on_past_bad_rows_and_reports_them(tmp_path, capsys):
    data = corpus(tmp_path / "data", good=2)
    run = tmp_path / "run"
    rc = main(
        [
            "train",
            *("--data", str(data), "--out", str(run), "--tiny-dims", TINY, "--steps", "2", "--batch-size", "2"),
            *("--micro-batch-size", "2", "--workers", "0", "--eval-batches", "0", "--warmup", "1"),
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    # 4 samples of 2 good rows: the reader went through all of one epoch's bad rows at least once
    assert result["skipped_rows"] == log[-1]["skipped_rows"] >= len(BAD)
    assert f"wsdata train: {result['skipped_rows']} rows skipped" in err and "Traceback" not in err


@pytest.mark.filterwarnings("ignore:skipped")
def test_resume_past_bad_rows_is_exact_with_workers(tmp_path):
    """Two workers and an odd number of micro batches at the stop: the resumed DataLoader starts at
    worker 0, so the stream turns its workers to give the uninterrupted order; bad rows count the same."""
    data = corpus(tmp_path / "data", good=5)
    kw = {"steps": 6, "batch_size": 2, "micro_batch_size": 2, "workers": 2, "save_every": 0, "eval_batches": 0}
    once = train(train_args(data, tmp_path / "once", **kw))
    train(train_args(data, tmp_path / "twice", stop_at=3, **kw))
    twice = train(train_args(data, tmp_path / "twice", resume=True, **kw))

    def losses(run: str) -> list[float]:
        return [json.loads(x)["loss"] for x in (tmp_path / run / "log.jsonl").read_text().splitlines()]

    assert losses("once") == losses("twice") and len(losses("once")) == 6
    assert once["skipped_rows"] == twice["skipped_rows"] >= len(BAD)
    state = torch.load(tmp_path / "twice" / "checkpoints" / "step-0000006.pt", weights_only=True)
    assert state["batches"] == [6] and len(state["positions"][0]) == 2


@pytest.mark.parametrize("weight", ["inf", "-inf", "nan", "-1", "0", "abc", "1e999"])
def test_a_mixture_weight_that_is_no_finite_positive_number_is_refused(tmp_path, capsys, weight):
    data = corpus(tmp_path / "data", bad=False)
    run = tmp_path / "run"
    rc, err = run_cli(capsys, "train", "--data", f"{data}:{weight}", "--out", str(run), "--tiny-dims", TINY)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "weight" in err, err
    assert not run.exists()  # refused before training


def test_mixture_json_is_strict_json(tmp_path, capsys):
    a, b = corpus(tmp_path / "a", bad=False), corpus(tmp_path / "b", bad=False)
    train(train_args((str(a), f"{b}:0.5"), tmp_path / "run", steps=2, warmup=1, eval_batches=0))

    def no_constants(c: str) -> None:
        raise AssertionError(f"{c} in mixture.json")

    mix = json.loads((tmp_path / "run" / "mixture.json").read_text(), parse_constant=no_constants)
    assert [round(c["weight_share"], 3) for c in mix["components"]] == [0.667, 0.333]
    rc, err = run_cli(capsys, "train", "--data", str(a), "--out", str(tmp_path / "r2"), "--lr", "inf")
    assert rc == 2 and "--lr inf: must be a finite number" in err


@pytest.mark.parametrize("config", ["[]", '"x"', "{broken", "null", "[" * 100_000])
def test_a_config_json_that_is_no_object_is_one_line(tmp_path, capsys, config):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(config)
    (model / "tokenizer.json").write_text(V.json_text)
    rc, err = run_cli(capsys, "transcribe", "--model", str(model), str(tmp_path / "x.wav"))
    assert rc == 2 and "config.json" in err and len(err.strip().splitlines()) == 1, err
    # a run folder's model, for evaluate
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text(config)
    data = corpus(tmp_path / "data", bad=False)
    os.link(data / "data" / "train-00000.parquet", data / "data" / "validation-00000.parquet")
    rc, err = run_cli(capsys, "evaluate", "--model", str(run), "--data", str(data))
    assert rc == 2 and "config.json" in err and len(err.strip().splitlines()) == 1, err
    # a checkpoint to fine-tune
    rc, err = run_cli(capsys, "train", "--data", str(data), "--out", str(tmp_path / "ft"), "--init", str(model))
    assert rc == 2 and "config.json" in err and len(err.strip().splitlines()) == 1, err


def test_a_generation_config_that_is_no_object_is_one_line(tmp_path, capsys):
    from wsdata.train import model as mdl

    run = tmp_path / "run"
    dims = {k: int(v) for k, v in (x.split("=") for x in TINY.split(","))}
    mdl.save(mdl.build("tiny", None, V, **dims), V, run / "model")
    (run / "model" / "generation_config.json").write_text("[1, 2]")
    rc, err = run_cli(capsys, "transcribe", "--model", str(run), str(tmp_path / "x.wav"))
    assert rc == 2 and "generation_config.json: a JSON list, not an object" in err


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_build_whose_rows_are_all_bad_stops_in_one_line_not_a_hang(tmp_path, capsys, workers):
    data = corpus(tmp_path / "data", good=0)
    rc, err = run_cli(
        capsys,
        "train",
        *("--data", str(data), "--out", str(tmp_path / "run"), "--tiny-dims", TINY, "--steps", "2"),
        *("--batch-size", "2", "--micro-batch-size", "2", "--workers", workers, "--eval-batches", "0"),
    )
    said = [x for x in err.splitlines() if x.startswith("wsdata train:")]  # beside the progress bar
    assert rc == 2 and len(said) == 1 and said[0].startswith("wsdata train: no row of "), err
    assert "could be trained on" in said[0] and "Traceback" not in err


@pytest.mark.parametrize("name", ["log.jsonl", "args.json"])
def test_a_run_file_that_links_elsewhere_is_never_written_through(tmp_path, capsys, name):
    data = corpus(tmp_path / "data", bad=False)
    run, victim = tmp_path / "run", tmp_path / "victim.txt"
    victim.write_text("precious\n")
    train(train_args(data, run, steps=2, stop_at=1, workers=0, eval_batches=0))  # a real run, to resume
    (run / name).unlink()
    (run / name).symlink_to(victim)
    rc, err = _resume(capsys, data, run)
    assert rc == 2 and "is a link or no regular file" in err and victim.read_text() == "precious\n"


def test_evaluate_on_unreadable_rows_says_null_and_refuses_a_negative_batch_count(tmp_path, capsys):
    from wsdata.train import model as mdl

    run, data = tmp_path / "run", corpus(tmp_path / "data", good=0)
    (data / "data" / "train-00000.parquet").rename(data / "data" / "validation-00000.parquet")
    dims = {k: int(v) for k, v in (x.split("=") for x in TINY.split(","))}
    mdl.save(mdl.build("tiny", None, V, **dims), V, run / "model")
    rc, err = run_cli(capsys, "evaluate", "--model", str(run), "--data", str(data), "--batches", "-5")
    assert rc == 2 and "--batches -5: must be >= 1" in err
    with pytest.warns(UserWarning, match="skipped"):
        assert main(["evaluate", "--model", str(run), "--data", str(data)]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(out) == {"val_loss": None, "val_wer": None} and "NaN" not in out
