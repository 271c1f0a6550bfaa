"""The machine stage: each signal and reason code, on real captions where there are any."""

from __future__ import annotations

import dataclasses
import re

import pytest

from tests.helpers import DATA, MINI, load_transcript
from wsdata import config
from wsdata.datamodel import Cue, Document, Transcript
from wsdata.io.captions import parse
from wsdata.reasons import REASONS
from wsdata.stages.machine import MachineFilter, loop_share

CFG = config.load("default")
HUMAN = [
    "yt-Uo9P_bgKdA6.en.srt",
    "vm-097850963.es.vtt",
    "yt-KVbFJfQaQpD.it.srt",
    "yt-6YitTZQC4DX.fr.srt",
    "yt-F7K1ZWJNSsh.fr.srt",
    "yt-RygkZxYJFVl.en.srt",
    "yt-simS9Vo1Atp.fr.srt",
]


load = load_transcript


def retext(tr: Transcript, f) -> Transcript:
    cues = [Cue(c.start_ms, c.end_ms, f(c.text)) for c in tr.cues]
    return Transcript(tr.format, cues, " ".join(c.text for c in cues))


def verdict(tr: Transcript, kind: str | None = "manual", cfg=CFG) -> tuple[str | None, Document]:
    d = Document("d", 1, "a.wav", "t.srt", None, None, kind, "s", transcript=tr)
    r = MachineFilter(cfg)(d)
    return (r.reason if r else None), d


SIGNALS = (
    "caption_kind",
    "word_timing_tags",
    "rolling_captions",
    "overlapping_cues",
    "all_caps",
    "all_lowercase",
    "no_punctuation",
    "no_sentence_structure",
    "repetition",
)


@pytest.mark.parametrize("name", HUMAN)
def test_real_human_captions_are_kept_with_a_margin(name):
    reason, d = verdict(load(MINI / "subs" / name))
    assert reason is None
    assert d.evidence["machine_score"] < 0.6  # every signal well below its threshold
    # every signal is reported, and each names a registered reason
    assert set(d.evidence["machine_signals"]) == set(SIGNALS)
    assert all(f"machine.{s}" in REASONS for s in SIGNALS)


def test_caption_kind_asr_alone_rejects_and_can_be_ignored():
    tr = load(MINI / "subs" / HUMAN[0])
    assert verdict(tr, kind="asr")[0] == "machine.caption_kind"
    cfg = dataclasses.replace(CFG, machine=dataclasses.replace(CFG.machine, trust_caption_kind=False))
    assert verdict(tr, kind="asr", cfg=cfg)[0] is None


def test_real_youtube_auto_captions_are_caught_by_their_layout():
    tr = load(DATA / "subtitles" / "webvtt-py_youtube_dl.vtt")  # real youtube-dl file, with casing cues
    reason, d = verdict(tr, kind=None)
    assert reason == "machine.word_timing_tags"
    assert d.evidence["machine_signals"]["rolling_captions"] >= CFG.machine.rolling_captions


def test_rolling_captions_without_word_tags():
    tr = load(MINI / "subs" / "yt-XULGxIXxsa2.en.vtt")
    tr.word_timing_tags = 0  # the same layout, as a tool that strips the tags would leave it
    reason, d = verdict(tr)
    assert d.evidence["machine_signals"]["rolling_captions"] > 0.5
    assert reason in ("machine.rolling_captions", "machine.all_lowercase", "machine.no_sentence_structure")
    cfg = dataclasses.replace(
        CFG, machine=dataclasses.replace(CFG.machine, all_lowercase=1e9, no_punctuation=1e9, no_sentence_structure=1e9)
    )
    assert verdict(tr, cfg=cfg)[0] == "machine.rolling_captions"


def test_real_overlapping_machine_track():
    """The OLMoASR stream track: Whisper-like casing and punctuation, but cues overlapping by seconds."""
    reason, d = verdict(load(DATA / "subtitles" / "olmoasr_-t-J098gF10.en-uYU-mmqFLq8.vtt"), kind=None)
    assert reason == "machine.overlapping_cues" and d.evidence["machine_signals"]["overlapping_cues"] > 0.35


def sloppy_srt(path, overlaps_ms=(400, 900, 1600, 1200, 700)) -> str:
    """A real human SRT whose every cue stays on screen 0.4-1.6 s into the next, as editors leave it."""
    blocks = path.read_text(encoding="utf-8").strip().split("\n\n")
    timing = re.compile(r"(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})")
    ms = lambda h, m, s, f: ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(f)
    fmt = lambda t: f"{t // 3600000:02d}:{t // 60000 % 60:02d}:{t // 1000 % 60:02d},{t % 1000:03d}"
    starts = [ms(*timing.search(b).groups()[:4]) for b in blocks]
    out = []
    for i, b in enumerate(blocks):
        m = timing.search(b)
        end = starts[i + 1] + overlaps_ms[i % len(overlaps_ms)] if i + 1 < len(blocks) else ms(*m.groups()[4:])
        out.append(b.replace(m.group(0), f"{fmt(starts[i])} --> {fmt(end)}"))
    return "\n\n".join(out) + "\n"


