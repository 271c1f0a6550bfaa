"""End-to-end dedup on real audio and captions: the keep rule, each reason, decontamination, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import EN_SRT, ES_VTT, MINI, all_rows, dedup_crawl, funnel_holds
from wsdata import config
from wsdata.chunks import Chunk, iter_chunks
from wsdata.cli import main
from wsdata.dedup import cluster
from wsdata.layout import Layout
from wsdata.orchestrate import build, prepare_out
from wsdata.verify import check_accounting

pytestmark = pytest.mark.slow
# trust_caption_kind off: an "asr"-labelled copy passes the machine stage but still looks machine-made
CFG = config.from_dict({"read": {"chunk_size": 2}, "machine": {"trust_caption_kind": False}})


@pytest.fixture(scope="module")
def dedup_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dedup")
    src = dedup_crawl(tmp)
    stats = build(src, tmp / "out", CFG, progress=False)
    assert check_accounting(tmp / "out", src) == []
    return tmp / "out", stats


def doc_rejects(out: Path) -> dict[str, dict]:
    return {r["doc_id"]: r for r in all_rows(out)[1] if r["segment_id"] is None}


def test_keep_rule_and_reasons(dedup_build):
    out, stats = dedup_build
    rej = doc_rejects(out)
    kept = {r["doc_id"] for r in all_rows(out)[0]}
    # Human over machine-looking (although its id is larger), then longer, then smaller id.
    assert kept == {"a-orig", "a-es-copy"}
    assert rej["0-asr-copy"]["reason"] == "dedup.exact" and "duplicate_of=a-orig" in rej["0-asr-copy"]["detail"]
    assert rej["b-near"]["reason"] == "dedup.near_duplicate" and "duplicate_of=a-orig" in rej["b-near"]["detail"]
    assert rej["vm-es"]["reason"] == "dedup.exact" and "duplicate_of=a-es-copy" in rej["vm-es"]["detail"]
    assert rej["b-near"]["duration_ms"] is None  # dropped before decode: the audio was never read
    d = stats["dedup"]
    assert (d["bands"], d["rows"], d["clusters"], d["rejected"], d["rejected_exact"]) == (14, 9, 2, 3, 2)
    assert "14 bands x 9 rows" in (out / "README.md").read_text()
    funnel_holds(stats)
    dedup = next(s for s in stats["funnel"] if s["step"] == "dedup")
    assert (dedup["documents_in"], dedup["documents_rejected"]) == (5, 3)  # dropped before their audio is decoded


def test_rerun_and_interrupted_dedup_give_the_same_output(dedup_build, tmp_path):
    out, _ = dedup_build
    src = dedup_crawl(tmp_path)
    out2 = tmp_path / "part"
    # A build killed during the signature pass: one chunk signed, nothing else.
    prepare_out(out2, src, CFG)
    first: Chunk = next(iter_chunks(src, CFG.read.chunk_size))
    assert cluster.signature_chunk(first, src.parent, out2, CFG)  # the CPU it took, by step
    signed = Layout(out2).dedup_signatures(first.index)
    assert pq.read_table(signed, columns=["doc_id"])["doc_id"].to_pylist() == ["a-orig", "0-asr-copy"]
    assert cluster.signature_chunk(first, src.parent, out2, CFG) == {}  # done chunks are skipped
    build(src, out2, CFG, progress=False)
    a, b = all_rows(out), all_rows(out2)
    assert a[0] == b[0] and [(r["doc_id"], r["reason"]) for r in a[1]] == [(r["doc_id"], r["reason"]) for r in b[1]]
    assert cluster.find_duplicates(out2, CFG) == json.loads(Layout(out2).dedup_done.read_text())


def test_decontamination_of_documents_and_segments(tmp_path):
    src = dedup_crawl(tmp_path)
    es_cues = [b.split("\n", 2)[-1].replace("\n", " ") for b in ES_VTT.read_text(encoding="utf-8").split("\n\n")[3:9]]
    en_text = " ".join(b.split("\n", 2)[-1] for b in EN_SRT.read_text(encoding="utf-8").strip().split("\n\n"))
    ev = tmp_path / "eval.jsonl"  # an evaluation set: the whole English talk and six Spanish utterances
    ev.write_text("".join(json.dumps({"text": t}) + "\n" for t in [en_text, *es_cues]), encoding="utf-8")
    out = tmp_path / "out"
    assert (
        main(
            [
                "build",
                "--source",
                str(src),
                "--out",
                str(out),
                "--exclude",
                str(ev),
                "--quiet",
                "--pipeline",
                str(write_preset(tmp_path)),
            ]
        )
        == 0
    )
    assert check_accounting(out, src) == []
    rej = doc_rejects(out)
    assert rej["a-orig"]["reason"] == "dedup.eval_overlap"  # the kept member of its cluster is evaluation data
    seg = [r for r in all_rows(out)[1] if r["segment_id"] and r["reason"] == "dedup.eval_overlap"]
    assert seg and all(r["doc_id"] == "a-es-copy" for r in seg)
    kept = [r for r in all_rows(out)[0] if r["doc_id"] == "a-es-copy"]
    assert kept and all(json.loads(r["evidence"])["eval_overlap"] < 0.5 for r in kept)


def write_preset(tmp: Path) -> Path:
    p = tmp / "p.toml"
    p.write_text("[read]\nchunk_size = 2\n[machine]\ntrust_caption_kind = false\n", encoding="utf-8")
    return p


def test_exclude_file_formats_and_errors(tmp_path, capsys):
    from wsdata.dedup.exclude import ExcludeError, read_texts

    (tmp_path / "a.txt").write_text("one line\n\nanother line\n", encoding="utf-8")
    assert read_texts(tmp_path / "a.txt") == ["one line", "another line"]
    pq.write_table(pa.table({"text": ["x y z", None]}), tmp_path / "a.parquet")
    assert read_texts(tmp_path / "a.parquet") == ["x y z"]
    pq.write_table(pa.table({"sentence": ["x"]}), tmp_path / "b.parquet")
    with pytest.raises(ExcludeError, match="no `text` column"):
        read_texts(tmp_path / "b.parquet")
    (tmp_path / "c.jsonl").write_text('{"txt": 1}\n', encoding="utf-8")
    src = dedup_crawl(tmp_path)
    assert (
        main(["build", "--source", str(src), "--out", str(tmp_path / "o"), "--exclude", str(tmp_path / "c.jsonl")]) == 2
    )
    assert "c.jsonl:1: not a JSON object with a string `text` field" in capsys.readouterr().err
    assert main(["build", "--source", str(src), "--out", str(tmp_path / "o"), "--exclude", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_no_dedup_keeps_every_copy(tmp_path):
    src = dedup_crawl(tmp_path)
    out = tmp_path / "out"
    assert (
        main(
            [
                "build",
                "--source",
                str(src),
                "--out",
                str(out),
                "--no-dedup",
                "--quiet",
                "--pipeline",
                str(write_preset(tmp_path)),
            ]
        )
        == 0
    )
    assert {r["doc_id"] for r in all_rows(out)[0]} == {"a-orig", "0-asr-copy", "b-near", "vm-es", "a-es-copy"}
    assert json.loads((out / "stats.json").read_text())["dedup"] is None


def test_short_transcripts_are_never_duplicates(tmp_path):
    """Two different clips that both say "Thank you for calling." are not copies of each other."""
    rows = [
        {"id": f"c{i}", "audio": str(MINI / "media/yt-CM7teu_jDF_.flac"), "text": "Thank you for calling."}
        for i in range(2)
    ]
    src = tmp_path / "crawl.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    stats = build(src, tmp_path / "out", config.load("default"), progress=False)
    assert stats["documents"]["kept"] == 2 and stats["dedup"]["documents_signed"] == 0
