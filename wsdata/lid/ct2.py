"""CTranslate2's `model.bin`, read by wsdata itself: checked before CTranslate2 loads a Whisper folder
(`--audio-lid`, `--asr`, `wsdata score`), and read whole to convert it (wsdata/train/convert.py).

The layout is the one CTranslate2's `ModelSpec._serialize` writes (binary version 6): a version, the
spec's name and revision, then per variable its name, rank, dims, type id, byte count and bytes, then
the aliases. A model folder is data from whoever made it, so every count and size in the file is
checked against the file's real size before anything is read or allocated, and CTranslate2 never
sees a file it would divide by zero on (0 heads kills the process with SIGFPE) or misread.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

BINARY_VERSIONS = (5, 6)  # the model.bin layouts read here (CTranslate2 3.x and 4.x write 6)
# CTranslate2's DataType enum (include/ctranslate2/types.h), in order
DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
ITEM_BYTES = (4, 1, 2, 4, 2, 2)
MAX_VARIABLES = 100_000  # a real model has a few hundred; more is a corrupt or hostile file
MAX_RANK = 8  # Whisper's variables have rank 0 to 3


class Ct2Error(ValueError):
    """model.bin is not a usable CTranslate2 model; the message names the file and says why."""


@dataclass(frozen=True)
class Variable:
    dims: tuple[int, ...]
    dtype: str
    offset: int  # of its bytes in the file
    nbytes: int


def scan(path: Path, keep: Callable[[str, Variable], bool] = lambda name, v: False) -> tuple[dict, dict]:
    """({name: Variable}, {name: array} of the variables `keep` selects) of `path`, aliases resolved
    in both. Only the selected variables' bytes are read; the others are skipped by seeking."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        version = _u(f, path, "I")
        if version not in BINARY_VERSIONS:
            raise Ct2Error(f"{path}: model.bin binary version {version}, not one of {BINARY_VERSIONS}")
        _string(f, path)  # the spec's name, e.g. WhisperSpec
        _u(f, path, "I")  # its revision
        n = _u(f, path, "I")
        if n > MAX_VARIABLES:
            raise Ct2Error(f"{path}: {n} variables: not a model")
        meta: dict[str, Variable] = {}
        arrays: dict[str, np.ndarray] = {}
        for _ in range(n):
            name = _string(f, path)
            rank = _u(f, path, "B")
            if rank > MAX_RANK:
                raise Ct2Error(f"{path}: variable {name} has rank {rank}: not a model")
            dims = tuple(_u(f, path, "I") for _ in range(rank))
            dtype_id, nbytes = _u(f, path, "B"), _u(f, path, "I")
            if dtype_id >= len(DTYPES):
                raise Ct2Error(f"{path}: variable {name} has an unknown type id {dtype_id}")
            if nbytes != math.prod(dims) * ITEM_BYTES[dtype_id]:
                raise Ct2Error(f"{path}: variable {name} of shape {list(dims)} holds {nbytes} bytes")
            if f.tell() + nbytes > size:
                raise Ct2Error(f"{path}: truncated at variable {name}")
            var = Variable(dims, DTYPES[dtype_id], f.tell(), nbytes)
            meta[name] = var
            if keep(name, var):
                arrays[name] = _array(f.read(nbytes), var.dtype, dims)
            else:
                f.seek(nbytes, 1)
        for _ in range(_u(f, path, "I")):
            alias, target = _string(f, path), _string(f, path)
            if target not in meta:
                raise Ct2Error(f"{path}: alias {alias} names no variable ({target})")
            meta[alias] = meta[target]
            if target in arrays:
                arrays[alias] = arrays[target]
    return meta, arrays


def read_variables(path: Path) -> dict[str, np.ndarray]:
    """Every variable of `path`, by name (aliases resolved)."""
    return scan(path, lambda name, v: True)[1]


