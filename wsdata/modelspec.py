"""Whether a model argument (`--audio-lid`, `--asr`, `--init`, `--model`) names something local.

Every model flag takes a local file or folder or a Hugging Face hub id (`org/name`). A spec that
looks local and does not exist is a typo or a wrong working directory: it must be "no such file
or folder" at once, never a hub lookup that retries for seconds and ends in a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # org/name, as the hub spells repository ids


def missing(spec: str) -> str | None:
    """Why `spec` can be neither a local model nor a hub id (one line), or None when it can be one.

    A hub id is `org/name`; anything else that does not exist (an absolute or ./ path, a .pt file,
    a deeper path, or org/name whose `org` is a folder here, like build/nope) is a missing path."""
    if Path(spec).expanduser().exists():
        return None
    if _HUB_ID.fullmatch(spec) and not Path(spec.split("/")[0]).is_dir():
        return None
    return f"{spec}: no such file or folder (from {Path.cwd()})"


# A model folder's JSON (config.json, tokenizer.json: 2.2 MB for Whisper, preprocessor_config.json,
# generation_config.json) is data from whoever made the folder: read whole only up to this size.
MAX_MODEL_JSON_BYTES = 64 << 20


class ModelFileError(ValueError):
    """A file of a model folder cannot be used; the message names it and says why (one line)."""


def json_file(path: Path, limit: int = MAX_MODEL_JSON_BYTES) -> Any:
    """The JSON value in `path` (a regular file of at most `limit` bytes, UTF-8), or ModelFileError:
    empty, not JSON, too large, too deeply nested, or unreadable."""
    from wsdata.io import fs
    from wsdata.io.textenc import loads_json

    try:
        return loads_json(fs.read_bytes(str(path), limit).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        raise ModelFileError(f"{path}: not a readable JSON file ({type(e).__name__}: {_first_line(e)})") from None


def json_object(path: Path, limit: int = MAX_MODEL_JSON_BYTES) -> dict[str, Any]:
    """The JSON object in `path`, or ModelFileError (as `json_file`, and for a list or other non-object)."""
    obj = json_file(path, limit)
    if not isinstance(obj, dict):
        raise ModelFileError(f"{path}: a JSON {type(obj).__name__}, not an object")
    return obj


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__
