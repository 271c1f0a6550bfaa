"""End-to-end language routing with the real Whisper-base on real speech: a French recording under
English subtitles becomes translate rows; Italian subtitles over Spanish audio are a mismatch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import all_rows, speech_rows
from wsdata.io.audio import decode, encode_flac
from wsdata.verify import check_accounting

pytestmark = [pytest.mark.slow, pytest.mark.model]
SPEECH_GAP_MS = 1500


def srt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def make_doc(folder, name: str, audio_lang: str, text_lang: str, n: int = 4) -> dict:
    """Real prompts of `audio_lang` joined with pauses; an SRT of the same prompts in `text_lang`."""
    rows = speech_rows()
    text = {(r["lang"], r["key"]): r["text"] for r in rows}
    keys = [r["key"] for r in rows if r["lang"] == audio_lang and r["has_audio"] == "1"][:n]
    pieces, srt, t = [], [], SPEECH_GAP_MS
    pieces.append(np.zeros(SPEECH_GAP_MS * 16, dtype=np.int16))
    for i, key in enumerate(keys, 1):
        clip = decode(str(folder.parent / "speech" / audio_lang / f"{key}.flac"))
        end = t + len(clip) // 16
        srt.append(f"{i}\n{srt_time(t)} --> {srt_time(end)}\n{text[(text_lang, key)]}\n")
        pieces += [clip, np.zeros(SPEECH_GAP_MS * 16, dtype=np.int16)]
        t = end + SPEECH_GAP_MS
    (folder / f"{name}.flac").write_bytes(encode_flac(np.concatenate(pieces)))
    (folder / f"{name}.srt").write_text("\n".join(srt), encoding="utf-8")
    return {
        "id": name,
        "audio": f"{name}.flac",
        "transcript": f"{name}.srt",
        "language": text_lang,
        "caption_kind": "manual",
        "source": "test",
    }


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
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "spoken language from" in proc.stderr and "(ctranslate2)" in proc.stderr
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
