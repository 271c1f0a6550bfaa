"""Fields and files a crawl gets wrong: language tags, JSON transcripts with absurd numbers, and
quarantine names that must read back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import EN_AUDIO, SOURCE
from wsdata.cli import main
from wsdata.datamodel import Document, Transcript
from wsdata.hygiene import parse_quarantine, quarantine_line
from wsdata.io.captions import parse
from wsdata.io.crawl import read_record
from wsdata.languages import claim


@pytest.mark.parametrize(
    "tag, code",
    [
        ("en", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("EN", "en"),
        ("pt-BR", "pt"),
        ("zh-Hant", "zh"),
        ("iw", "he"),
        ("jw", "jv"),
        ("nb", "no"),
        ("haw", "haw"),
        ("zz", None),
        ("xyz-Q", None),
    ],
)
def test_language_tags_normalise_to_whispers_codes(tag, code):
    assert claim(tag) == code
    doc = read_record(json.dumps({"id": "d", "audio": "a", "text": "t", "language": tag}), 1, Path("."))
    assert doc.language == code
    assert doc.evidence.get("language_claim") == (None if tag == code else tag)  # the claim as written


@pytest.mark.parametrize("tag", ["en\n", "e", "english", "en-", "en US", "1a"])
def test_malformed_language_tags_are_invalid_fields(tag):
    got = read_record(json.dumps({"id": "d", "audio": "a", "text": "t", "language": tag}), 1, Path("."))
    assert got[1].reason == "read.invalid_field" and "language" in got[1].detail


@pytest.mark.parametrize("value", ["1e999", "-1e999", "Infinity", "NaN", "1e300", '"x"', "null", "[]"])
def test_absurd_json_cue_times_are_bad_cues_not_crashes(value):
    text = f'[{{"start": 0, "end": {value}, "text": "a"}}, {{"start": 1, "end": 2, "text": "b"}}]'
    tr = parse(text, "json")
    assert [c.text for c in tr.cues] == ["b"] and len(tr.bad_cues) == 1


def test_quarantine_names_read_back_exactly(tmp_path):
    names = ["#chan", " spaced ", "two\nlines", "plain", 'quote"d', "ünï"]
    text = "".join(quarantine_line(n) + "\n" for n in names)
    assert parse_quarantine(text) == set(names)
    # hand-written files keep their meaning: stripped names, `#` comment lines
    assert parse_quarantine("# sources to drop\n  youtube:@a  \n\n") == {"youtube:@a"}


@pytest.mark.slow
def test_quarantine_round_trip_through_the_commands(tmp_path, capsys):
    from wsdata.config import BuildConfig, override
    from wsdata.stages.text import TextClean

    out = tmp_path / "built"
    assert main(["build", "--source", str(SOURCE), "--out", str(out), "--quiet", "--no-dedup"]) == 0
    for name in ("#chan", " spaced ", "two\nlines"):
        assert main(["review", str(out), "--quarantine", name]) == 0
    qfile = out / "review" / "quarantine.txt"
    cfg = override(BuildConfig(), {"text.quarantine": str(qfile)})

    def verdict(source: str) -> str | None:
        tr = Transcript("inline", [], "Hello there.")
        rej = TextClean(cfg).process(Document("d", 1, str(EN_AUDIO), None, "x", None, "manual", source, transcript=tr))
        return rej.reason if rej else None

    assert [verdict(n) for n in ("#chan", " spaced ", "two\nlines")] == ["text.quarantined_source"] * 3
    assert [verdict(n) for n in ("spaced", "two", "chan")] == [None] * 3  # exactly those names, no others


def test_an_unreadable_quarantine_file_is_one_error_at_start(tmp_path, capsys):
    bad = tmp_path / "q.txt"
    bad.write_bytes(b"youtube:@a\n\xff\n")
    rc = main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--quarantine", str(bad), "--quiet"])
    assert rc == 2 and "cannot read it as UTF-8 text" in capsys.readouterr().err
    assert not (tmp_path / "o" / "stats.json").exists()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("int.jsonl", b'{"text": 3}\n', "not a JSON object with a string `text` field"),
        ("null.jsonl", b'{"text": null}\n', "not a JSON object with a string `text` field"),
        ("deep.jsonl", b"[" * 100_000 + b"\n", "not a JSON object with a string `text` field"),
        ("fake.parquet", b"PAR1 this is no parquet", "not a readable Parquet file"),
        ("latin1.txt", b"caf\xe9\n", "not UTF-8 text"),
    ],
)
def test_a_bad_exclude_file_is_one_error_at_start(tmp_path, capsys, name, content, message):
    bad = tmp_path / name
    bad.write_bytes(content)
    rc = main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--exclude", str(bad), "--quiet"])
    assert rc == 2 and message in capsys.readouterr().err


def test_a_text_file_given_as_audio_is_not_quoted_in_the_reject(tmp_path):
    from wsdata.io.audio import AudioError, decode

    secret = tmp_path / "passwd.mp3"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(AudioError) as e:
        decode(str(secret))
    assert e.value.code == "audio_not_media" and "root" not in str(e.value)


def test_a_full_disk_is_one_line_and_a_resumable_build(tmp_path, capsys, monkeypatch):
    import errno

    from wsdata.io import atomic

    def full(tmp, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "commit", full)
    rc = main(["build", "--source", str(SOURCE), "--out", str(tmp_path / "o"), "--quiet", "--no-dedup"])
    err = capsys.readouterr().err
    assert rc == 1 and "No space left on device" in err and "rerun the same command to resume" in err
    assert "Traceback" not in err


def test_a_full_disk_while_spilling_audio_stops_the_build_not_the_document(tmp_path, capsys, monkeypatch):
    import errno

    from wsdata.io import pcm

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pcm.Pcm, "append", full)  # the machine's disk, not the crawl's fault
    out = tmp_path / "o"
    rc = main(["build", "--source", str(SOURCE), "--out", str(out), "--quiet", "--no-dedup"])
    err = capsys.readouterr().err
    assert rc == 1 and "No space left on device" in err and "Traceback" not in err
    assert not list((out / "rejects").glob("*.parquet"))  # no document was blamed for it
    monkeypatch.undo()
    assert main(["build", "--source", str(SOURCE), "--out", str(out), "--quiet", "--no-dedup"]) == 0
