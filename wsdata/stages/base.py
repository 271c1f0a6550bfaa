"""What every stage shares: a fixed stage name, a keep-or-reject decision, and the bookkeeping.

A stage never raises into the build: the base turns an unexpected exception into a
`<stage>.internal_error` reject with the exception in the detail, so one bad file cannot stop a
million-document build and is still accounted for. Stages are pure functions of a document
(and the config), so the same code runs in a local worker or a Ray task.
"""

from __future__ import annotations

import traceback
from typing import ClassVar

from wsdata.config import BuildConfig
from wsdata.model import Document, Reject, Segment
from wsdata.reasons import STAGES


class _Stage:
    name: ClassVar[str]

    def __init__(self, cfg: BuildConfig):
        if self.name not in STAGES:
            raise ValueError(f"stage name {self.name!r} is not one of {STAGES}")
        self.cfg = cfg

    def _internal_error(self, e: Exception) -> Reject:
        where = traceback.extract_tb(e.__traceback__)[-1]
        return Reject(
            f"{self.name}.internal_error",
            f"{type(e).__name__}: {e} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})",
        )


class DocStage(_Stage):
    """A document-level decision before decode. Subclasses set `name` and implement `process`."""

    def process(self, doc: Document) -> Reject | None:
        """Fill what the stage learns into `doc`; return a Reject to drop the document."""
        raise NotImplementedError

    def __call__(self, doc: Document) -> Reject | None:
        try:
            return self.process(doc)
        except Exception as e:  # noqa: BLE001 - reported as a reject row, see module doc
            return self._internal_error(e)


class SegmentStage(_Stage):
    """A decision over the cut segments of a decoded document: it sets `seg.reject` on segments it
    drops, and returns a Reject to drop the whole document. Segments already rejected are skipped.
    """

    def process(self, doc: Document, segments: list[Segment]) -> Reject | None:
        raise NotImplementedError

    def __call__(self, doc: Document, segments: list[Segment]) -> Reject | None:
        try:
            return self.process(doc, segments)
        except Exception as e:  # noqa: BLE001 - reported as a reject row, see module doc
            return self._internal_error(e)
