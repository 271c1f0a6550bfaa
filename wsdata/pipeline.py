"""One document through the stages, and one chunk of crawl lines to its shard files.

    read -> pair (transcript) -> machine -> text (clean) -> dedup -> pair (audio decode) -> segment
         -> text (gates) -> dedup (eval overlap) -> language -> write

The text stages run between the two halves of `pair`, so a document they reject is never
decoded; segment stages run on the cut segments of a decoded document.
`process_chunk` is a pure function of its lines and the config (plus the files they name): it runs
the same in a local worker process or a Ray task, and it writes every output of its chunk
atomically, ending with the completion marker that makes a rerun skip it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wsdata.config import BuildConfig
from wsdata.constants import ms_to_samples
from wsdata.dedup.cluster import decisions_for
from wsdata.io.audio import encode_flac
from wsdata.io.crawl import iter_spans, read_record
from wsdata.io.parquet import REJECT_SCHEMA, SEGMENT_SCHEMA, ShardWriter, with_hf_features
from wsdata.model import Cue, Document, Reject, Segment
from wsdata.review.sample import ReviewSampler, candidates_path
from wsdata.stages.base import DocStage, SegmentStage
from wsdata.stages.dedup import DedupEvalSegments, DedupFilter
from wsdata.stages.language import LanguageRoute
from wsdata.stages.machine import MachineFilter
from wsdata.stages.pair import PairAudio, PairTranscript
from wsdata.stages.segment import cut
from wsdata.stages.text import TextClean, TextGates
from wsdata.vad import SpeechMap

# Stages before decode, in order. The global dedup pass runs BEFORE_DEDUP on every line first.
BEFORE_DEDUP: list[type[DocStage]] = [PairTranscript, MachineFilter, TextClean]
TEXT_STAGES: list[type[DocStage]] = [*BEFORE_DEDUP, DedupFilter]
AUDIO_STAGES: list[type[DocStage]] = [PairAudio]
SEGMENT_STAGES: list[type[SegmentStage]] = [TextGates, DedupEvalSegments, LanguageRoute]


@dataclass
class Chunk:
    index: int
    lines: list[tuple[int, str]]  # (crawl line number, raw line)
    duplicate_of: dict[int, int] = field(default_factory=dict)  # line -> first line with that id
    span: tuple[int, int, int] = (0, 0, 1)  # its bytes in the crawl file: (start, end, first line's number)

    def without_lines(self) -> Chunk:
        """The chunk as a byte range of the crawl: a few bytes to ship to a remote task."""
        return replace(self, lines=[])

    def with_lines(self, source: Path) -> Chunk:
        """The lines of a chunk shipped `without_lines`, re-read from the crawl file."""
        if self.lines:
            return self
        start, end, first = self.span
        return replace(self, lines=[(n, line) for n, line, _ in iter_spans(source, start, end, first)])


def marker_path(out: Path, index: int) -> Path:
    return out / "_work" / "chunks" / f"{index:05d}.json"


def in_validation(doc_id: str, cfg: BuildConfig) -> bool:
    h = hashlib.blake2b(f"{cfg.write.split_seed}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < cfg.write.validation_fraction


class ChunkStats:
    """Counters of one chunk; sums of these make stats.json (wsdata.report)."""

    def __init__(self) -> None:
        self.c: Counter[str] = Counter()  # flat 'a/b/c' keys: easy to add up across chunks

    def add(self, key: str, n: int = 1) -> None:
        self.c[key] += n

    def to_dict(self) -> dict[str, int]:
        return dict(sorted(self.c.items()))


class ChunkWriter:
    """The chunk's shard writers, and its review sample (every row is offered to it)."""

    def __init__(self, out: Path, index: int, cfg: BuildConfig):
        self.sample = ReviewSampler(cfg)
        self.sample_path = candidates_path(out, index)
        rg = cfg.write.row_group_rows
        seg_schema = with_hf_features(SEGMENT_SCHEMA)
        self.train = ShardWriter(out / "data" / f"train-{index:05d}.parquet", seg_schema, rg)
        self.validation = ShardWriter(out / "data" / f"validation-{index:05d}.parquet", seg_schema, rg)
        self.rejects = ShardWriter(out / "rejects" / f"rejects-{index:05d}.parquet", REJECT_SCHEMA, 1024)

    def keep(self, row: dict[str, Any], validation: bool) -> None:
        (self.validation if validation else self.train).add(row)
        self.sample.kept(row)

    def reject(self, row: dict[str, Any]) -> None:
        self.rejects.add(row)
        self.sample.rejected(row)

    def close(self) -> list[str]:
        self.sample.write(self.sample_path)
        written = []
        for w in (self.train, self.validation, self.rejects):
            if w.close():
                written.append(str(w.path.relative_to(w.path.parent.parent)))
        return written


