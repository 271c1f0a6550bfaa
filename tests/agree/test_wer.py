"""Caption-vs-model error rates: Whisper's normalisers, numbers, accents, unspaced scripts, loops."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsdata.agree.wer import Errors, errors, model_looped, tokens


def test_the_english_normaliser_for_english():
    # spelling, contractions and numbers as Whisper's evaluation folds them
    assert errors("The colour is twenty-five percent, isn't it?", "the color is 25% is not it", "en").edits == 0


def test_numbers_and_accents_in_other_languages():
    assert errors("once doce trece", "11, 12, 13.", "es").rate == 0  # spelled out vs digits
    assert errors("mas informacion tecnica", "más información técnica", "es").rate == 0  # lost accents
    assert errors("Переадресация вызовов", "переадресация вызовов.", "ru").rate == 0


def test_unspaced_scripts_are_scored_by_characters():
    assert tokens("你好，世界", "zh") == ["你", "好", "世", "界"]
    assert errors("你好世界", "你好", "zh") == Errors(2, 4)


def test_rates_of_empty_texts():
    assert errors("", "", "en").rate == 0.0
    assert errors("", "hello there", "en").rate == 2.0  # every model word is an insertion
    assert errors("hello there", "", "en").rate == 1.0


@given(st.text(max_size=60), st.text(max_size=60), st.sampled_from(["en", "es", "ru", "zh", "fr", None]))
def test_errors_are_a_distance(a, b, lang):
    e, back = errors(a, b, lang), errors(b, a, lang)
    assert e.edits == back.edits >= 0  # Levenshtein is symmetric
    assert errors(a, a, lang).edits == 0
    assert e.edits <= max(e.length, len(tokens(b, lang)))


@pytest.mark.parametrize(
    "asr, looped",
    [
        ("6, 7, 7, 8, 8, 9, " + "8, 9, " * 30, True),
        ("thank you " * 12, True),
        ("Please check the number and dial again. Please press 1 to mute.", False),
        ("no no no", False),  # too short to call a loop
    ],
)
def test_model_loops_are_told_apart(asr, looped):
    assert model_looped(asr) is looped


def test_score_command_on_nothing_to_score(tmp_path, capsys, monkeypatch):
    from wsdata.cli import main
    from wsdata.lid import audio

    monkeypatch.setattr(audio, "load_audio_lid", lambda spec, device: object())  # never called on data
    assert main(["score", str(tmp_path / "nothing"), "--model", "m"]) == 2  # not a build
    assert "not found" in capsys.readouterr().err
    src = tmp_path / "c.jsonl"
    src.write_text('{"id": "x", "audio": "missing.opus", "text": "hi"}\n')
    assert main(["build", "--source", str(src), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["score", str(tmp_path / "out"), "--model", "m", "--quiet"]) == 0
    assert "nothing to score" in capsys.readouterr().out
