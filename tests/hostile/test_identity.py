"""Identity is exact: a crawl id that UTF-8 cannot store as it is (a lone surrogate escape, a byte
that is not UTF-8) or that C strings cut short (NUL) is a `read.invalid_field` reject, never mended
into an id another line may hold; every other string stays a legal id, kept as it is. The duplicate
check (chunks, peek_id) and the dedup pass agree with the read stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import EN_AUDIO, EN_SRT, all_rows
from wsdata.chunks import iter_chunks
from wsdata.cli import main
from wsdata.io.crawl import peek_id, read_record
from wsdata.verify import check_accounting

GOOD = {"audio": str(EN_AUDIO), "transcript": str(EN_SRT), "language": "en", "source": "s"}


def line(ident: str) -> str:
    return json.dumps({"id": ident, **GOOD})


RAW_BYTE = b'{"id": "sur-id\xff", "audio": ' + json.dumps(str(EN_AUDIO)).encode() + b', "text": "hi"}'


@pytest.mark.parametrize(
    "text, why",
    [
        (line("sur-id\ud800"), "U+D800"),  # written by json.dumps as the escape \ud800
        (line("sur-id\udfff"), "U+DFFF"),
        (line("\udbff\udbff"), "U+DBFF"),  # two high halves are no pair
        (RAW_BYTE.decode("utf-8", "surrogateescape"), "U+DCFF"),  # the byte 0xff, as the chunker decodes it
        (line("a\x00b"), "NUL"),
    ],
)
def test_an_id_that_cannot_be_stored_exactly_is_an_invalid_field(text, why):
    doc_id, rej = read_record(text, 5, Path("."))
    assert doc_id is None and rej.reason == "read.invalid_field"
    assert rej.detail.startswith("line 5: id ") and why in rej.detail
    assert peek_id(text) is None  # no duplicate of anything, and nothing is its duplicate


@pytest.mark.parametrize(
    "ident",
    ["sur-id\ufffd", "\U0001f600", "日本語", "a b\tc\nd", "\u200b", "x" * 300, "../../etc/passwd", "'; DROP"],
)
def test_every_other_string_is_a_legal_id_kept_as_it_is(ident):
    assert read_record(line(ident), 1, Path(".")).id == ident
    assert peek_id(line(ident)) == ident


def test_a_surrogate_in_another_field_is_still_mended():
    doc = read_record(json.dumps({"id": "ok", **GOOD, "source": "s\ud800", "text": "t\udfff"}), 1, Path("."))
    assert (doc.id, doc.source) == ("ok", "s\ufffd")
    raw = RAW_BYTE.replace(b'"sur-id\xff"', b'"ok", "source": "s\xfe"').decode("utf-8", "surrogateescape")
    doc = read_record(raw, 1, Path("."))
    assert (doc.id, doc.source) == ("ok", "s\ufffd")


def collide_crawl(tmp: Path) -> Path:
    """Four ids that a mended read would have made one ("sur-id\ufffd"), and a real duplicate."""
    lines = [
        line("sur-id\ufffd").encode(),  # 1: a legal id that holds U+FFFD itself: kept
        line("sur-id\ud800").encode(),  # 2: a lone surrogate escape
        line("sur-id\udbff").encode(),  # 3: another one
        RAW_BYTE,  # 4: the byte 0xff, not UTF-8
        line("sur\x00id").encode(),  # 5: NUL
        line("twice").encode(),  # 6
        line("twice").encode(),  # 7: a real duplicate of line 6
    ]
    path = tmp / "crawl.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_the_chunker_marks_only_real_duplicates(tmp_path):
    src = collide_crawl(tmp_path)
    chunks = list(iter_chunks(src, 3))
    assert {k: v for c in chunks for k, v in c.duplicate_of.items()} == {7: 6}
    for c in chunks:  # a Ray task re-reads its chunk's bytes to the same lines
        assert c.without_lines().with_lines(src, 1 << 20).lines == c.lines


@pytest.mark.slow
def test_ids_that_would_have_collided_are_all_accounted_for(tmp_path):
    src, out = collide_crawl(tmp_path), tmp_path / "out"
    args = ["--quiet", "--no-dedup", "--set", "read.chunk_size=3"]
    assert main(["build", "--source", str(src), "--out", str(out), *args]) == 0
    assert check_accounting(out, src) == []
    kept, rejects = all_rows(out)
    assert {r["doc_id"] for r in kept} == {"sur-id\ufffd", "twice"}
    doc_rejects = {r["line"]: (r["reason"], r["doc_id"]) for r in rejects if r["segment_id"] is None}
    for n in (2, 3, 4, 5):
        assert doc_rejects[n] == ("read.invalid_field", None)
    assert doc_rejects[7][0] == "read.duplicate_id"
    assert [r for r in rejects if r["reason"] == "read.duplicate_id"] == [r for r in rejects if r["line"] == 7]