def process_chunk(chunk: Chunk, base_dir: Path, out: Path, cfg: BuildConfig) -> dict[str, Any]:
    """Run every line of `chunk`, write its shards, then its marker. Returns the marker's content."""
    writer = ChunkWriter(out, chunk.index, cfg)
    stats = ChunkStats()
    text_stages = [s(cfg) for s in TEXT_STAGES]
    audio_stages = [s(cfg) for s in AUDIO_STAGES]
    segment_stages = [s(cfg) for s in SEGMENT_STAGES]
    dups = decisions_for(out, chunk.lines[0][0], chunk.lines[-1][0]) if chunk.lines and cfg.dedup.enabled else {}
    for lineno, line in chunk.lines:
        stats.add("docs/in")
        got = read_record(line, lineno, base_dir, chunk.duplicate_of.get(lineno))
        if not isinstance(got, Document):
            doc_id, rej = got
            _reject_line(writer, stats, doc_id, lineno, rej)
            continue
        got.dedup = dups.get(lineno)
        kept_before = stats.c["docs/kept"]
        _process_document(got, [*text_stages, *audio_stages], segment_stages, cfg, writer, stats)
        src = f"by_source/{quote(got.source or '', safe='')}"  # per-source funnel, for the audit report
        stats.add(f"{src}/docs_in")
        stats.add(f"{src}/docs_kept", stats.c["docs/kept"] - kept_before)
        if got.duration_ms is not None:  # hours in: every document whose audio was decoded
            stats.add("audio_ms/in", got.duration_ms)
            stats.add(f"{src}/audio_ms_in", got.duration_ms)
    files = writer.close()
    marker = {"chunk": chunk.index, "lines": [chunk.lines[0][0], chunk.lines[-1][0]] if chunk.lines else [],
              "files": files, "stats": stats.to_dict()}  # fmt: skip
    write_json_atomic(marker_path(out, chunk.index), marker)
    return marker


def _process_document(doc: Document, doc_stages: list[DocStage], segment_stages: list[SegmentStage],
                      cfg: BuildConfig, writer: ChunkWriter, stats: ChunkStats) -> None:  # fmt: skip
    for stage in doc_stages:
        rej = stage(doc)
        if rej is not None:
            _reject_doc(writer, stats, doc, rej)
            return
    for k in ("boilerplate_removed", "sound_tags_removed", "cues_dropped"):
        stats.add(f"text/{k}", doc.evidence.get(k, 0))
    try:
        segments = _segment(doc, cfg)
    except Exception as e:  # noqa: BLE001 - one broken document must not stop the build
        _reject_doc(writer, stats, doc, Reject("segment.internal_error", f"{type(e).__name__}: {e}"))
        return
    rej = None
    for seg_stage in segment_stages:
        rej = _no_speech_left(segments) or seg_stage(doc, segments)
        if rej is not None:
            break
    rej = rej or _no_speech_left(segments)
    if rej is not None:  # the whole document goes: each of its segments is accounted for too
        for s in segments:
            if s.reject is None:
                s.reject = Reject("segment.document_rejected", f"the document was rejected: {rej.reason}")
            _reject_segment(writer, stats, doc, s)
        _reject_doc(writer, stats, doc, rej)
        return
    validation = in_validation(doc.id, cfg)
    stats.add("docs/kept")
    for s in segments:
        if s.reject is not None:
            _reject_segment(writer, stats, doc, s)
            continue
        row = _segment_row(doc, s)
        writer.keep(row, validation)
        split = "validation" if validation else "train"
        stats.add("segments/cut")
        stats.add("segments/kept")
        stats.add(f"segments/kept_{split}")
        stats.add("audio_ms/kept", s.duration_ms)
        stats.add(f"by_source/{quote(doc.source or '', safe='')}/audio_ms_kept", s.duration_ms)
        stats.add(f"audio_ms/kept_{split}", s.duration_ms)
        if s.no_speech:
            stats.add("segments/kept_no_speech")
        if s.speaker_labels:
            stats.add("segments/kept_speaker_labels")
        key = f"{row['language'] or 'unknown'}:{row['task']}"
        stats.add(f"by_language_task/{key}/segments")
        stats.add(f"by_language_task/{key}/audio_ms", s.duration_ms)
    doc.samples = None


def _no_speech_left(segments: list[Segment]) -> Reject | None:
    """The document's reject when none of its speech segments is left: the most common reason."""
    speech = [s for s in segments if not s.no_speech]
    if any(s.reject is None for s in speech):
        return None
    reasons = Counter(s.reject.reason for s in speech if s.reject)
    top = reasons.most_common(1)[0][0] if reasons else "segment.internal_error"
    summary = ", ".join(f"{r.split('.', 1)[1]} x{n}" for r, n in reasons.most_common())
    return Reject(top, f"all {len(speech)} speech segments rejected: {summary}")


