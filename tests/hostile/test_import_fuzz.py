"""Fuzzing each importer's record reader: whatever a Common Voice TSV row, a NeMo manifest line, a
lhotse cut or recording object or a Hugging Face row holds, it becomes an item or the reject of
its record (a registered reason), its staged crawl line reads back as a document or that reject,
and nothing raises but ImportError_ for a corpus that cannot be read at all. No record's command
is ever run (the marker file below is never created)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import SPEECH
from wsdata.datamodel import Document, Reject
from wsdata.interop import lhotse_manifests, readers
from wsdata.interop.manifest import ImportError_
from wsdata.interop.staging import Bounds, Item, crawl_line
from wsdata.io.crawl import STAGED_REJECT, id_problem, read_record
from wsdata.reasons import REASONS

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
CLIP = SPEECH / "en" / "agent-incorrect.flac"
MARKER = "/tmp/wsdata-fuzz-ran"  # what the command sources below would create

# Paths a hostile record might hold: outside the corpus, special, malformed, of schemes never read.
PATHS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "ok.flac",
            "../ok.flac",
            "/etc/passwd",
            "/dev/zero",
            "a\0b.flac",
            "file:///etc/passwd",
            "local:///etc/passwd",
            "ftp://host/x.wav",
            "~root/x.flac",
            "n" * 300,
            "d/" * 2100,
            "\ud800.flac",
        ]
    ),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=3))


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """`good` three times in four: records deep enough to reach staging, not only the first check."""
    return st.integers(0, 3).flatmap(lambda i: bad if i == 3 else good)  # 0, the simplest draw: good


TIMES = mostly(st.one_of(st.floats(min_value=0.05, max_value=8), st.integers(1, 8)), SCALARS)  # spans get cut
TEXT = mostly(st.text(max_size=30), VALUES)
OK_PATH = mostly(st.just("ok.flac"), st.one_of(PATHS, VALUES))


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    if not (corpus / "ok.flac").exists():
        corpus.mkdir(exist_ok=True)
        shutil.copy(CLIP, corpus / "ok.flac")
    return corpus


def _staged_line_reads_back(item: Item, work: Path, corpus: Path, n: int) -> None:
    """The item's crawl line is a registered reject, or reads back as a document or a reject."""
    assert isinstance(item, Item)
    line = crawl_line(item, work, Bounds(roots=(str(corpus),)), n)
    if STAGED_REJECT in line:
        assert line[STAGED_REJECT]["reason"] in REASONS
        assert line[STAGED_REJECT]["reason"].split(".")[0] in ("read", "pair")
    text = json.dumps(line)
    got = read_record(text, n + 1, work)
    assert isinstance(got, Document) or isinstance(got[1], Reject)
    if isinstance(line.get("id"), str) and id_problem(line["id"]):  # an id no row can hold comes first
        assert not isinstance(got, Document) and got[1].reason == "read.invalid_field"
    elif STAGED_REJECT in line:
        assert not isinstance(got, Document) and got[1].reason == line[STAGED_REJECT]["reason"]
    assert not Path(MARKER).exists()


def _stage_all(items: Any, work: Path, corpus: Path) -> None:
    try:
        for n, item in enumerate(items):
            _staged_line_reads_back(item, work, corpus, n)
    except ImportError_:
        pass  # the corpus as a whole: one clear message


@FUZZ
@given(
    rows=st.lists(st.lists(st.one_of(st.text(max_size=20), PATHS), min_size=0, max_size=12).map("\t".join), max_size=5)
)
def test_common_voice_rows(tmp_path, rows):
    corpus = _corpus(tmp_path)
    head = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment"
    (corpus / "validated.tsv").write_text("\n".join([head, *rows]) + "\n", encoding="utf-8", errors="surrogatepass")
    _stage_all(readers.commonvoice(corpus), tmp_path / "work", corpus)


NEMO = st.fixed_dictionaries(
    {"audio_filepath": OK_PATH, "text": TEXT},
    optional={
        "offset": TIMES,
        "duration": TIMES,
        "lang": st.one_of(st.sampled_from(["en", "en-US", "xx", ""]), VALUES),
    },
)


