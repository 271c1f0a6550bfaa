"""What every stage shares, as in datatrove: a stage decides keep-or-reject; the base does the rest.

The base counts what each step receives and drops (typed counters, wsdata/stats.py), times it on
the chunk's CPU clock (wsdata/clock.py), writes the reject rows, and turns an unexpected exception
into a `<stage>.internal_error` reject with the exception in the detail, so one bad file cannot
stop a million-document build and is still accounted for. The fatal family (wsdata/errors.py: a
model that will not load, a missing extra, a full disk) is the exception: it is the same for every
document, so it passes through and stops the build. Stages are pure functions of a document
and the config, so the same code runs in a local worker or a Ray task.

A stage has two names: `name`, the contract's stage (the first half of its reason codes), and
`step`, its place in the funnel (`pair/transcript` and `pair/audio` are two steps of `pair`).
"""

from __future__ import annotations

import os
import traceback
from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

from wsdata.clock import CpuClock
from wsdata.config import BuildConfig
from wsdata.constants import ms_to_samples
from wsdata.datamodel import Document, Reject, Segment
from wsdata.errors import raise_fatal
from wsdata.io import fs
from wsdata.io.audio import encode_flac
from wsdata.reasons import STAGES
from wsdata.rows import ChunkOutput, reject_row, segment_row
from wsdata.stats import ChunkStats, KeptCount, ReasonCount, StepCount


class Books:
    """One chunk's bookkeeping, shared by its stages: counters, CPU clock, and the rows of what
    they keep and reject. Without `output` nothing is written (dedup's signing pass only looks)."""

    def __init__(self, output: ChunkOutput | None = None, clock: CpuClock | None = None):
        self.stats = ChunkStats()
        self.clock = clock or CpuClock()
        self.output = output

    def reject_line(self, line: int, doc_id: str | None, rej: Reject) -> None:
        """A crawl line that never became a document."""
        self._count_doc_reject(rej, None)
        if self.output:
            self.output.reject(reject_row(rej, line, doc_id))

    def reject_document(self, doc: Document, rej: Reject, segments: Sequence[Segment] = ()) -> None:
        """A document dropped as a whole; each of its segments is accounted for too."""
        for s in segments:
            if s.reject is None:
                s.reject = Reject("segment.document_rejected", f"the document was rejected: {rej.reason}")
            self._reject_segment(doc, s)
        self._count_doc_reject(rej, doc.duration_ms, doc.estimated_ms)
        self._count_source(doc, kept=False)
        if self.output:
            self.output.reject(reject_row(rej, doc.line, doc.id, doc))
        doc.release_audio()

    def keep_document(self, doc: Document, segments: list[Segment], validation: bool) -> None:
        """A document with at least one kept segment: its kept rows and its rejected segments."""
        st = self.stats
        st.docs_kept += 1
        self._count_source(doc, kept=True)
        for s in segments:
            if s.reject is not None:
                self._reject_segment(doc, s)
                continue
            assert doc.samples is not None
            with self.clock.timed("flac"):
                flac = encode_flac(doc.samples[ms_to_samples(s.start_ms) : ms_to_samples(s.end_ms)])
            row = segment_row(doc, s, flac)
            if self.output:
                self.output.keep(row, validation)
            st.segments_cut += 1
            st.segments_kept += 1
            st.audio_ms_kept += s.duration_ms
            st.source(doc.source).audio_ms_kept += s.duration_ms
            if validation:
                st.segments_kept_validation += 1
                st.audio_ms_kept_validation += s.duration_ms
            else:
                st.segments_kept_train += 1
                st.audio_ms_kept_train += s.duration_ms
            st.segments_kept_no_speech += s.no_speech
            st.segments_kept_speaker_labels += s.speaker_labels
            kept = st.kept(row["language"] or "unknown", row["task"])
            kept.segments += 1
            kept.audio_ms += s.duration_ms
            lic = st.by_license.setdefault(row["license"] or "", KeptCount())
            lic.segments += 1
            lic.audio_ms += s.duration_ms
        doc.release_audio()

    def _count_doc_reject(self, rej: Reject, audio_ms: int | None, estimated_ms: int | None = None) -> None:
        self.stats.docs_rejected += 1
        r = self.stats.doc_reasons.setdefault(rej.reason, ReasonCount())
        r.count += 1
        r.audio_ms += audio_ms or 0
        r.audio_ms_estimated += estimated_ms or 0

    def _count_source(self, doc: Document, kept: bool) -> None:
        src = self.stats.source(doc.source)
        src.docs_in += 1
        src.docs_kept += kept
        src.audio_ms_in += doc.duration_ms or 0
        src.audio_ms_estimated += doc.estimated_ms or 0
        self.stats.audio_ms_in += doc.duration_ms or 0
        self.stats.audio_ms_in_estimated += doc.estimated_ms or 0

    def _reject_segment(self, doc: Document, s: Segment) -> None:
        assert s.reject is not None
        timed = s.start_ms >= 0  # a cue with unusable timing has no place in the audio
        self.stats.segments_cut += 1
        self.stats.segments_rejected += 1
        r = self.stats.segment_reasons.setdefault(s.reject.reason, ReasonCount())
        r.count += 1
        r.audio_ms += s.duration_ms if timed else 0
        if self.output:
            self.output.reject(reject_row(s.reject, doc.line, doc.id, doc, s))


