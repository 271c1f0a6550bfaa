"""Model folders from someone else are data: a malformed CTranslate2 `model.bin` (a variable named
`encoder/layer_`, 0 heads, a vector of heads, a truncated or garbage file), a model that loads but
fails when it runs, and broken JSON beside it (tokenizer.json, config.json, vocabulary.json,
preprocessor_config.json) are each one line and exit 2 in `build --audio-lid`, `score` and
`transcribe`: never a traceback, never a process killed by CTranslate2 (0 heads is a SIGFPE there).

Most folders are tiny hand-written model.bin files that wsdata refuses before CTranslate2 reads
them; the few that need real weights are rewritten from the real whisper-base once per module."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import EN_AUDIO, SOURCE
from wsdata.cli import main
from wsdata.lid import ct2
from wsdata.lid.audio import LidError, load_audio_lid
from wsdata.train import convert

TYPE_IDS = {np.dtype(t): i for i, t in enumerate(ct2.DTYPES) if t != "bfloat16"}


def wsdata(*args: str) -> subprocess.CompletedProcess:
    """`wsdata ARGS` in a fresh process (a traceback would show in its stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "wsdata", *args], capture_output=True, text=True, timeout=600, check=False
    )


def _string(s: str) -> bytes:
    data = s.encode() + b"\0"
    return struct.pack("<H", len(data)) + data


def write_model_bin(path: Path, variables: dict[str, np.ndarray], aliases: dict[str, str] | None = None) -> None:
    """A model.bin in CTranslate2's layout (binary version 6)."""
    out = struct.pack("<I", 6) + _string("WhisperSpec") + struct.pack("<II", 3, len(variables))
    for name, value in variables.items():
        a = np.asarray(value)
        out += _string(name) + struct.pack("<B", a.ndim) + b"".join(struct.pack("<I", d) for d in a.shape)
        out += struct.pack("<BI", TYPE_IDS[a.dtype], a.nbytes) + a.tobytes()
    aliases = aliases or {}
    out += struct.pack("<I", len(aliases)) + b"".join(_string(a) + _string(t) for a, t in aliases.items())
    path.write_bytes(out)


def tiny(**changes: np.ndarray | None) -> dict[str, np.ndarray]:
    """The four variables wsdata checks before CTranslate2 loads a folder, with `changes` (None: drop)."""
    v = {
        "encoder/conv1/weight": np.zeros((8, 80, 3), np.float32),
        "decoder/embeddings/weight": np.zeros((16, 8), np.float32),
        "encoder/num_heads": np.int16(2),
        "decoder/num_heads": np.int16(2),
    }
    for name, value in changes.items():
        name = name.replace("__", "/")
        if value is None:
            v.pop(name)
        else:
            v[name] = value
    return v


def ct2_folder(folder: Path, variables: dict[str, np.ndarray] | None = None, raw: bytes | None = None) -> str:
    folder.mkdir(parents=True)
    if raw is not None:
        (folder / "model.bin").write_bytes(raw)
    else:
        write_model_bin(folder / "model.bin", variables or tiny())
    (folder / "vocabulary.txt").write_text("a\nb\n")
    return str(folder)


def _good_bytes(tmp: Path) -> bytes:
    write_model_bin(tmp / "good.bin", tiny())
    return (tmp / "good.bin").read_bytes()


