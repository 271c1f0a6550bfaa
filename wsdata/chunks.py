"""The unit of work: a fixed run of `read.chunk_size` crawl lines.

Chunks are cut the same way by every engine, so the output files and their rows do not depend on
the number of workers or the engine. The driver reads the crawl once to cut them and to mark the
lines whose id was already used (the first line with an id wins).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from wsdata.hashing import stable_hash
from wsdata.io.crawl import iter_spans, peek_id

# How a crawl line's bytes that are not UTF-8 are decoded: as lone surrogates, so an id that holds one
# is refused (wsdata.io.crawl.id_problem) and every other field is mended to U+FFFD (loads_json).
CRAWL_ERRORS = "surrogateescape"


@dataclass
class Chunk:
    index: int
    lines: list[tuple[int, str]]  # (crawl line number, raw line)
    duplicate_of: dict[int, int] = field(default_factory=dict)  # line -> first line with that id
    span: tuple[int, int, int] = (0, 0, 1)  # its bytes in the crawl file: (start, end, first line's number)

    def without_lines(self) -> Chunk:
        """The chunk as a byte range of the crawl: a few bytes to ship to a remote task."""
        return replace(self, lines=[])

    def with_lines(self, source: Path, max_line_bytes: int) -> Chunk:
        """The lines of a chunk shipped `without_lines`, re-read from the crawl file."""
        if self.lines:
            return self
        start, end, first = self.span
        spans = iter_spans(source, start, end, first, max_line_bytes, CRAWL_ERRORS)
        return replace(self, lines=[(n, line) for n, line, _ in spans])

    @property
    def line_range(self) -> tuple[int, int]:
        """First and last crawl line numbers; (0, -1) for no lines."""
        return (self.lines[0][0], self.lines[-1][0]) if self.lines else (0, -1)


def iter_chunks(source: Path, chunk_size: int, max_line_bytes: int | None = None) -> Iterator[Chunk]:
    """Chunks of the crawl in order, with repeated ids marked. Memory: one 64-bit hash per id, and
    lines of at most `max_line_bytes` (a longer one is carried as a marker, wsdata.io.crawl.TOO_LONG)."""
    seen: dict[int, int] = {}
    chunk, start, first = Chunk(0, []), 0, 1
    for lineno, line, end in iter_spans(source, max_bytes=max_line_bytes, errors=CRAWL_ERRORS):
        ident = peek_id(line)
        if ident is not None:
            k = stable_hash(ident)
            if k in seen:
                chunk.duplicate_of[lineno] = seen[k]
            else:
                seen[k] = lineno
        chunk.lines.append((lineno, line))
        if len(chunk.lines) == chunk_size:
            chunk.span = (start, end, first)
            yield chunk
            chunk, start, first = Chunk(chunk.index + 1, []), end, lineno + 1
    if chunk.lines:
        chunk.span = (start, end, first)
        yield chunk
