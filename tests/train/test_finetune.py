"""A short version of bench/finetune.py's loop on tests/data: the PyPI whisper-base (CTranslate2)
as `--init`, fine-tuned decoder-only on the prompts (5 languages) built into shards, checked on the
prompts held out by key in every language. The held-out loss falls, the encoder is untouched, and
the run loads in `transcribe`."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")

from bench.finetune import crawl
from tests.helpers import SPEECH, speech_rows
from wsdata.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.model]


def _with_folder(crawl_file) -> str:
    """The crawl's lines with its folder in the ids and paths, so that several crawls make one."""
    out = []
    for line in crawl_file.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        d["id"] = f"{crawl_file.parent.name}-{d['id']}"
        d["audio"], d["transcript"] = (str(crawl_file.parent / d[k]) for k in ("audio", "transcript"))
        out.append(json.dumps(d) + "\n")
    return "".join(out)


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_fine_tune_from_a_ctranslate2_folder_lowers_the_held_out_loss(whisper_base, tmp_path, capsys):
    rows = [r for r in speech_rows() if r["has_audio"] == "1"]
    keys = sorted({r["key"] for r in rows})
    held_keys = set(keys[:2])  # held out in every language: no prompt is on both sides
    held = [r for r in rows if r["key"] in held_keys]
    train = [r for r in rows if r["key"] not in held_keys]
    for name, part in (("train", train), ("held", held)):
        srcs = []
        for lang in sorted({r["lang"] for r in part}):
            mine = [r for r in part if r["lang"] == lang]
            split = "validation" if name == "held" else "train"  # evaluate reads the validation split
            srcs.append(crawl(mine, SPEECH, lang, tmp_path / f"crawl-{name}-{lang}", per_doc=2, split=split))
        src = tmp_path / f"{name}.jsonl"
        src.write_text("".join(_with_folder(s) for s in srcs), encoding="utf-8")
        assert main(["build", "--source", str(src), "--out", str(tmp_path / name), "--quiet"]) == 0
    capsys.readouterr()
    evaluate = ["evaluate", "--data", str(tmp_path / "held"), "--batches", "100"]
    assert main([*evaluate, "--model", whisper_base]) == 0
    before = _last_json(capsys)
    run = tmp_path / "run"
    args = ["train", "--data", str(tmp_path / "train"), "--out", str(run), "--init", whisper_base,
            "--freeze-encoder", "--steps", "6", "--batch-size", "4", "--micro-batch-size", "4", "--lr", "1e-5",
            "--warmup", "1", "--workers", "0", "--eval-every", "0", "--eval-batches", "1", "--save-every", "0",
            "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    assert [p.name[:29] for p in (run / "init").iterdir()] == ["whisper-base-ct2-ctranslate2-"]  # in the run
    assert main([*evaluate, "--model", str(run)]) == 0
    after = _last_json(capsys)
    assert after["val_loss"] < before["val_loss"], (before, after)
    with capsys.disabled():
        print(f"held-out loss {before['val_loss']:.3f} -> {after['val_loss']:.3f}")
    # Decoder only: the encoder's weights are the checkpoint's.
    from transformers import WhisperForConditionalGeneration

    init = WhisperForConditionalGeneration.from_pretrained(next((run / "init").iterdir()))
    tuned = WhisperForConditionalGeneration.from_pretrained(run / "model")
    a, b = init.state_dict(), tuned.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if ".encoder." in k)
    assert not all(torch.equal(a[k], b[k]) for k in a if ".decoder.layers." in k)
    # The run's model captions a held-out prompt.
    clip = SPEECH / held[0]["lang"] / f"{held[0]['key']}.flac"
    assert main(["transcribe", "--model", str(run), "--language", held[0]["lang"], str(clip)]) == 0
    assert len(capsys.readouterr().out.split("\t")[1].strip()) > 5
