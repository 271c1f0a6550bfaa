"""Whether a model argument (`--audio-lid`, `--asr`, `--init`, `--model`) names something local.

Every model flag takes a local file or folder or a Hugging Face hub id (`org/name`). A spec that
looks local and does not exist is a typo or a wrong working directory: it must be "no such file
or folder" at once, never a hub lookup that retries for seconds and ends in a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

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
