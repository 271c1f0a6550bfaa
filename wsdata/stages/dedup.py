"""The `dedup` stage: applies the global duplicate decisions (wsdata/dedup/cluster.py) and drops
text that overlaps the evaluation set given with `--exclude` (wsdata/dedup/exclude.py)."""

from __future__ import annotations

from wsdata.datamodel import Document, Reject, Segment
from wsdata.dedup.exclude import overlap
from wsdata.stages.base import DocStage, SegmentStage


class DedupFilter(DocStage):
    name = "dedup"

    def process(self, doc: Document) -> Reject | None:
        if doc.dedup is not None:  # this line lost its cluster in the global pass
            return Reject(*doc.dedup)
        d = self.cfg.dedup
        if d.exclude:
            assert doc.transcript is not None
            share = overlap(doc.transcript.text, d.exclude, d.ngram)
            doc.evidence["eval_overlap"] = None if share is None else round(share, 4)
            if share is not None and share >= d.eval_overlap:
                return Reject("dedup.eval_overlap", f"{share:.0%} of its {d.ngram}-grams are in {d.exclude}")
        return None


class DedupEvalSegments(SegmentStage):
    """Segments of a kept document that overlap the evaluation set (an eval utterance inside a
    longer recording, which the document-level check cannot see)."""

    name = "dedup"
    step = "dedup/eval"

    def process(self, doc: Document, segments: list[Segment]) -> Reject | None:
        d = self.cfg.dedup
        if not d.exclude:
            return None
        for s in segments:
            if s.reject is None and not s.no_speech:
                share = overlap(s.text, d.exclude, d.ngram)
                if share is not None and share >= d.eval_overlap:
                    s.reject = Reject("dedup.eval_overlap", f"{share:.0%} of its {d.ngram}-grams are in {d.exclude}")
        return None