@FUZZ
@given(lines=st.lists(st.one_of(NEMO.map(json.dumps), st.text(max_size=40)), max_size=5))
def test_nemo_manifest_lines(tmp_path, lines):
    corpus = _corpus(tmp_path)
    manifest = corpus / "manifest.json"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    _stage_all(readers.nemo(manifest), tmp_path / "work", corpus)


SOURCE = st.fixed_dictionaries(
    {
        "type": mostly(st.just("file"), st.one_of(st.sampled_from(["url", "command", "memory", "shar", "x"]), SCALARS)),
        "source": mostly(st.just("ok.flac"), st.one_of(PATHS, st.just(f"touch {MARKER}"), VALUES)),
    },
    optional={"channels": st.one_of(st.lists(st.integers(0, 2), max_size=2), SCALARS)},
)
TRANSFORMS = st.lists(st.fixed_dictionaries({"name": st.sampled_from(["Resample", "Speed"])}), max_size=2)
RECORDING = st.fixed_dictionaries(
    {
        "id": mostly(st.text(min_size=1, max_size=8), VALUES),
        "sources": mostly(st.lists(SOURCE, min_size=1, max_size=2), VALUES),
        "duration": TIMES,
    },
    optional={"transforms": st.one_of(TRANSFORMS, VALUES)},
)
SUPERVISION = st.fixed_dictionaries(
    {"start": TIMES, "duration": TIMES, "text": TEXT},
    optional={"language": st.one_of(st.just("en"), VALUES), "speaker": st.one_of(st.text(max_size=5), VALUES)},
)
CUT = st.fixed_dictionaries(
    {
        "id": mostly(st.text(min_size=1, max_size=8), VALUES),
        "start": mostly(st.floats(min_value=0, max_value=4), SCALARS),
        "duration": TIMES,
        "recording": mostly(RECORDING, VALUES),
        "supervisions": mostly(st.lists(SUPERVISION, min_size=1, max_size=3), VALUES),
    },
    optional={
        "type": mostly(
            st.sampled_from(["MonoCut", "MultiCut"]), st.one_of(st.sampled_from(["MixedCut", "X"]), SCALARS)
        ),
        "channel": st.one_of(st.integers(0, 2), VALUES),
    },
)


@FUZZ
@given(cut=CUT)
def test_lhotse_cuts(tmp_path, cut):
    corpus = _corpus(tmp_path)
    item = lhotse_manifests.cut_item(cut, 1, corpus / "cuts.jsonl", "lhotse:fuzz", None)
    _staged_line_reads_back(item, tmp_path / "work", corpus, 0)


@FUZZ
@given(rec=RECORDING, sups=st.lists(SUPERVISION, max_size=3))
def test_lhotse_recordings(tmp_path, rec, sups):
    corpus = _corpus(tmp_path)
    item = lhotse_manifests.recording_item(rec, sups, 1, corpus / "recordings.jsonl", "lhotse:fuzz", "train")
    _staged_line_reads_back(item, tmp_path / "work", corpus, 0)


@FUZZ
@given(lines=st.lists(st.one_of(CUT.map(json.dumps), st.text(max_size=40)), max_size=4))
def test_lhotse_manifest_lines(tmp_path, lines):
    corpus = _corpus(tmp_path)
    manifest = corpus / "cuts.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    _stage_all(readers.lhotse([manifest]), tmp_path / "work", corpus)


HF_AUDIO = mostly(
    st.fixed_dictionaries(
        {"path": OK_PATH},
        optional={"bytes": mostly(st.binary(min_size=1, max_size=64), SCALARS)},
    ),
    st.one_of(PATHS, VALUES),
)


@FUZZ
@given(
    row=st.fixed_dictionaries(
        {"audio": HF_AUDIO, "sentence": TEXT},
        optional={
            "id": VALUES,
            "locale": VALUES,
            "language": VALUES,
            "source": VALUES,
        },
    ),
    split=st.sampled_from(["train", "test", "weird"]),
)
def test_hugging_face_rows(tmp_path, row, split):
    corpus = _corpus(tmp_path)
    item = readers.hf_item(row, 3, split, "audio", "sentence", "hf:fuzz", corpus)
    _staged_line_reads_back(item, tmp_path / "work", corpus, 0)