class Stage:
    name: ClassVar[str]  # the contract's stage: the first half of this stage's reason codes
    step: ClassVar[str]  # its place in the funnel; defaults to `name`

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if "name" in cls.__dict__:
            if cls.name not in STAGES:
                raise ValueError(f"stage name {cls.name!r} is not one of {STAGES}")
            cls.step = cls.__dict__.get("step", cls.name)

    def __init__(self, cfg: BuildConfig, books: Books | None = None):
        self.cfg = cfg
        self.books = books or Books()
        self.count: StepCount = self.books.stats.step(self.step)
        self.clock = self.books.clock

    @classmethod
    def require(cls, cfg: BuildConfig) -> None:
        """Load now what this stage will need under `cfg` (a model, an optional extra), so that a
        wrong path or a missing package stops the build before it writes anything. Raises the
        error `_internal_error` would pass through (wsdata/errors.py). Nothing to load by default."""

    def _internal_error(self, e: Exception) -> Reject:
        """`e` as this stage's internal_error reject; a fatal-family error is raised instead (as its
        wsdata.errors.FatalError): the machine's or the set-up's, not the document's."""
        raise_fatal(e)
        where = traceback.extract_tb(e.__traceback__)[-1]
        return Reject(
            f"{self.name}.internal_error",
            f"{type(e).__name__}: {e} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})",
        )


class DocStage(Stage):
    """A decision on a whole document. Subclasses set `name` and implement `process`."""

    def process(self, doc: Document) -> Reject | None:
        """Fill what the stage learns into `doc`; return a Reject to drop the document."""
        raise NotImplementedError

    def __call__(self, doc: Document) -> Reject | None:
        """None when the document goes on; its Reject (counted and written here) when dropped."""
        self.count.docs_in += 1
        with self.clock.timed(self.step):
            try:
                rej = self.process(doc)
            except Exception as e:  # noqa: BLE001 - reported as a reject row, see module doc
                rej = self._internal_error(e)
        if rej is not None:
            self.count.docs_rejected += 1
            self.count.audio_ms_rejected += doc.duration_ms or 0
            if doc.duration_ms is None:
                doc.estimated_ms = estimate_ms(doc)
                self.count.audio_ms_rejected_estimated += doc.estimated_ms or 0
            self.books.reject_document(doc, rej)
        return rej


def estimate_ms(doc: Document) -> int | None:
    """The length of a document rejected before its audio was decoded, without decoding it: the
    end of its transcript's last cue, else the duration its container declares (read by PyAV, when
    installed, from a local file's header). None when neither is known. Reported as an estimate:
    a source rejected whole must still rank by its size in the audit (docs/audit.md)."""
    tr = doc.transcript
    if tr is None:  # the pair stage turned it down: its paths may be outside limits.allowed_roots
        return None
    if tr.cues:
        end = max(c.end_ms for c in tr.cues)
        if end > 0:
            return end
    if not fs.is_local(doc.audio_uri) or not os.path.isfile(doc.audio_uri):  # a device or FIFO could block
        return None
    try:
        import av

        with av.open(doc.audio_uri, metadata_errors="ignore") as container:  # the header only
            return int(container.duration / 1000) if container.duration else None
    except Exception:  # noqa: BLE001 - no PyAV, a remote or unreadable file: no estimate
        return None


class SegmentStage(Stage):
    """A decision over the segments of a decoded document: it sets `seg.reject` on segments it
    drops (skipping those already rejected), and returns a Reject to drop the whole document. The
    first segment stage cuts: it receives an empty list and fills it.

    A document none of whose speech segments is left after a step is dropped by that step, with
    the most common reason among its speech segments.
    """

    def process(self, doc: Document, segments: list[Segment]) -> Reject | None:
        raise NotImplementedError

    def __call__(self, doc: Document, segments: list[Segment]) -> Reject | None:
        self.count.docs_in += 1
        done = {id(s) for s in segments if s.reject is not None}  # rejected by an earlier step
        self.count.segments_in += len(segments) - len(done)
        with self.clock.timed(self.step):
            try:
                rej = self.process(doc, segments) or no_speech_left(segments)
            except Exception as e:  # noqa: BLE001 - reported as a reject row, see module doc
                rej = self._internal_error(e)
        self.count.segments_rejected += sum(s.reject is not None and id(s) not in done for s in segments)
        if rej is not None:
            self.count.docs_rejected += 1
            self.count.audio_ms_rejected += doc.duration_ms or 0
            self.books.reject_document(doc, rej, segments)
        return rej


def no_speech_left(segments: list[Segment]) -> Reject | None:
    """The document's reject when none of its speech segments is left: the most common reason."""
    speech = [s for s in segments if not s.no_speech]
    if any(s.reject is None for s in speech):
        return None
    reasons = Counter(s.reject.reason for s in speech if s.reject)
    top = reasons.most_common(1)[0][0] if reasons else "segment.internal_error"
    summary = ", ".join(f"{r.split('.', 1)[1]} x{n}" for r, n in reasons.most_common())
    return Reject(top, f"all {len(speech)} speech segments rejected: {summary}")
