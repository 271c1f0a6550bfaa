"""The trainer on CPU with a tiny random Whisper: loss falls on a real corpus, real segments are
overfit until greedy decoding reproduces them, resume is exact, two-process DDP (gloo) runs, and
the run's model works for audio language ID and the transcribe/evaluate commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")
from safetensors.torch import load_file

from tests.helpers import SOURCE, TINY, speech_rows, train_args
from wsdata import config
from wsdata.cli import main
from wsdata.orchestrate import build
from wsdata.train.loop import TrainArgs, train

pytestmark = [pytest.mark.slow, pytest.mark.model]


def args(data: Path, out: Path, **kw) -> TrainArgs:
    return train_args(data, out, **kw)


def log(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    build(SOURCE, out, config.load("default"), progress=False)
    return out


@pytest.fixture(scope="module")
def prompts(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Four real English prompts as one-segment documents."""
    d = tmp_path_factory.mktemp("prompts")
    rows = [r for r in speech_rows() if r["lang"] == "en" and r["has_audio"] == "1"][:4]
    audio = Path(__file__).resolve().parent.parent / "data" / "speech" / "en"
    (d / "crawl.jsonl").write_text(
        "".join(
            json.dumps({"id": f"p{i}", "audio": str(audio / f"{r['key']}.flac"), "text": r["text"], "language": "en"})
            + "\n"
            for i, r in enumerate(rows)
        )
    )
    build(d / "crawl.jsonl", d / "out", config.from_dict({"write": {"validation_fraction": 0.0}}), progress=False)
    # An overfit test scores the training segments themselves: say so by copying them as validation
    # (the trainer never scores training shards as validation on its own).
    shutil.copy(d / "out" / "data" / "train-00000.parquet", d / "out" / "data" / "validation-00000.parquet")
    return d / "out", [dict(r, path=str(audio / f"{r['key']}.flac")) for r in rows]


def test_loss_falls_on_a_real_corpus(corpus, tmp_path):
    last = train(args(corpus, tmp_path / "run"))
    losses = [x["loss"] for x in log(tmp_path / "run")]
    assert len(losses) == 12 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.2
    assert last["lr"] == pytest.approx(1e-3 / 10) and (tmp_path / "run" / "model" / "model.safetensors").is_file()
    assert set(last) >= {"loss", "lr", "grad_norm", "samples_per_s", "audio_hours_per_s", "val_loss", "val_wer"}


def test_overfit_real_segments_until_greedy_reproduces_them(prompts, tmp_path, capsys):
    data, rows = prompts
    run = tmp_path / "run"
    last = train(
        args(
            data,
            run,
            steps=150,
            batch_size=4,
            micro_batch_size=4,
            lr=3e-3,
            warmup=10,
            p_prev=0.0,
            p_timestamps=0.0,
            shuffle_buffer=4,
            eval_every=150,
        )
    )
    assert last["val_wer"] == 0.0
    # The CLI on the original files (decoded again from 8 kHz FLAC): the exact texts.
    assert main(["transcribe", "--model", str(run), *[r["path"] for r in rows]]) == 0
    got = dict(line.split("\t", 1) for line in capsys.readouterr().out.strip().splitlines())
    assert [got[r["path"]] for r in rows] == [r["text"] for r in rows]
    assert main(["transcribe", "--model", str(run), "--language", "en", rows[0]["path"]]) == 0  # given, not detected
    assert capsys.readouterr().out.strip() == f"{rows[0]['path']}\t{rows[0]['text']}"
    assert main(["evaluate", "--model", str(run), "--data", str(data)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["val_wer"] == 0.0
    # The run's model is a Hugging Face Whisper folder that the build's audio LID loads.
    from wsdata.lid.audio import load_audio_lid

    lid = load_audio_lid(str(run / "model"), "cpu")
    assert lid.kind == "transformers" and len(lid.probs([torch.zeros(16000).numpy()])[0]) == 99
    # Fine-tuning it (--init, its own tokenizer, the fine-tuning learning rate) starts from what it learnt.
    ft = tmp_path / "ft"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--out",
                str(ft),
                "--init",
                str(run / "model"),
                "--steps",
                "2",
                "--batch-size",
                "4",
                "--micro-batch-size",
                "4",
                "--workers",
                "0",
                "--warmup",
                "2",
                "--p-prev",
                "0",
                "--p-timestamps",
                "0",
                "--eval-every",
                "0",
                "--eval-batches",
                "1",
            ]
        )
        == 0
    )
    steps = log(ft)
    assert steps[0]["lr"] == pytest.approx(1e-5 / 2) and steps[0]["loss"] < 0.1 and steps[-1]["val_wer"] == 0.0


