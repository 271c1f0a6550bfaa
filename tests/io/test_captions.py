"""Parsers on real caption files (tests/data, see ATTRIBUTION.md)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import DATA, MINI
from wsdata.datamodel import Cue
from wsdata.io.captions import TranscriptError, collapse_rolling, detect_format, parse
from wsdata.io.textenc import decode_text


def load(path):
    text, _ = decode_text(path.read_bytes())
    return parse(text, detect_format(str(path), text))


def test_srt_human_real_file():
    tr = load(MINI / "subs/yt-Uo9P_bgKdA6.en.srt")
    assert tr.format == "srt" and len(tr.cues) == 31 and not tr.bad_cues
    assert tr.cues[0].text.startswith("If this is correct, press")
    assert all(isinstance(c.start_ms, int) and c.start_ms < c.end_ms for c in tr.cues)
    assert all("\n" not in c.text and c.text == c.text.strip() for c in tr.cues)
    # raw text is kept: punctuation and case as written
    assert any("," in c.text for c in tr.cues) and any(c.text[0].isupper() for c in tr.cues)


def test_srt_first_cue_time_is_exact_ms():
    tr = load(MINI / "subs/yt-Uo9P_bgKdA6.en.srt")
    first = (MINI / "subs/yt-Uo9P_bgKdA6.en.srt").read_text().splitlines()[1]  # '00:00:01,234 --> ...'
    h, m, rest = first.split(" --> ")[0].split(":")
    s, ms = rest.split(",")
    assert tr.cues[0].start_ms == ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def test_vtt_with_cue_settings_and_boilerplate_text():
    tr = load(MINI / "subs/vm-097850963.es.vtt")
    assert tr.format == "vtt" and len(tr.cues) == 16
    assert tr.cues[-1].text == "Subtítulos realizados por la comunidad de Amara.org"


def test_utf16_bom_crlf_srt():
    raw = (MINI / "subs/yt-6YitTZQC4DX.fr.srt").read_bytes()
    assert raw[:2] == b"\xff\xfe"
    text, enc = decode_text(raw)
    assert enc.startswith("utf-16-le")
    tr = parse(text, "srt")
    assert len(tr.cues) == 26 and "\r" not in tr.text
    assert "Personne n'est en mesure" in tr.cues[0].text


def test_cp1252_srt_accents():
    raw = (MINI / "subs/yt-KVbFJfQaQpD.it.srt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text, enc = decode_text(raw)
    assert enc == "cp1252"
    assert any(ch in text for ch in "àèéìòù")


def test_cp1251_russian_is_told_apart_from_cp1252():
    # real Russian caption text (devcorpus prompt transcripts) saved in Windows-1251
    srt = (
        "1\n00:00:00,882 --> 00:00:03,212\nВы были удалены из конференции.\n\n"
        "2\n00:00:03,939 --> 00:00:06,358\nОшибочный номер! Попробуйте ещё раз.\n"
    )
    text, enc = decode_text(srt.encode("cp1251"))
    assert enc == "cp1251" and text == srt


def test_youtube_auto_captions_collapse_rolling_lines():
    tr = load(MINI / "subs/yt-XULGxIXxsa2.en.vtt")
    assert tr.word_timing_tags > 50 and tr.rolling_lines_collapsed > 20
    words = tr.text.split()
    # every caption line appears once: no word run is repeated back to back
    assert tr.text.startswith("you are currently caller number call forward unconditional to")
    for i in range(len(words) - 8):
        assert words[i : i + 4] != words[i + 4 : i + 8]
    assert "<" not in tr.text and "align:" not in tr.text


def test_youtube_dl_sample_real():
    tr = load(DATA / "subtitles/webvtt-py_youtube_dl.vtt")
    assert [c.text for c in tr.cues] == ["yeah", "what", "this will happen is I'm telling"]
    assert tr.word_timing_tags == 5


def test_overlapping_real_track_becomes_non_overlapping():
    tr = load(DATA / "subtitles/olmoasr_-t-J098gF10.en-uYU-mmqFLq8.vtt")
    assert len(tr.cues) > 1800
    for a, b in zip(tr.cues, tr.cues[1:]):
        assert a.end_ms <= b.start_ms and a.start_ms < a.end_ms


def test_garbage_timings_are_bad_cues_with_their_text():
    tr = load(MINI / "subs/yt-bLUhpzjtQd-.it.srt")
    assert tr.cues == [] and len(tr.bad_cues) == 16
    assert tr.bad_cues[0].timing == "00:00:x1,137 --> 00:0?:02,787"
    assert tr.bad_cues[0].text == "Il numero è stato con successo..."
    kinds = {b.timing for b in tr.bad_cues}
    assert "11333 --> 14323" in kinds and "00:00:16,870 -> 00:00:19,710" in kinds


def test_json_both_layouts_from_real_cues():
    src = load(MINI / "subs/yt-Uo9P_bgKdA6.en.srt").cues
    items = [{"start": c.start_ms / 1000, "end": c.end_ms / 1000, "text": c.text} for c in src]
    for payload in (items, {"segments": items}):
        tr = parse(json.dumps(payload), "json")
        assert tr.cues == src


def test_json_bad_items_are_counted():
    tr = parse(json.dumps([{"start": 1, "end": 0.5, "text": "reversed"}, {"start": 0, "end": 1, "text": "ok"}]), "json")
    assert [c.text for c in tr.cues] == ["ok"] and len(tr.bad_cues) == 1


def test_txt_and_unsupported():
    assert parse("Hello there.\n\nGeneral Kenobi.", "txt").text == "Hello there. General Kenobi."
    with pytest.raises(TranscriptError) as e:
        detect_format("x.ass", "[Script Info]\nTitle: x")
    assert e.value.code == "transcript_unsupported"


def test_markup_removed_text_kept():
    srt = '1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> {\\an8}&amp; <font color="red">welcome</font>\n- Yes.\n'
    assert parse(srt, "srt").cues[0].text == "Hello & welcome - Yes."


def test_human_repeated_line_is_kept_but_freeze_cue_dropped():
    cues = [Cue(0, 1000, "No."), Cue(1000, 2000, "No."), Cue(2000, 2010, "No.")]
    out, dropped = collapse_rolling(cues)
    assert [c.text for c in out] == ["No.", "No."] and dropped == 1
