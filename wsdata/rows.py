"""The rows a build writes: a kept segment, and a reject (of a crawl line, a document or a
segment), built in one place each; and one chunk's output files, which take them.

Columns are defined in wsdata/io/parquet.py and documented in docs/shards.md.
"""

from __future__ import annotations

import json
from typing import Any

from wsdata.clock import CpuClock
from wsdata.config import BuildConfig
from wsdata.datamodel import Document, Reject, Segment
from wsdata.io.parquet import REJECT_SCHEMA, SEGMENT_SCHEMA, ShardWriter, with_hf_features
from wsdata.layout import Layout
from wsdata.review.sample import ReviewSampler

MAX_REJECT_TEXT = 4000  # characters of a rejected document's transcript kept in its row


def segment_row(doc: Document, s: Segment, flac: bytes) -> dict[str, Any]:
    """A kept segment: `flac` is its audio, 16 kHz mono FLAC bytes."""
    p = doc.passthrough
    return {
        "id": f"{doc.id}/{s.index:05d}",
        "doc_id": doc.id,
        "source": doc.source,
        "audio": {"bytes": flac, "path": f"{doc.id}/{s.index:05d}.flac"},
        "start_ms": s.start_ms,
        "end_ms": s.end_ms,
        "duration_ms": s.duration_ms,
        "text": s.text,
        "timestamps": []
        if s.untimed
        else [{"start_ms": c.start_ms - s.start_ms, "end_ms": c.end_ms - s.start_ms, "text": c.text} for c in s.cues],
        "prev_text": s.prev_text,
        "language": doc.evidence.get("language", doc.language),
        "task": doc.evidence.get("task", "transcribe"),
        "no_speech": s.no_speech,
        "text_language": s.text_language[0] if s.text_language else None,
        "audio_language": doc.evidence.get("audio_language"),
        "speech_ratio": s.speech_ratio,
        "machine_score": doc.evidence.get("machine_score"),
        "text_language_prob": round(s.text_language[1], 4) if s.text_language else None,
        "audio_language_prob": doc.evidence.get("audio_language_prob"),
        "speaker_labels": s.speaker_labels,
        "evidence": _evidence(doc),
        "caption_kind": doc.caption_kind,
        "url": _as_text(p.get("url")),
        "license": _as_text(p.get("license")),
        "meta": json.dumps(p["meta"], ensure_ascii=False) if "meta" in p else None,
        "asr_text": s.asr_text,
        "asr_wer": s.asr_wer,
    }


def reject_row(
    rej: Reject, line: int, doc_id: str | None, doc: Document | None = None, seg: Segment | None = None
) -> dict[str, Any]:
    """The reject of a crawl line (no `doc`), a whole document (no `seg`), or one segment."""
    row: dict[str, Any] = {
        "doc_id": doc_id,
        "segment_id": None,
        "stage": rej.stage,
        "reason": rej.reason,
        "detail": rej.detail,
        "line": line,
    }
    if doc is None:
        return row
    row.update(
        source=doc.source,
        audio=doc.audio_uri,
        caption_kind=doc.caption_kind,
        url=_as_text(doc.passthrough.get("url")),
        evidence=_evidence(doc),
    )
    if seg is None:
        decoded = doc.duration_ms is not None
        text = doc.transcript.text if doc.transcript else (doc.inline_text or "")
        row.update(
            start_ms=0 if decoded else None,
            end_ms=doc.duration_ms,
            duration_ms=doc.duration_ms,
            text=text[:MAX_REJECT_TEXT],
        )
        return row
    timed = seg.start_ms >= 0  # a cue with unusable timing has no place in the audio
    row.update(
        segment_id=f"{doc.id}/{seg.index:05d}",
        start_ms=seg.start_ms if timed else None,
        end_ms=seg.end_ms if timed else None,
        duration_ms=seg.duration_ms if timed else None,
        text=seg.text if timed else seg.bad_text,
        speech_ratio=seg.speech_ratio,
        asr_text=seg.asr_text,
        asr_wer=seg.asr_wer,
    )
    return row


def _evidence(doc: Document) -> str:
    """What the stages measured on the document, as JSON text (docs/shards.md lists the keys)."""
    return json.dumps(doc.evidence, ensure_ascii=False, sort_keys=True)


def _as_text(v: Any) -> str | None:
    return v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)


class ChunkOutput:
    """One chunk's shard writers and its review sample (every row is offered to it)."""

    def __init__(self, layout: Layout, index: int, cfg: BuildConfig, clock: CpuClock):
        self.clock = clock
        self.sample = ReviewSampler(cfg)
        self.sample_path = layout.review_candidates(index)
        rg = cfg.write.row_group_rows
        seg_schema = with_hf_features(SEGMENT_SCHEMA)
        self.train = ShardWriter(layout.train_shard(index), seg_schema, rg)
        self.validation = ShardWriter(layout.validation_shard(index), seg_schema, rg)
        self.rejects = ShardWriter(layout.reject_shard(index), REJECT_SCHEMA, 1024)
        self.root = layout.root

    def keep(self, row: dict[str, Any], validation: bool) -> None:
        with self.clock.timed("parquet"):
            (self.validation if validation else self.train).add(row)
        with self.clock.timed("review"):
            self.sample.kept(row)

    def reject(self, row: dict[str, Any]) -> None:
        with self.clock.timed("parquet"):
            self.rejects.add(row)
        with self.clock.timed("review"):
            self.sample.rejected(row)

    def close(self) -> list[str]:
        """Write the review candidates and close the shards; the files written, relative to OUT."""
        with self.clock.timed("review"):
            self.sample.write(self.sample_path)
        written = []
        with self.clock.timed("parquet"):
            for w in (self.train, self.validation, self.rejects):
                if w.close():
                    written.append(w.path.relative_to(self.root).as_posix())
        return written
