"""The columns of the shards (docs/shards.md) and a streaming, atomic shard writer.

Column definitions live here once; `schemas/*.v1.json` are their published copies and a test keeps
the two equal. Every file carries its schema's name and version in its key-value metadata
(`wsdata.schema`), so a reader can tell which columns to expect. Segment shards carry Hugging
Face `datasets` feature metadata, so `load_dataset("parquet", data_files=...)` sees `audio` as an
`Audio(sampling_rate=16000)` column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from wsdata import __version__
from wsdata.constants import SAMPLE_RATE
from wsdata.io import atomic

TIMESTAMP = pa.struct([("start_ms", pa.int32()), ("end_ms", pa.int32()), ("text", pa.string())])
AUDIO = pa.struct([("bytes", pa.binary()), ("path", pa.string())])

SEGMENT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("id", pa.string()),  # {doc_id}/{index:05d}
    ("doc_id", pa.string()),
    ("source", pa.string()),
    ("audio", AUDIO),  # 16 kHz mono FLAC bytes, <= 30 s
    ("start_ms", pa.int64()),  # in the source audio
    ("end_ms", pa.int64()),
    ("duration_ms", pa.int64()),
    ("text", pa.string()),  # raw, not normalized; "" for no-speech
    ("timestamps", pa.list_(TIMESTAMP)),  # cues relative to start_ms; [] when untimed
    ("prev_text", pa.string()),
    ("language", pa.string()),  # spoken language (ISO 639-1)
    ("task", pa.string()),  # transcribe | translate
    ("no_speech", pa.bool_()),
    ("text_language", pa.string()),
    ("audio_language", pa.string()),
    ("speech_ratio", pa.float64()),  # voiced share of the segment (webrtcvad)
    ("machine_score", pa.float64()),  # strongest machine signal / its threshold (>= 1 would reject)
    ("text_language_prob", pa.float64()),  # langid on this segment's text
    ("audio_language_prob", pa.float64()),  # the audio detector, over the document's chosen segments
    ("speaker_labels", pa.bool_()),  # a cue holds a ">> NAME:" / "NAME:" mark: filter on it to drop them
    ("evidence", pa.string()),  # the document's stage measurements, as JSON text
    ("caption_kind", pa.string()),
    ("url", pa.string()),
    ("license", pa.string()),
    ("meta", pa.string()),  # the crawl's `meta`, as JSON text
    ("asr_text", pa.string()),  # the agreement model's transcript (`--asr`); null when not checked
    ("asr_wer", pa.float64()),  # caption vs asr_text, after Whisper's normalisation; null when not checked
]

REJECT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("doc_id", pa.string()),  # null for a line with no readable id
    ("segment_id", pa.string()),  # null for a whole document
    ("source", pa.string()),
    ("stage", pa.string()),
    ("reason", pa.string()),  # stage.code
    ("detail", pa.string()),
    ("audio", pa.string()),  # path or URI of the source audio
    ("start_ms", pa.int64()),
    ("end_ms", pa.int64()),
    ("duration_ms", pa.int64()),  # null where unknown
    ("line", pa.int64()),  # crawl line number
    ("text", pa.string()),  # the rejected text (segment text, or the transcript's first 4000 chars)
    ("speech_ratio", pa.float64()),
    ("caption_kind", pa.string()),
    ("url", pa.string()),
    ("evidence", pa.string()),  # the document's stage measurements (machine signals, languages), JSON text
    ("asr_text", pa.string()),  # for a segment the agreement model checked (`--asr`), else null
    ("asr_wer", pa.float64()),
]

SCHEMA_KEY = b"wsdata.schema"  # Parquet key-value metadata: the schema's name and version, e.g. "segment-row.v2"


def _versioned(fields: list[tuple[str, pa.DataType]], name: str) -> pa.Schema:
    meta = {SCHEMA_KEY: name.encode(), b"wsdata.version": __version__.encode()}
    return pa.schema(fields, metadata=meta)


# v2 added asr_text and asr_wer (nullable) to both; v1 files read the same, without them.
SEGMENT_SCHEMA = _versioned(SEGMENT_FIELDS, "segment-row.v2")
REJECT_SCHEMA = _versioned(REJECT_FIELDS, "reject-row.v2")

_HF_DTYPES = {
    pa.string(): "string",
    pa.int64(): "int64",
    pa.int32(): "int32",
    pa.bool_(): "bool",
    pa.float64(): "float64",
}


def _hf_feature(t: pa.DataType) -> Any:
    if t == AUDIO:
        return {"sampling_rate": SAMPLE_RATE, "_type": "Audio"}
    if pa.types.is_list(t):
        return [_hf_feature(t.value_type)]  # a list of structs, in every datasets version
    if pa.types.is_struct(t):
        return {f.name: _hf_feature(f.type) for f in t}
    return {"dtype": _HF_DTYPES[t], "_type": "Value"}


def with_hf_features(schema: pa.Schema) -> pa.Schema:
    features = {f.name: _hf_feature(f.type) for f in schema}
    hf = json.dumps({"info": {"features": features}}).encode()
    return schema.with_metadata({**(schema.metadata or {}), b"huggingface": hf})


def schema_as_json(schema: pa.Schema) -> list[dict[str, str]]:
    """Column names and Arrow types, the form kept in schemas/*.v1.json."""
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def write_table_atomic(table: pa.Table, path: Path, row_group_size: int = 65_536) -> None:
    """A whole table to `path`, atomically (wsdata/io/atomic.py)."""
    with atomic.atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=row_group_size)


class ShardWriter:
    """Rows in, one Parquet file out: row groups of `rows_per_group`, written to `<path>.tmp` and
    renamed when closed, so a reader (or a resumed build) never sees half a file. No rows, no file.
    """

    def __init__(self, path: Path, schema: pa.Schema, rows_per_group: int):
        self.path, self.schema, self.rows_per_group = path, schema, rows_per_group
        self.tmp = atomic.tmp_path(path)
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self._writer: pq.ParquetWriter | None = None

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if not self.rows:
            return
        table = pa.Table.from_pylist(self.rows, schema=self.schema)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            has_audio = "audio" in self.schema.names and self.schema.field("audio").type == AUDIO
            # FLAC bytes neither compress nor repeat: no dictionary and no codec for them.
            leaves = [c for c in _leaf_paths(self.schema) if c != "audio.bytes"]
            self._writer = pq.ParquetWriter(
                self.tmp,
                self.schema,
                compression={c: ("none" if c == "audio.bytes" else "zstd") for c in _leaf_paths(self.schema)},
                use_dictionary=leaves if has_audio else True,
                write_statistics=[c for c in leaves if not c.startswith("timestamps")],
            )
        self._writer.write_table(table)
        self.count += len(self.rows)
        self.rows = []

    def close(self) -> int:
        self._flush()
        if self._writer is not None:
            self._writer.close()
            atomic.commit(self.tmp, self.path)
        return self.count


def _leaf_paths(schema: pa.Schema) -> list[str]:
    out: list[str] = []

    def walk(prefix: str, t: pa.DataType) -> None:
        if pa.types.is_struct(t):
            for f in t:
                walk(f"{prefix}.{f.name}", f.type)
        elif pa.types.is_list(t):
            walk(f"{prefix}.list.element", t.value_type)
        else:
            out.append(prefix)

    for f in schema:
        walk(f.name, f.type)
    return out
