"""The shards through Hugging Face `datasets`, with the audio decoded and no torchcodec.

`datasets` 4 and later decode an Audio column with torchcodec, which needs FFmpeg's shared
libraries and a torchcodec build matching torch: often neither is there. The shards' audio is FLAC,
which soundfile (already a wsdata dependency) decodes, so this reads the column as bytes and decodes
it on access, to the same {"array", "sampling_rate", "path"} a decoded Audio column gives:

    from datasets import load_dataset
    from wsdata.hf import decode_audio
    ds = decode_audio(load_dataset("OUT"))      # or load_dataset("parquet", data_files=...)
    ds["train"][0]["audio"]["array"]            # float32, 16 kHz mono
"""

from __future__ import annotations

import io
from typing import Any


def _decode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    import soundfile as sf

    out = []
    for a in batch["audio"]:
        samples, rate = sf.read(io.BytesIO(a["bytes"]), dtype="float32")
        out.append({"array": samples, "sampling_rate": rate, "path": a.get("path")})
    batch["audio"] = out
    return batch


def decode_audio(ds: Any) -> Any:
    """`ds` (a Dataset or DatasetDict of wsdata shards) with `audio` decoded on access by soundfile."""
    import datasets

    return ds.cast_column("audio", datasets.Audio(decode=False)).with_transform(_decode)