def _segment(doc: Document, cfg: BuildConfig) -> list[Segment]:
    tr, samples = doc.transcript, doc.samples
    assert tr is not None and samples is not None and doc.duration_ms is not None
    speech = SpeechMap.from_samples(samples, cfg.segment.vad_mode)
    if not tr.timed:  # untimed text over <= 30 s of audio (checked by PairAudio): one segment
        seg = Segment(0, 0, doc.duration_ms, [Cue(0, doc.duration_ms, tr.text)], untimed=True)
        seg.speech_ratio = speech.ratio(0, doc.duration_ms)
        if seg.speech_ratio < cfg.segment.min_speech_ratio:
            seg.reject = Reject("segment.low_speech_ratio", f"speech in {seg.speech_ratio:.0%} of the clip")
        return [seg]
    segs = cut(tr.cues, doc.duration_ms, speech, cfg.segment, key=doc.id,
               breaks=[b.after_ms for b in tr.bad_cues], tolerance_ms=cfg.pair.past_end_tolerance_ms)  # fmt: skip
    for b in tr.bad_cues:  # a cue with an unusable timing: accounted for, never placed
        segs.append(Segment(len(segs), -1, -1, [], reject=Reject("segment.bad_timing", f"line {b.line}: {b.timing!r}"),
                            bad_text=b.text))  # fmt: skip
    return segs


def _segment_row(doc: Document, s: Segment) -> dict[str, Any]:
    a, b = ms_to_samples(s.start_ms), ms_to_samples(s.end_ms)
    assert doc.samples is not None
    flac = encode_flac(doc.samples[a:b])
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
        "timestamps": [] if s.untimed else [
            {"start_ms": c.start_ms - s.start_ms, "end_ms": c.end_ms - s.start_ms, "text": c.text} for c in s.cues
        ],
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
    }


def _evidence(doc: Document) -> str:
    """What the stages measured on the document, as JSON text (docs/shards.md lists the keys)."""
    return json.dumps(doc.evidence, ensure_ascii=False, sort_keys=True)


def _as_text(v: Any) -> str | None:
    return v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _reject_line(writer: ChunkWriter, stats: ChunkStats, doc_id: str | None, lineno: int, rej: Reject) -> None:
    stats.add("docs/rejected")
    stats.add(f"doc_reasons/{rej.reason}")
    writer.reject({"doc_id": doc_id, "segment_id": None, "stage": rej.stage, "reason": rej.reason,
                   "detail": rej.detail, "line": lineno})  # fmt: skip


def _reject_doc(writer: ChunkWriter, stats: ChunkStats, doc: Document, rej: Reject) -> None:
    stats.add("docs/rejected")
    stats.add(f"doc_reasons/{rej.reason}")
    if doc.duration_ms is not None:
        stats.add(f"doc_reason_ms/{rej.reason}", doc.duration_ms)
    text = doc.transcript.text[:4000] if doc.transcript else (doc.inline_text or "")[:4000]
    writer.reject({
        "doc_id": doc.id, "segment_id": None, "source": doc.source, "stage": rej.stage, "reason": rej.reason,
        "detail": rej.detail, "audio": doc.audio_uri, "start_ms": 0 if doc.duration_ms is not None else None,
        "end_ms": doc.duration_ms, "duration_ms": doc.duration_ms, "line": doc.line, "text": text,
        "caption_kind": doc.caption_kind, "url": _as_text(doc.passthrough.get("url")), "evidence": _evidence(doc),
    })  # fmt: skip
    doc.samples = None


def _reject_segment(writer: ChunkWriter, stats: ChunkStats, doc: Document, s: Segment) -> None:
    assert s.reject is not None
    timed = s.start_ms >= 0
    stats.add("segments/cut")
    stats.add("segments/rejected")
    stats.add(f"segment_reasons/{s.reject.reason}")
    if timed:
        stats.add(f"segment_reason_ms/{s.reject.reason}", s.duration_ms)
    writer.reject({
        "doc_id": doc.id, "segment_id": f"{doc.id}/{s.index:05d}", "source": doc.source, "stage": s.reject.stage,
        "reason": s.reject.reason, "detail": s.reject.detail, "audio": doc.audio_uri,
        "start_ms": s.start_ms if timed else None, "end_ms": s.end_ms if timed else None,
        "duration_ms": s.duration_ms if timed else None, "line": doc.line, "text": s.text if timed else s.bad_text,
        "speech_ratio": s.speech_ratio, "caption_kind": doc.caption_kind, "url": _as_text(doc.passthrough.get("url")),
        "evidence": _evidence(doc),
    })  # fmt: skip


def write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
