"""The `read` stage: one crawl line to a Document, or a `read.*` reject (wsdata/io/crawl.py)."""

from __future__ import annotations

from pathlib import Path

from wsdata.datamodel import Document
from wsdata.io.crawl import read_record
from wsdata.stages.base import Stage


class ReadLine(Stage):
    name = "read"

    def __call__(self, lineno: int, line: str, base_dir: Path, duplicate_of: int | None = None) -> Document | None:
        """The line's Document, or None when it was rejected (counted and written here)."""
        self.books.stats.docs_in += 1
        self.count.docs_in += 1
        with self.clock.timed(self.step):
            try:
                got = read_record(line, lineno, base_dir, duplicate_of)
            except Exception as e:  # noqa: BLE001 - reported as a reject row, see wsdata/stages/base.py
                got = (None, self._internal_error(e))
        if isinstance(got, Document):
            self.books.stats.docs_split_given += got.split is not None
            for k in got.unknown_fields:  # counted, and named at the end of the build (a typo shows)
                self.books.stats.unknown_fields[k] = self.books.stats.unknown_fields.get(k, 0) + 1
            return got
        doc_id, rej = got
        self.count.docs_rejected += 1
        self.books.reject_line(lineno, doc_id, rej)
        return None