def test_sloppy_display_times_are_not_a_machine_signal():
    """Overlap without repetition, up to 1.6 s: kept, and each cue ends where the next starts."""
    text = sloppy_srt(MINI / "subs" / "yt-Uo9P_bgKdA6.en.srt")
    tr = parse(text, "srt")
    assert tr.overlapping_cues == 0
    assert all(a.end_ms == b.start_ms for a, b in zip(tr.cues, tr.cues[1:]))
    assert len(tr.cues) == len(load(MINI / "subs" / "yt-Uo9P_bgKdA6.en.srt").cues)
    assert verdict(tr)[0] is None
    # The same overlaps with the previous line repeated (a rolling layout) are a machine signal.
    blocks = text.strip().split("\n\n")
    rolled = [blocks[0]] + [f"{b}\n{blocks[i].split(chr(10), 2)[2]}" for i, b in enumerate(blocks[1:])]
    assert parse("\n\n".join(rolled) + "\n", "srt").overlapping_cues == len(blocks) - 1


@pytest.mark.parametrize("name", HUMAN[:4])
def test_all_caps_of_real_text(name):
    assert verdict(retext(load(MINI / "subs" / name), str.upper))[0] == "machine.all_caps"


def test_all_caps_in_cyrillic():
    text = (
        "После сигнала произнесите свое имя и нажмите решетку. Абонент не отвечает, оставьте сообщение. "
        "Пожалуйста, введите пароль и нажмите решетку. "
    )
    cue = Cue(0, 9000, text.upper())
    assert verdict(Transcript("srt", [cue], cue.text))[0] == "machine.all_caps"
    cue = Cue(0, 9000, text)
    assert verdict(Transcript("srt", [cue], cue.text))[0] is None


def test_caseless_scripts_are_not_judged_on_casing():
    ja = "お電話ありがとうございます。ただいま電話に出ることができません。発信音の後にメッセージをお願いします。" * 4
    zh = "您好，欢迎致电。请在提示音后留言，按井号键结束。我们会尽快给您回电。" * 4
    for text in (ja, zh):
        reason, d = verdict(Transcript("srt", [Cue(0, 20_000, text)], text))
        assert reason is None
        assert (
            d.evidence["machine_signals"]["all_caps"] is None and d.evidence["machine_signals"]["all_lowercase"] is None
        )


@pytest.mark.parametrize("name", HUMAN[:4])
def test_lowercased_real_text_without_punctuation(name):
    """What pocketsphinx or a flattened Whisper output looks like: lower case, no punctuation."""
    flat = retext(load(MINI / "subs" / name), lambda t: re.sub(r"[^\w\s']", "", t).lower())
    reason, d = verdict(flat)
    assert reason is not None and reason.split(".")[1] in ("all_lowercase", "no_sentence_structure", "no_punctuation")
    sig = d.evidence["machine_signals"]
    assert (
        sig["all_lowercase"] >= CFG.machine.all_lowercase
        and sig["no_sentence_structure"] >= CFG.machine.no_sentence_structure
    )


def test_all_lowercase_with_punctuation_kept():
    tr = retext(load(MINI / "subs" / HUMAN[0]), str.lower)
    reason, d = verdict(tr)
    assert reason == "machine.all_lowercase"
    assert d.evidence["machine_signals"]["no_sentence_structure"] < CFG.machine.no_sentence_structure


def test_no_punctuation_and_no_sentence_structure_separately():
    # Capitalised words, sentence ends, but not one comma, ? or ! over many words: inverse-normalised ASR.
    text = " ".join(["The call is being transferred to the next available agent."] * 20)
    cue = Cue(0, 60_000, text)
    cfg = dataclasses.replace(CFG, machine=dataclasses.replace(CFG.machine, repetition=1e9))
    assert verdict(Transcript("srt", [cue], text), cfg=cfg)[0] == "machine.no_punctuation"
    text = " ".join(["Hello, the call is being transferred to the next available agent"] * 10)
    cue = Cue(0, 60_000, text)
    assert verdict(Transcript("srt", [cue], text), cfg=cfg)[0] == "machine.no_sentence_structure"


def test_repetition_loop():
    base = load(MINI / "subs" / HUMAN[0])
    loop = Cue(200_000, 230_000, "Thank you. " * 60)
    tr = Transcript("srt", [*base.cues, loop], base.text + " " + loop.text)
    reason, d = verdict(tr)
    assert reason == "machine.repetition" and d.evidence["machine_signals"]["repetition"] >= 0.3


def test_loop_share():
    assert loop_share(["no", "no", "no", "i", "said"]) == pytest.approx(3 / 5)
    assert loop_share(["a", "b", "a", "b", "a", "b", "c"]) == pytest.approx(6 / 7)
    assert loop_share(["a", "b", "c", "d", "e", "f"]) == 0.0
    assert loop_share([]) == 0.0


def test_score_is_strongest_value_over_threshold():
    _, d = verdict(retext(load(MINI / "subs" / HUMAN[0]), str.upper))
    sig = d.evidence["machine_signals"]
    assert d.evidence["machine_score"] == pytest.approx(sig["all_caps"] / CFG.machine.all_caps, abs=1e-3)


def test_bad_threshold_is_named():
    with pytest.raises(config.ConfigError, match="machine.all_caps"):
        config.from_dict({"machine": {"all_caps": 0}})
