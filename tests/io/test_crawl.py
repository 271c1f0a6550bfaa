from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsdata.datamodel import Document
from wsdata.io.crawl import iter_lines, read_record

BASE = Path("/data/crawl")


def rec(line: str, dup=None):
    return read_record(line, 7, BASE, dup)


def test_valid_line_resolves_relative_paths_and_passes_fields_through():
    doc = rec(
        '{"id": "a", "audio": "m/a.opus", "transcript": "s3://b/a.vtt", "language": "fr", "url": "u", "meta": {"k": 1}}'
    )
    assert isinstance(doc, Document)
    assert doc.audio_uri == "/data/crawl/m/a.opus" and doc.transcript_uri == "s3://b/a.vtt"
    assert doc.language == "fr" and doc.passthrough == {"url": "u", "meta": {"k": 1}} and doc.line == 7


def test_file_uri_and_absolute_paths():
    doc = rec('{"id": "a", "audio": "file:///x/a.wav", "text": "hi"}')
    assert doc.audio_uri == "/x/a.wav" and doc.inline_text == "hi" and doc.transcript_uri is None


@pytest.mark.parametrize(
    "line, reason",
    [
        ('{"id": "a", "audio": "x.wav", "transcript": "x', "read.invalid_json"),
        ("not json at all", "read.invalid_json"),
        ('["a"]', "read.not_an_object"),
        ('{"audio": "x.wav", "text": "t"}', "read.missing_field"),
        ('{"id": "a", "text": "t"}', "read.missing_field"),
        ('{"id": "a", "audio": "x.wav"}', "read.missing_field"),
        ('{"id": 5, "audio": "x.wav", "text": "t"}', "read.invalid_field"),
        ('{"id": "a", "audio": "x.wav", "text": "t", "caption_kind": "robot"}', "read.invalid_field"),
        ('{"id": "a", "audio": "x.wav", "text": "t", "language": "English"}', "read.invalid_field"),
    ],
)
def test_bad_lines_are_read_rejects(line, reason):
    got = rec(line)
    assert not isinstance(got, Document)
    _, rej = got
    assert rej.reason == reason and "line 7" in rej.detail


def test_duplicate_id_names_the_first_line():
    ident, rej = rec('{"id": "a", "audio": "x.wav", "text": "t"}', dup=3)
    assert ident == "a" and rej.reason == "read.duplicate_id" and "line 3" in rej.detail


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.one_of(st.just(b""), st.just(b"  \r"), st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" "))),
        max_size=30,
    ),
    chunk_size=st.integers(1, 7),
)
def test_a_chunk_shipped_as_a_byte_range_reads_back_the_same_lines(tmp_path, lines, chunk_size):
    """What a Ray task re-reads from its (start, end, first line) is what the driver cut."""
    from wsdata.chunks import iter_chunks

    path = tmp_path / "crawl.jsonl"
    path.write_bytes(b"\n".join(lines))
    chunks = list(iter_chunks(path, chunk_size, 20))  # lines of over 20 bytes are carried as markers
    assert [n for c in chunks for n, _ in c.lines] == [n for n, _ in iter_lines(path, 20)]
    for c in chunks:
        assert c.without_lines().lines == [] and c.without_lines().with_lines(path, 20).lines == c.lines
