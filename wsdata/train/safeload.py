"""`torch.load` for a file from anyone (a run's checkpoint, an openai-whisper .pt): weights_only=True,
so only tensors and plain values are built and nothing in the file runs. A file that needs more (a
pickled object, the way a hostile file would run code) is refused in one line, naming the object;
torch's own text would advise loading it with weights_only=False."""

from __future__ import annotations

import re
from pathlib import Path

_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")  # in torch's refusal: what the file would call


def load(path: Path) -> object:
    """The file's tensors and plain values, on the CPU; ValueError (one line) for anything else."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        found = _GLOBAL.search(str(e))
        if found:
            raise ValueError(
                f"{path}: refused: it holds a pickled object ({found.group(1)}), not only tensors and plain "
                "values, and is never unpickled"
            ) from None
        raise ValueError(f"{path}: not a loadable PyTorch checkpoint ({type(e).__name__})") from None