def check_whisper(folder: Path, n_mels: int) -> None:
    """Ct2Error unless `folder`/model.bin is a Whisper model CTranslate2 can run on `n_mels`-bin
    features: its head counts are positive scalars that divide the model's width (CTranslate2
    reads them without a check), and its first convolution takes `n_mels` bins."""
    path = Path(folder) / "model.bin"
    meta, scalars = scan(path, lambda name, v: v.nbytes <= 8)  # the scalars: heads, flags, activation
    for name in ("encoder/conv1/weight", "decoder/embeddings/weight", "encoder/num_heads", "decoder/num_heads"):
        if name not in meta:
            raise Ct2Error(f"{path}: no variable {name}: not a Whisper model")
    conv1, emb = meta["encoder/conv1/weight"].dims, meta["decoder/embeddings/weight"].dims
    if len(conv1) != 3 or len(emb) != 2:
        raise Ct2Error(f"{path}: encoder/conv1 of shape {list(conv1)}, embeddings {list(emb)}: not a Whisper model")
    for side, width in (("encoder", conv1[0]), ("decoder", emb[1])):
        var = meta[f"{side}/num_heads"]
        if var.dims or not var.dtype.startswith("int"):
            raise Ct2Error(f"{path}: {side}/num_heads has type {var.dtype} and shape {list(var.dims)}, not one integer")
        heads = int(scalars[f"{side}/num_heads"])
        if heads < 1 or width % heads:
            raise Ct2Error(f"{path}: {side}/num_heads is {heads}, which does not divide the model width {width}")
    if conv1[1] != n_mels:
        raise Ct2Error(f"{path}: the model takes {conv1[1]} mel bins, its folder says {n_mels} (preprocessor_config)")


def int_list(cfg: dict[str, Any], key: str, path: Path, pairs: bool = False) -> list:
    """cfg[key] of a folder's config.json as a list of token ids (or of [layer, head] pairs), []
    when absent; Ct2Error when it is anything else: CTranslate2 would fail on it mid-run, or
    suppress and detect the wrong tokens."""
    value = cfg.get(key) or []
    ok = isinstance(value, list)
    if ok and pairs:
        ok = all(isinstance(p, list) and len(p) == 2 for p in value)
        items = [x for p in value for x in p] if ok else []
    else:
        items = value if ok else []
    if not ok or not all(type(x) is int and x >= 0 for x in items):
        raise Ct2Error(f"{path}: {key} is not a list of {'[layer, head] pairs' if pairs else 'token ids'}")
    return value


def check_files(folder: Path) -> None:
    """Ct2Error (or ModelFileError) unless the JSON files CTranslate2 reads beside model.bin are
    what it expects: config.json an object whose token lists are lists of ids, vocabulary.json a
    list of strings. CTranslate2 reads a wrong type only when it first decodes, mid-run."""
    from wsdata import modelspec

    cfg_file = Path(folder) / "config.json"
    cfg = modelspec.json_object(cfg_file) if cfg_file.is_file() else {}
    for key in ("lang_ids", "suppress_ids", "suppress_ids_begin"):
        int_list(cfg, key, cfg_file)
    int_list(cfg, "alignment_heads", cfg_file, pairs=True)
    vocab = Path(folder) / "vocabulary.json"
    if vocab.is_file():
        tokens = modelspec.json_file(vocab)
        if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
            raise Ct2Error(f"{vocab}: not a list of token strings")


def _u(f: BinaryIO, path: Path, fmt: str) -> int:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise Ct2Error(f"{path}: truncated")
    return struct.unpack("<" + fmt, data)[0]


def _string(f: BinaryIO, path: Path) -> str:
    n = _u(f, path, "H")
    data = f.read(n)
    if len(data) != n:
        raise Ct2Error(f"{path}: truncated")
    return data.rstrip(b"\0").decode("utf-8", "replace")


def _array(data: bytes, dtype: str, dims: tuple[int, ...]) -> np.ndarray:
    if dtype == "bfloat16":  # numpy has no bfloat16: its bits are the high half of a float32
        u16 = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
        return u16.view(np.float32).reshape(dims)
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).reshape(dims)
