"""The text stage: phrase packs, sound tags, speaker labels, and the per-segment gates."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import MINI
from tests.helpers import load_transcript as load
from wsdata import config
from wsdata.datamodel import Cue, Document, Segment, Transcript
from wsdata.hygiene import (
    count_tokens,
    has_speaker_label,
    load_phrases,
    load_sound_words,
    strip_boilerplate,
    strip_sound_tags,
)
from wsdata.stages.text import TextClean, TextGates

CFG = config.load("default")
PHRASES = load_phrases(CFG.text.boilerplate)
SOUNDS = load_sound_words(CFG.text.sound_tags)


def clean(tr: Transcript, cfg=CFG):
    d = Document("d", 1, "a.wav", "t.vtt", None, "es", "manual", "s", transcript=tr)
    r = TextClean(cfg)(d)
    return (r.reason if r else None), d


@pytest.mark.parametrize(
    "text",
    [
        "Subtitles by the Amara.org community",
        "Subtítulos realizados por la comunidad de Amara.org",
        "Untertitel im Auftrag des ZDF, 2020",
        "Untertitel im Auftrag des ZDF für funk, 2017",
        "Sous-titres réalisés para la communauté d'Amara.org",
        "Thanks for watching!",
        "Subtitles by John Smith",
        "ご視聴ありがとうございました",
        "Продолжение следует...",
    ],
)
def test_whole_boilerplate_cues_leave_nothing(text):
    left, n = strip_boilerplate(text, PHRASES)
    assert n >= 1 and not any(c.isalpha() for c in left)


def test_boilerplate_at_the_edges_only():
    assert strip_boilerplate("Hola a todos. Subtítulos realizados por la comunidad de Amara.org", PHRASES) == (
        "Hola a todos.",
        1,
    )
    assert strip_boilerplate("Thanks for watching! Next week, more.", PHRASES) == ("Next week, more.", 1)
    # The same words inside a sentence are speech.
    assert strip_boilerplate("I told him thanks for watching the kids.", PHRASES) == (
        "I told him thanks for watching the kids.",
        0,
    )


def test_real_vtt_boilerplate_cue_is_dropped():
    tr = load(MINI / "subs" / "vm-097850963.es.vtt")
    n_cues = len(tr.cues)
    reason, d = clean(tr)
    assert reason is None and len(d.transcript.cues) == n_cues - 1
    assert "Amara" not in d.transcript.text
    assert d.evidence == {"cues_dropped": 1, "boilerplate_removed": 1, "sound_tags_removed": 0}


def test_real_human_captions_are_untouched():
    tr = load(MINI / "subs" / "yt-Uo9P_bgKdA6.en.srt")
    before = [c.text for c in tr.cues]
    reason, d = clean(tr)
    assert reason is None and [c.text for c in d.transcript.cues] == before


def test_sound_tags():
    assert strip_sound_tags("[Music] Hello there.", SOUNDS, True) == ("Hello there.", 1)
    assert strip_sound_tags("(applause) Bravo! (risas)", SOUNDS, True) == ("Bravo!", 2)
    assert strip_sound_tags("(laughs softly) No.", SOUNDS, True) == ("No.", 1)
    assert strip_sound_tags("He said (and I quote) no.", SOUNDS, True) == ("He said (and I quote) no.", 0)
    assert strip_sound_tags("♪ la la la ♪", SOUNDS, True) == ("la la la", 2)
    assert strip_sound_tags("[John] hi", SOUNDS, False) == ("[John] hi", 0)


def test_a_transcript_of_only_boilerplate_is_rejected():
    cues = [Cue(0, 2000, "[Music]"), Cue(2000, 5000, "Subtitles by the Amara.org community")]
    reason, _ = clean(Transcript("vtt", cues, " ".join(c.text for c in cues)))
    assert reason == "text.empty_after_cleaning"
    reason, _ = clean(Transcript("inline", [], "(applause) Thanks for watching!"))
    assert reason == "text.empty_after_cleaning"


def test_phrase_pack_of_ones_own(tmp_path):
    pack = tmp_path / "mine.txt"
    pack.write_text("# my channel's sign-off\nsee you on the other side\n", encoding="utf-8")
    cfg = dataclasses.replace(CFG, text=dataclasses.replace(CFG.text, boilerplate=("boilerplate", str(pack))))
    cues = [Cue(0, 2000, "Good morning."), Cue(2000, 4000, "See you on the other side!")]
    reason, d = clean(Transcript("vtt", cues, ""), cfg)
    assert reason is None and [c.text for c in d.transcript.cues] == ["Good morning."]
    with pytest.raises(config.ConfigError, match="no-such-pack"):
        config.from_dict({"text": {"boilerplate": ["no-such-pack"]}})


@pytest.mark.parametrize(
    "text, labelled",
    [
        (">> JOHN: Good evening.", True),
        ("JOHN SMITH: Hello.", True),
        ("- Mary: Yes. - Tom: No.", True),
        (">> Good evening.", True),
        ("Please enter your password followed by the pound key.", False),
        ("Il a dit : non.", False),
        ("The time is 10:30 now.", False),
    ],
)
def test_speaker_labels(text, labelled):
    assert has_speaker_label(text) is labelled


def test_token_counts_match_whisper_vocabulary():
    # Whisper's multilingual BPE: " Hello" " world" "." ; a Cyrillic sentence costs more tokens per word.
    assert count_tokens(["Hello world."]) == [3]
    assert count_tokens([]) == []
    en, ru = count_tokens(["Please enter your password.", "Пожалуйста, введите пароль."])
    assert ru > en


def seg(text: str, start: int, end: int, speech: float = 0.8, **kw) -> Segment:
    s = Segment(0, start, end, [Cue(start, end, text)] if text else [], speech_ratio=speech, **kw)
    return s


def gates(*segs: Segment, cfg=CFG) -> list[str | None]:
    d = Document("d", 1, "a.wav", "t.vtt", None, "en", "manual", "s")
    assert TextGates(cfg).process(d, list(segs)) is None  # segment verdicts only; the base decides the document
    return [s.reject.reason if s.reject else None for s in segs]


def test_gates_keep_real_speech_rates():
    tr = load(MINI / "subs" / "yt-Uo9P_bgKdA6.en.srt")
    segs = [seg(c.text, c.start_ms, c.end_ms) for c in tr.cues]
    assert gates(*segs) == [None] * len(segs)


def test_chars_per_second_gates():
    long_text = "Please enter your password followed by the pound key. " * 6  # 324 chars
    assert gates(seg(long_text, 0, 5000)) == ["text.chars_per_second_high"]
    assert gates(seg("Yes.", 0, 30_000, speech=0.9)) == ["text.chars_per_second_low"]
    # Low is judged over voiced time: "Hello ... Goodbye" across a pause is fine.
    assert gates(seg("Hello. Goodbye.", 0, 20_000, speech=0.1)) == [None]


def test_token_gate_counts_prompt_room_and_timestamps():
    # 35 real-length Russian prompts in 30 s (31 chars/s, under the rate gate): the target with its two
    # timestamp tokens per cue fits 448, but not 448 minus the 64 tokens kept for the prompt.
    cues = [Cue(i * 850, i * 850 + 800, "Пожалуйста, введите пароль.") for i in range(35)]
    n_target = 4 + count_tokens([" ".join(c.text for c in cues)])[0] + 2 * len(cues)
    assert 448 - 64 < n_target <= 448
    assert gates(Segment(0, 0, 29_750, cues, speech_ratio=0.9)) == ["text.too_many_tokens"]
    cfg = dataclasses.replace(CFG, text=dataclasses.replace(CFG.text, prompt_reserve_tokens=0))
    assert gates(Segment(0, 0, 29_750, cues, speech_ratio=0.9), cfg=cfg) == [None]
    # Untimed text has no timestamp tokens.
    untimed = Segment(0, 0, 29_750, [Cue(0, 29_750, " ".join(c.text for c in cues))], speech_ratio=0.9, untimed=True)
    assert gates(untimed) == [None]


def test_gates_flag_speaker_labels_and_skip_no_speech():
    a = seg(">> ANNA: Hello, how are you today?", 0, 3000)
    b = seg("", 3000, 33_000, speech=0.0, no_speech=True)
    assert gates(a, b) == [None, None]
    assert a.speaker_labels and not b.speaker_labels
