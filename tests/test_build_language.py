"""End-to-end language routing and caption agreement with the real Whisper-base on real speech: a
French recording under English subtitles becomes translate rows (kept by the agreement check);
Italian subtitles over Spanish audio are a mismatch; Italian subtitles of other prompts over
Italian audio are rejected by the agreement check, the right ones kept."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import all_rows, make_doc
from wsdata.verify import check_accounting

pytestmark = [pytest.mark.slow, pytest.mark.model]


@pytest.fixture(scope="module")
def lid_build(tmp_path_factory, whisper_base):
    from tests.helpers import DATA

    work = tmp_path_factory.mktemp("lid")
    src = work / "crawl"
    src.mkdir()
    (work / "speech").symlink_to(DATA / "speech")
    docs = [
        make_doc(src, "fr-audio-en-subs", "fr", "en"),
        make_doc(src, "es-audio-it-subs", "es", "it"),
        make_doc(src, "it-audio-it-subs", "it", "it"),
        make_doc(src, "it-audio-other-subs", "it", "it", other_text=True),
    ]
    crawl = src / "crawl.jsonl"
    crawl.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out = work / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsdata.cli",
            "build",
            "--source",
            str(crawl),
            "--out",
            str(out),
            "--audio-lid",
            whisper_base,
            "--lid-device",
            "cpu",
            "--asr",
            whisper_base,
            "--set",
            "agree.device=cpu",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "spoken language from" in proc.stderr and "(ctranslate2)" in proc.stderr
    assert "captions checked against" in proc.stderr
    assert check_accounting(out, crawl) == []
    return out


def test_french_audio_with_english_subtitles_is_translate(lid_build):
    data, _ = all_rows(lid_build)
    rows = [r for r in data if r["doc_id"] == "fr-audio-en-subs"]
    assert rows and all((r["task"], r["language"], r["audio_language"]) == ("translate", "fr", "fr") for r in rows)
    assert all(r["text_language"] == "en" for r in rows if r["text"]) and "Please" in " ".join(r["text"] for r in rows)
    assert rows[0]["audio_language_prob"] >= 0.5
    assert json.loads(rows[0]["evidence"])["text_language"] == "en"


def test_italian_subtitles_over_spanish_audio_are_a_mismatch(lid_build):
    data, rejects = all_rows(lid_build)
    assert not [r for r in data if r["doc_id"] == "es-audio-it-subs"]
    (doc,) = [r for r in rejects if r["doc_id"] == "es-audio-it-subs" and r["segment_id"] is None]
    assert doc["reason"] == "language.mismatch" and "spoken es" in doc["detail"] and "written it" in doc["detail"]
    segs = [r for r in rejects if r["doc_id"] == "es-audio-it-subs" and r["segment_id"]]
    assert segs and all(r["reason"] == "segment.document_rejected" for r in segs)


def test_matching_languages_are_transcribe(lid_build):
    data, _ = all_rows(lid_build)
    rows = [r for r in data if r["doc_id"] == "it-audio-it-subs"]
    assert rows and all((r["task"], r["language"]) == ("transcribe", "it") for r in rows)
    stats = json.loads((lid_build / "stats.json").read_text())
    assert stats["audio_language_id"] and "Whisper model" in (lid_build / "README.md").read_text()
    assert stats["by_language_task"]["fr"]["translate"]["segments"] >= 1


def test_a_caption_of_other_prompts_is_rejected_by_the_model(lid_build):
    data, rejects = all_rows(lid_build)
    assert not [r for r in data if r["doc_id"] == "it-audio-other-subs"]
    (doc,) = [r for r in rejects if r["doc_id"] == "it-audio-other-subs" and r["segment_id"] is None]
    assert doc["reason"] in ("agree.document_wer", "agree.segment_wer"), doc
    segs = [r for r in rejects if r["doc_id"] == "it-audio-other-subs" and r["segment_id"] and r["asr_text"]]
    assert segs and all(r["asr_wer"] > 0.8 for r in segs)


def test_right_captions_and_translations_are_kept_with_their_wer(lid_build):
    data, _ = all_rows(lid_build)
    right = [r for r in data if r["doc_id"] == "it-audio-it-subs" and not r["no_speech"]]
    assert right and all(r["asr_text"] and r["asr_wer"] is not None and r["asr_wer"] <= 0.8 for r in right)
    assert json.loads(right[0]["evidence"])["asr_wer"] <= 0.75
    translated = [r for r in data if r["doc_id"] == "fr-audio-en-subs" and not r["no_speech"]]
    assert translated and all(r["task"] == "translate" and r["asr_wer"] is not None for r in translated)
    assert "not judged" in json.loads(translated[0]["evidence"])["agree_skipped"]
    stats = json.loads((lid_build / "stats.json").read_text())
    assert [s["step"] for s in stats["funnel"]][-1] == "agree"