def test_bad_arguments_give_one_line_and_exit_2(corpus, tmp_path, capsys):
    assert main(["train", "--data", str(corpus), "--out", str(tmp_path / "r"), "--p-prev", "1.5"]) == 2
    assert capsys.readouterr().err.strip() == "wsdata train: --p-prev 1.5: must be in [0, 1]"
    assert main(["train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "r"), "--tiny-dims", TINY]) == 2
    assert "no train shards" in capsys.readouterr().err
    assert main(["train", "--data", str(corpus), "--out", str(tmp_path / "r"), "--init", str(tmp_path)]) == 2
    assert "no tokenizer.json" in capsys.readouterr().err
    assert main(["transcribe", "--model", str(tmp_path / "none"), "x.wav"]) == 2
    assert "none: no such file or folder" in capsys.readouterr().err  # never a hub lookup
    assert main(["train", "--data", str(corpus), "--out", str(tmp_path / "r"), "--resume", "--tiny-dims", TINY]) == 2
    assert "has no checkpoint" in capsys.readouterr().err  # not a silent run from scratch
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "log.jsonl").write_text("{}\n")
    assert main(["train", "--data", str(corpus), "--out", str(tmp_path / "old"), "--tiny-dims", TINY]) == 2
    assert "holds a run (log.jsonl): --resume to continue it, --overwrite" in capsys.readouterr().err
    assert (tmp_path / "old" / "log.jsonl").read_text() == "{}\n"  # untouched
    if not torch.cuda.is_available():
        assert main(["train", "--data", str(corpus), "--out", str(tmp_path / "r"), "--device", "cuda"]) == 2
        assert "torch sees no CUDA device" in capsys.readouterr().err


def test_twenty_steps_equal_ten_resume_ten(corpus, tmp_path):
    a = args(corpus, tmp_path / "once", steps=20, workers=2, save_every=5)
    train(a)
    train(args(corpus, tmp_path / "twice", steps=20, workers=2, save_every=5, stop_at=10))
    assert not (tmp_path / "twice" / "model").exists()  # stopped, with a checkpoint
    assert sorted(p.name for p in (tmp_path / "twice" / "checkpoints").iterdir()) == [
        "latest",
        "step-0000005.pt",
        "step-0000010.pt",
    ]
    with pytest.raises(ValueError, match="--resume with --workers 1, but the checkpoint was written with 2"):
        train(args(corpus, tmp_path / "twice", steps=20, workers=1, save_every=5, resume=True))
    train(args(corpus, tmp_path / "twice", steps=20, workers=2, save_every=5, resume=True))
    assert sorted(p.name for p in (tmp_path / "twice" / "checkpoints").iterdir()) == [
        "latest",
        "step-0000015.pt",
        "step-0000020.pt",
    ]
    w1 = load_file(tmp_path / "once" / "model" / "model.safetensors")
    w2 = load_file(tmp_path / "twice" / "model" / "model.safetensors")
    assert w1.keys() == w2.keys() and all(torch.equal(w1[k], w2[k]) for k in w1)
    l1, l2 = log(tmp_path / "once"), log(tmp_path / "twice")
    assert [x["loss"] for x in l1] == [x["loss"] for x in l2]


def test_two_process_ddp_on_cpu(corpus, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    run = tmp_path / "ddp"
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "wsdata.cli",
        "train",
        "--data",
        str(corpus),
        "--out",
        str(run),
        "--model",
        "tiny",
        "--tiny-dims",
        TINY,
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--micro-batch-size",
        "2",
        "--workers",
        "0",
        "--eval-every",
        "0",
        "--eval-batches",
        "2",
        "--lr",
        "0.001",
        "--warmup",
        "1",
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = log(run)
    assert [x["step"] for x in steps] == [1, 2, 3] and steps[-1]["val_loss"] > 0 and 0 <= steps[-1]["val_wer"]
    state = torch.load(run / "checkpoints" / (run / "checkpoints" / "latest").read_text(), weights_only=True)
    assert state["batches"] == [3, 3]  # each rank: 3 updates x 1 micro batch (4 = 2 per rank x 2 ranks)


def test_gradient_checkpointing_gives_the_same_updates(corpus, tmp_path):
    train(args(corpus, tmp_path / "plain", steps=3))
    train(args(corpus, tmp_path / "ckpt", steps=3, grad_checkpointing=True))
    assert [x["loss"] for x in log(tmp_path / "plain")] == pytest.approx(
        [x["loss"] for x in log(tmp_path / "ckpt")], abs=1e-5
    )


def test_no_validation_is_said_and_never_faked(prompts, corpus, tmp_path):
    crawl = prompts[0].parent / "crawl.jsonl"
    data = tmp_path / "noval"
    build(crawl, data, config.from_dict({"write": {"validation_fraction": 0.0}}), progress=False)
    with pytest.warns(UserWarning, match="no validation shards"):
        last = train(args(data, tmp_path / "r1", steps=2, eval_every=1))
    assert "val_loss" not in last and all("val_loss" not in x for x in log(tmp_path / "r1"))  # train data is not scored
    last = train(args(corpus, tmp_path / "r2", steps=2, eval_every=1, eval_batches=0))  # evaluation off
    assert "val_loss" not in last
