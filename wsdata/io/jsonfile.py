"""A small JSON file that must hold one object (a model's config.json, generation_config.json).

A model or run folder may come from anyone: its config can be a list, broken JSON, a FIFO, or
gigabytes. `read_object` reads at most `limit` bytes of a regular file and says in one line why it is
not a JSON object, instead of a traceback from the code that would have used it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wsdata.io import fs

MAX_CONFIG_BYTES = 16 << 20  # a Whisper config.json or generation_config.json is a few KB


def _kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def read_object(path: Path, limit: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    """The JSON object in `path`; ValueError naming the file when it cannot be read, is larger than
    `limit` bytes, is not UTF-8 JSON, or holds anything but an object."""
    try:
        data = fs.read_bytes(str(path), limit)
    except fs.TooLarge:
        raise ValueError(f"{path}: more than {limit:,} bytes: not a config file") from None
    except OSError as e:
        raise ValueError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # RecursionError: [[[[... nested too deep
        raise ValueError(f"{path}: not valid JSON ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {_kind(value)}, not a JSON object")  # noqa: TRY004 - a bad file, said as such
    return value
