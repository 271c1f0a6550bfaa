"""Every transcript parser, fed random bytes and mangled captions, returns a transcript or raises
TranscriptError (a pair.* reject); nothing else escapes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import EN_SRT, ES_VTT
from wsdata.io.captions import TranscriptError, detect_format, parse
from wsdata.io.textenc import UndecodableText, decode_text

REAL = EN_SRT.read_text(encoding="utf-8") + "\n" + ES_VTT.read_text(encoding="utf-8")
timing = st.from_regex(
    r"\d{0,3}:?\d{1,3}:\d{1,3}[,.]\d{0,4} -{1,3}> ?\d{0,3}:?\d{1,3}:\d{1,3}[,.]?\d{0,4}", fullmatch=True
)


@st.composite
def mangled(draw) -> str:
    """Real captions with lines replaced, dropped or duplicated, random timings and junk mixed in."""
    lines = REAL.splitlines()
    for _ in range(draw(st.integers(0, 12))):
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = draw(st.one_of(timing, st.text(max_size=30), st.just(""), st.just("WEBVTT"), st.just("99")))
    return "\n".join(lines)


@settings(max_examples=150, deadline=None)
@given(st.one_of(mangled(), st.text(max_size=300)), st.sampled_from(["srt", "vtt", "json", "txt"]))
def test_parsers_return_or_raise_transcript_error(text, fmt):
    try:
        tr = parse(text, fmt)
    except TranscriptError as e:
        assert e.code in ("transcript_malformed", "transcript_empty", "transcript_unsupported")
        return
    assert all(0 <= c.start_ms < c.end_ms for c in tr.cues)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["a.srt", "a.vtt", "a.json", "a.txt", "a.sub"]))
def test_random_bytes_decode_and_parse_or_give_a_reason(data, name):
    try:
        text, _ = decode_text(data)
        parse(text, detect_format(name, text))
    except (UndecodableText, TranscriptError):
        pass