MALFORMED = {
    # name: (variables or a function of a good file's bytes, what the one line says)
    "zero_heads": (tiny(encoder__num_heads=np.int16(0)), "encoder/num_heads is 0"),
    "zero_decoder_heads": (tiny(decoder__num_heads=np.int16(0)), "decoder/num_heads is 0"),
    "vector_of_heads": (tiny(encoder__num_heads=np.array([2, 2], np.int16)), "not one integer"),
    "float_heads": (tiny(decoder__num_heads=np.float32(2.0)), "not one integer"),
    "heads_not_dividing": (tiny(encoder__num_heads=np.int16(3)), "does not divide the model width 8"),
    "no_heads": (tiny(decoder__num_heads=None), "no variable decoder/num_heads"),
    "wrong_mel_bins": (tiny(encoder__conv1__weight=np.zeros((8, 128, 3), np.float32)), "128 mel bins"),
    "truncated": (lambda good: good[: len(good) // 2], "truncated"),
    "garbage": (lambda good: bytes(range(256)) * 8, "binary version"),
    "empty": (lambda good: b"", "truncated"),
    # a byte count no file holds: refused from the header, nothing of that size allocated
    "huge_size": (
        lambda good: good.replace(struct.pack("<BI", 0, 8 * 80 * 3 * 4), struct.pack("<BI", 0, 2**32 - 1)),
        "bytes",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_model_bin_is_one_clear_error_everywhere(tmp_path, name):
    spec, says = MALFORMED[name]
    folder = tmp_path / name
    if callable(spec):
        ct2_folder(folder, raw=spec(_good_bytes(tmp_path)))
    else:
        ct2_folder(folder, spec)
    with pytest.raises(LidError, match=says):  # --audio-lid, --asr, score: before CTranslate2 reads it
        load_audio_lid(str(folder), "cpu")
    with pytest.raises(convert.ConvertError):  # transcribe, evaluate, --init: the conversion
        convert.converted(str(folder), tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_variable_named_layer_prefix_alone_is_no_layer():
    v = {"encoder/layer_": 1, "encoder/layer_0/a": 1, "encoder/layer_1/b": 1, "encoder/layer_x/c": 1}
    assert convert._count(v, "encoder/layer_") == 2


def test_ctranslate2s_own_load_error_is_one_line(tmp_path, capsys):
    """A folder that passes wsdata's checks but lacks the variables CTranslate2 needs: its IndexError
    ("variable encoder/conv2/weight not found") becomes a LidError, and the build stops at once."""
    pytest.importorskip("ctranslate2")
    folder = ct2_folder(tmp_path / "partial", tiny())
    with pytest.raises(LidError, match="CTranslate2 cannot load it .*IndexError"):
        load_audio_lid(folder, "cpu")
    assert main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--audio-lid", folder]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CTranslate2 cannot load it" in err[0]


@pytest.mark.slow
def test_malformed_model_fails_build_score_and_transcribe_from_the_command_line(tmp_path):
    """End to end, in fresh processes: 0 heads (a SIGFPE inside CTranslate2 if it ever read it)."""
    pytest.importorskip("torch", reason="transcribe needs the train extra")
    folder = ct2_folder(tmp_path / "zero", tiny(encoder__num_heads=np.int16(0)))
    built = tmp_path / "built"
    (built / "data").mkdir(parents=True)
    (built / "stats.json").write_text("{}")
    for args in (
        ["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--audio-lid", folder],
        ["score", str(built), "--model", folder, "--device", "cpu"],
        ["transcribe", "--model", folder, str(EN_AUDIO)],
    ):
        proc = wsdata(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "encoder/num_heads is 0" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# --- broken JSON in a model folder ------------------------------------------------------------------

BROKEN_JSON = {
    "empty": "",
    "list": "[]",
    "list_of_numbers": "[1, 2]",
    "broken": '{"model": ',
    "null": "null",
    "not_utf8": b"\xff\xfe{}",
}


@pytest.fixture(scope="module")
def real_files(whisper_base: str) -> Path:
    return Path(whisper_base)


def _ct2_with(tmp: Path, real: Path, name: str, content: str | bytes) -> str:
    """The real whisper-base folder (model.bin linked, not copied) with file `name` replaced."""
    tmp.mkdir(parents=True)
    (tmp / "model.bin").symlink_to(real / "model.bin")
    for f in ("vocabulary.txt", "tokenizer.json", "config.json"):
        shutil.copyfile(real / f, tmp / f)
    (tmp / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(tmp)


@pytest.mark.model
@pytest.mark.parametrize("file", ["tokenizer.json", "config.json", "vocabulary.json", "preprocessor_config.json"])
@pytest.mark.parametrize("kind", sorted(BROKEN_JSON))
def test_broken_json_beside_a_ct2_model_is_a_lid_error(tmp_path, real_files, file, kind):
    folder = _ct2_with(tmp_path / "m", real_files, file, BROKEN_JSON[kind])
    with pytest.raises(LidError, match=file.replace(".", r"\.")):  # before CTranslate2 loads the weights
        load_audio_lid(folder, "cpu")


@pytest.mark.model
def test_ct2_config_with_wrong_types_is_refused(tmp_path, real_files):
    """CTranslate2 reads these only mid-run ("type must be number, but is string")."""
    for i, cfg in enumerate(({"lang_ids": {"a": 1}}, {"suppress_ids": "x"}, {"alignment_heads": [1, 2]})):
        folder = _ct2_with(tmp_path / str(i), real_files, "config.json", json.dumps(cfg))
        with pytest.raises(LidError, match="config.json: .* is not a list"):
            load_audio_lid(folder, "cpu")


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory) -> Path:
    """A tiny random Hugging Face Whisper saved as a `wsdata train` run saves its model/."""
    pytest.importorskip("transformers")
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from wsdata.train import model as wmodel
    from wsdata.vocab import Vocab

    torch.manual_seed(0)
    vocab = Vocab.bundled()
    cfg = WhisperConfig(
        vocab_size=vocab.n_vocab,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        decoder_start_token_id=vocab.sot,
        pad_token_id=vocab.eot,
        eos_token_id=vocab.eot,
    )
    dest = tmp_path_factory.mktemp("hf") / "tiny"
    wmodel.save(WhisperForConditionalGeneration(cfg), vocab, dest)
    return dest


@pytest.mark.model
@pytest.mark.parametrize("file", ["config.json", "generation_config.json", "preprocessor_config.json"])
@pytest.mark.parametrize("kind", ["empty", "list", "broken"])
def test_broken_json_in_a_hugging_face_folder_is_a_lid_error(tmp_path, hf_folder, file, kind):
    folder = tmp_path / "m"
    shutil.copytree(hf_folder, folder)
    (folder / file).write_text(BROKEN_JSON[kind])
    with pytest.raises(LidError, match=file.replace(".", r"\.")):
        load_audio_lid(str(folder), "cpu")


@pytest.mark.model
def test_a_config_of_the_wrong_types_is_a_lid_error(tmp_path, hf_folder):
    folder = tmp_path / "m"
    shutil.copytree(hf_folder, folder)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(cfg | {"d_model": "wide", "encoder_layers": [1]}))
    with pytest.raises(LidError, match="transformers cannot load it"):
        load_audio_lid(str(folder), "cpu")


TRANSCRIBE_CASES = [
    *[(f, c) for f in ("tokenizer.json", "config.json", "generation_config.json") for c in BROKEN_JSON.values()],
    ("tokenizer.json", '{"model": 1}'),  # an object, but no tokenizer
    ("tokenizer.json", '{"added_tokens": 5}'),
]


@pytest.mark.model
@pytest.mark.parametrize("file, content", TRANSCRIBE_CASES)
def test_transcribe_with_broken_model_json_is_one_line(tmp_path, hf_folder, capsys, file, content):
    folder = tmp_path / "m"
    shutil.copytree(hf_folder, folder)
    (folder / file).write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["transcribe", "--model", str(folder), str(EN_AUDIO)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wsdata transcribe: ") and file in err[0], err


@pytest.mark.model
def test_transcribe_with_a_list_shaped_tokenizer_in_a_fresh_process(tmp_path, hf_folder):
    folder = tmp_path / "m"
    shutil.copytree(hf_folder, folder)
    (folder / "tokenizer.json").write_text("[]")
    proc = wsdata("transcribe", "--model", str(folder), str(EN_AUDIO))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"wsdata transcribe: {folder / 'tokenizer.json'}: a JSON list, not an object"


# --- real weights, rewritten ----------------------------------------------------------------------


def rewrite(src: Path, dest: Path, edit: dict[str, tuple[list[int], bytes] | None], add: dict | None = None) -> None:
    """`src` (a model.bin) copied to `dest` with variables replaced ((dims, bytes), same type) or
    dropped (None), and `add`ed ones (arrays); aliases kept."""
    meta, _ = ct2.scan(src)
    seen: dict[int, str] = {}
    variables, aliases = [], {}
    for name, var in meta.items():
        if id(var) in seen:
            aliases[name] = seen[id(var)]
            continue
        seen[id(var)] = name
        variables.append((name, var))
    with open(src, "rb") as f, open(dest, "wb") as out:
        kept = [(n, v) for n, v in variables if edit.get(n, ...) is not None]
        extra = {n: np.asarray(a) for n, a in (add or {}).items()}
        out.write(struct.pack("<I", 6) + _string("WhisperSpec") + struct.pack("<II", 3, len(kept) + len(extra)))
        for name, var in kept:
            if name in edit:
                dims, data = edit[name]
            else:
                f.seek(var.offset)
                dims, data = list(var.dims), f.read(var.nbytes)
            out.write(_string(name) + struct.pack("<B", len(dims)) + b"".join(struct.pack("<I", d) for d in dims))
            out.write(struct.pack("<BI", ct2.DTYPES.index(var.dtype), len(data)) + data)
        for name, a in extra.items():
            out.write(_string(name) + struct.pack("<B", a.ndim) + b"".join(struct.pack("<I", d) for d in a.shape))
            out.write(struct.pack("<BI", TYPE_IDS[a.dtype], a.nbytes) + a.tobytes())
        out.write(struct.pack("<I", len(aliases)) + b"".join(_string(a) + _string(t) for a, t in aliases.items()))


def _real_variant(real: Path, dest: Path, edit: dict, add: dict | None = None) -> str:
    dest.mkdir(parents=True)
    for f in ("vocabulary.txt", "tokenizer.json", "config.json"):
        shutil.copyfile(real / f, dest / f)
    rewrite(real / "model.bin", dest / "model.bin", edit, add)
    return str(dest)


def _positions(real: Path, name: str, rows: int) -> tuple[list[int], bytes]:
    """Position encodings cut to their first `rows` (float16, width 512)."""
    var = ct2.scan(real / "model.bin")[0][name]
    with open(real / "model.bin", "rb") as f:
        f.seek(var.offset)
        return [rows, var.dims[1]], f.read(rows * var.dims[1] * 2)


@pytest.mark.slow
@pytest.mark.model
def test_a_stray_layer_prefix_variable_loads_and_converts(tmp_path, real_files):
    folder = _real_variant(real_files, tmp_path / "layer_", {}, {"encoder/layer_": np.zeros(512, np.float16)})
    _, config, _ = convert.read_ct2(Path(folder))
    assert config["encoder_layers"] == 6 and config["decoder_layers"] == 6 and config["encoder_attention_heads"] == 8
    lid = load_audio_lid(folder, "cpu")  # CTranslate2 ignores a variable it does not use
    assert sum(lid.probs([np.zeros(16000, np.float32)])[0].values()) == pytest.approx(1.0, abs=0.02)


@pytest.mark.slow
@pytest.mark.model
def test_a_model_that_fails_when_it_runs_is_one_line_in_score(tmp_path, real_files):
    """Decoder position encodings for 2 tokens: the model loads, and CTranslate2's generate raises
    RuntimeError ("No position encodings are defined for positions >= 2"). `score` stops with one
    line and exit 2, and writes no score file."""
    name = "decoder/position_encodings/encodings"
    folder = _real_variant(real_files, tmp_path / "short", {name: _positions(real_files, name, 2)})
    from wsdata import config
    from wsdata.orchestrate import build

    out = tmp_path / "corpus"
    build(SOURCE, out, config.from_dict({}), progress=False)
    proc = wsdata("score", str(out), "--model", folder, "--device", "cpu", "--quiet")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "the model failed to run (RuntimeError" in proc.stderr
    assert not list((out / "scores").rglob("*.parquet"))


@pytest.mark.slow
@pytest.mark.model
def test_a_model_that_fails_when_it_runs_is_one_line_in_transcribe(tmp_path, real_files):
    """The same short decoder, converted for torch: decoding cannot go past 2 tokens. transcribe
    says so in one line (exit 2), not with a traceback."""
    name = "decoder/position_encodings/encodings"
    folder = _real_variant(real_files, tmp_path / "short", {name: _positions(real_files, name, 2)})
    proc = wsdata("transcribe", "--model", folder, "--language", "en", str(EN_AUDIO))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("wsdata transcribe: ") and "max_target_positions" in last, proc.stderr


@pytest.mark.slow
@pytest.mark.model
def test_a_model_that_fails_at_language_detection(tmp_path, real_files, capsys):
    """Encoder position encodings for 10 frames: detect_language raises ValueError; the detector
    raises LidError, which the build treats as fatal (one line, non-zero exit)."""
    name = "encoder/position_encodings/encodings"
    folder = _real_variant(real_files, tmp_path / "short", {name: _positions(real_files, name, 10)})
    lid = load_audio_lid(folder, "cpu")
    with pytest.raises(LidError, match="the model failed to run .*ValueError"):
        lid.probs([np.zeros(16000, np.float32)])
    rc = main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--audio-lid", folder, "--quiet"])
    err = capsys.readouterr().err
    assert rc != 0 and "the model failed to run" in err and "Traceback" not in err
