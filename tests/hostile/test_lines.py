"""No crawl line can stop a build: JSON nested past the parser's limit and lone UTF-16 surrogates
(valid JSON escapes, invalid Unicode, common in scraped text) in any field become rejects or safe
strings, and the build goes on with its books balanced."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import EN_AUDIO, EN_SRT, all_rows
from wsdata.chunks import iter_chunks
from wsdata.cli import main
from wsdata.io.captions import TranscriptError, parse
from wsdata.io.crawl import peek_id, read_record
from wsdata.layout import Layout
from wsdata.verify import check_accounting

DEEP = "[" * 100_000
GOOD = {"id": "good", "audio": str(EN_AUDIO), "transcript": str(EN_SRT), "language": "en", "source": "s"}


def test_nesting_past_the_parser_limit_is_invalid_json():
    doc_id, rej = read_record(DEEP, 7, Path("."))
    assert doc_id is None and rej.reason == "read.invalid_json" and "nested too deeply" in rej.detail
    assert peek_id(DEEP) is None
    nested_id = '{"id": "x", "meta": ' + "[" * 100_000 + "}"
    assert read_record(nested_id, 1, Path("."))[1].reason == "read.invalid_json"


def test_lone_surrogates_become_replacement_characters():
    line = json.dumps({**GOOD, "id": "ab", "source": "\udfff", "meta": {"k\ud800": ["\ud801"]}})
    doc = read_record(line, 1, Path("."))
    assert (doc.id, doc.source, doc.passthrough["meta"]) == ("ab", "\ufffd", {"k\ufffd": ["\ufffd"]})
    assert peek_id(line) == "ab"
    in_id = json.dumps({**GOOD, "id": "a\ud800b"})  # an id is never mended: tests/hostile/test_identity.py
    assert read_record(in_id, 1, Path("."))[1].reason == "read.invalid_field" and peek_id(in_id) is None
    pair = json.dumps({**GOOD, "id": "\ud83d\ude00"})  # a real pair is one character, kept as it is
    assert read_record(pair, 1, Path(".")).id == "\U0001f600"


def test_json_transcripts_with_surrogates_or_deep_nesting():
    tr = parse(json.dumps([{"start": 0, "end": 2, "text": "bad \ud800 cue"}]), "json")
    assert tr.cues[0].text == "bad \ufffd cue"
    with pytest.raises(TranscriptError) as e:
        parse(DEEP, "json")
    assert e.value.code == "transcript_malformed"


def hostile_crawl(tmp: Path) -> Path:
    lines = [json.dumps(GOOD), DEEP]
    for field in ("id", "source", "audio", "url", "license"):
        rec = dict(GOOD, id=f"sur-{field}")
        rec[field] = rec.get(field, "") + "\ud800x"
        lines.append(json.dumps(rec))
    lines.append(json.dumps({"id": "sur-text", "audio": str(EN_AUDIO), "text": "hello \ud800 world"}))
    lines.append(json.dumps({**GOOD, "id": "sur-meta", "meta": {"\udc00": "\ud800"}}))
    path = tmp / "crawl.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_hostile_crawl_builds_to_the_end(tmp_path, capsys):
    src, out = hostile_crawl(tmp_path), tmp_path / "out"
    assert main(["build", "--source", str(src), "--out", str(out), "--quiet", "--no-dedup"]) == 0
    assert check_accounting(out, src) == []
    kept, rejects = all_rows(out)
    kept_docs = {r["doc_id"] for r in kept}
    assert kept_docs == {"good", "sur-source", "sur-url", "sur-license", "sur-meta"}
    assert {r["reason"] for r in rejects if r["line"] == 2} == {"read.invalid_json"}
    assert {(r["reason"], r["doc_id"]) for r in rejects if r["line"] == 3} == {("read.invalid_field", None)}
    assert {r["reason"] for r in rejects if r["doc_id"] == "sur-audio"} == {"pair.audio_missing"}
    assert {r["source"] for r in kept} == {"s", "s\ufffdx"}
    assert {r["url"] for r in kept if r["doc_id"] == "sur-url"} == {"\ufffdx"}
    stats = json.loads(Layout(out).stats.read_text(encoding="utf-8"))
    assert stats["documents"]["in"] == 9 and stats["documents"]["kept"] == len(kept_docs)
    assert pq.read_table(Layout(out).queue).num_rows > 0


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    ),
    st.text(max_size=40),
)
def test_any_json_value_or_text_is_a_document_or_a_reject(value, junk):
    """No uncaught exception from the read stage, whatever the line holds."""
    for line in (json.dumps(value), json.dumps({"id": junk, "audio": junk, "text": value}), junk):
        got = read_record(line, 1, Path("."))
        assert hasattr(got, "id") or got[1].reason.startswith("read.")
        peek_id(line)


def test_the_chunker_survives_every_hostile_line(tmp_path):
    src = hostile_crawl(tmp_path)
    chunks = list(iter_chunks(src, 4))
    assert sum(len(c.lines) for c in chunks) == 9
