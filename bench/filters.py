"""Cost of the quality filters, each against a baseline in the same run. Writes its section of
docs/benchmarks.md (below the marker line; bench/run.py keeps it).

    .venv/bin/python bench/filters.py --corpus CORPUS_DIR [--rounds 3]   (a crawl.jsonl with its truth.jsonl)

1. Text stages vs the whole build: a one-worker build of the development corpus (no audio model)
   with every stage timed in-process; share of the build's CPU time spent in `machine`, `text`
   (clean and gates) and the text half of `language` (langid). Target: <= 5%.
2. langid: whole-document transcripts of the corpus, repeated to >= 2,000; our `text_language`
   (normalised probabilities) vs langid's own module-level `classify`. Target: >= 1,000/s per core.
3. Audio LID on CPU: our detector (the segment with the most speech; up to 3 when unsure; int8) vs
   faster-whisper's `WhisperModel.detect_language` on each whole document (its first 30 s window,
   more when unsure), both with the Whisper-base weights from the test extra; seconds of CPU per
   hour of audio, and top-1 agreement with the corpus's truth file.
"""

from __future__ import annotations

import os

# Figures are per core: keep numpy's BLAS to one thread, or its idle spinning counts as CPU time.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_seconds, timed, write_section
from bench.stage_clock import TEXT_STEPS, StageClock
from wsdata import config
from wsdata.io.crawl import read_record
from wsdata.lid import text_language
from wsdata.lid.pypi_weights import assemble
from wsdata.orchestrate import build
from wsdata.stages.pair import PairAudio, PairTranscript
from wsdata.stages.segment import CutSegments

MARK = "<!-- bench/filters.py writes below this line -->"


def bench_stage_share(corpus: Path, rounds: int) -> dict:
    """Exclusive CPU seconds per step inside one-worker builds (the build's CPU clock), median round."""
    totals = []
    for i in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            out, clock = Path(tmp) / f"o{i}", StageClock()
            cpu, _ = timed(
                lambda out=out, clock=clock: build(
                    corpus / "crawl.jsonl", out, config.load("default"), progress=False, clock=clock
                )
            )
            totals.append((cpu, clock.labelled()))
    cpu, per = sorted(totals, key=lambda t: t[0])[len(totals) // 2]
    return {"build_cpu_s": cpu, "stages": per}


def corpus_texts(corpus: Path) -> list[str]:
    cfg = config.load("default")
    out = []
    for n, line in enumerate((corpus / "crawl.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        doc = read_record(line, n, corpus, None)
        if not isinstance(doc, tuple) and PairTranscript(cfg)(doc) is None:
            out.append(doc.transcript.text)
    return out


def bench_langid(texts: list[str], rounds: int) -> dict:
    import langid

    reps = max(1, 2000 // len(texts))
    batch = texts * reps
    text_language(batch[0])
    langid.classify(batch[0])  # load both models before timing
    ours = [timed(lambda: [text_language(t) for t in batch])[0] for _ in range(rounds)]
    base = [timed(lambda: [langid.classify(t) for t in batch])[0] for _ in range(rounds)]
    o, b = statistics.median(ours), statistics.median(base)
    return {
        "n": len(batch),
        "chars": sum(map(len, batch)) / len(batch),
        "ours_per_s": len(batch) / o,
        "base_per_s": len(batch) / b,
    }


def bench_audio_lid(corpus: Path, model: Path) -> dict:
    """Both detectors over the decodable documents of the corpus; CPU s per audio hour."""
    from faster_whisper import WhisperModel

    from wsdata.lid.audio import cores
    from wsdata.stages.language import LanguageRoute

    cfg = config.load("default")
    cfg = config.from_dict({"language": {"audio_lid": str(model), "device": "cpu"}})
    truth = {t["id"]: t for t in map(json.loads, (corpus / "truth.jsonl").read_text().splitlines()) if t.get("id")}
    docs = []
    for n, line in enumerate((corpus / "crawl.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        doc = read_record(line, n, corpus, None)
        if isinstance(doc, tuple) or PairTranscript(cfg)(doc) or PairAudio(cfg)(doc):
            continue
        segments: list = []
        CutSegments(cfg).process(doc, segments)
        docs.append((doc, segments))
    hours = sum(d.duration_ms for d, _ in docs) / 3.6e6
    route = LanguageRoute(cfg)
    route.process(*docs[0])  # load the model before timing
    # faster-whisper's best setting for one caller: a thread per core (its default, 4, oversubscribes a small machine)
    fw = WhisperModel(str(model), device="cpu", compute_type="int8", cpu_threads=cores())
    fw.detect_language(docs[0][0].samples[:].astype(np.float32) / 32768)
    res = {}
    c0 = cpu_seconds()
    ours = {d.id: (route.process(d, segs), d.evidence.get("audio_language")) for d, segs in docs}
    res["ours_cpu_s"] = cpu_seconds() - c0
    c0 = cpu_seconds()
    base3 = {
        d.id: fw.detect_language(d.samples[:].astype(np.float32) / 32768, language_detection_segments=3)[0]
        for d, _ in docs
    }
    res["base3_cpu_s"] = cpu_seconds() - c0
    want = {d.id: truth[d.id]["audio_lang"] for d, _ in docs if d.id in truth}
    res.update(
        docs=len(docs),
        hours=hours,
        n_truth=len(want),
        ours_right=sum(ours[k][1] == v for k, v in want.items()),
        ours_windows=sum(d.evidence.get("audio_lid_segments", 0) for d, _ in docs),
        base3_right=sum(base3[k] == v for k, v in want.items()),
    )
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--corpus", required=True, help="a folder with crawl.jsonl and truth.jsonl")
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    a = ap.parse_args()
    corpus = Path(a.corpus)
    if not (corpus / "crawl.jsonl").is_file():
        sys.exit(f"no crawl at {corpus}: pass --corpus")
    share = bench_stage_share(corpus, a.rounds)
    lid_text = bench_langid(corpus_texts(corpus), a.rounds)
    model = assemble(ROOT / "build/whisper-base-ct2")
    lid_audio = bench_audio_lid(corpus, model)
    st = share["stages"]
    n_lines = len((corpus / "crawl.jsonl").read_text(encoding="utf-8").splitlines())
    text_s = sum(st.get(k, 0) for k in TEXT_STEPS)
    all_text = text_s + sum(v for k, v in st.items() if k.startswith("dedup"))
    md = [
        MARK,
        "",
        "## Quality filters (bench/filters.py)",
        "",
        "```",
        f".venv/bin/python bench/filters.py --corpus DEVCORPUS --rounds {a.rounds}",
        "```",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores, no GPU.",
        "",
        "### Text stages vs the whole build (target: <= 5%)",
        "",
        f"One-worker build of the development corpus ({n_lines} lines; DEVCORPUS is its folder, a crawl.jsonl with its",
        f"truth.jsonl), no audio model, median of {a.rounds} rounds by build CPU;",
        "exclusive CPU seconds of each step, from the build's own CPU clock (wsdata/clock.py; decoding is in-process).",
        "",
        "| stage | CPU s | share of build |",
        "|---|---:|---:|",
    ]
    for name, s in sorted(st.items(), key=lambda kv: -kv[1]):
        md.append(f"| {name} | {s:.3f} | {s / share['build_cpu_s']:.1%} |")
    md += [
        (f"| **text stages** ({' + '.join(TEXT_STEPS)}) | {text_s:.3f} | **{text_s / share['build_cpu_s']:.1%}** |"),
        (
            f"| **all text-only work** (the above, plus the whole dedup pass) | {all_text:.3f} | "
            f"**{all_text / share['build_cpu_s']:.1%}** |"
        ),
        f"| whole build (incl. Parquet and any child process) | {share['build_cpu_s']:.2f} | 100% |",
        "",
        "The stages before dedup run twice (in the dedup pass, then in the build); their rows count both.",
        (
            "Every file is synced to disk before it is renamed into place; the system time of that sync is charged to "
            "the step that writes (Parquet write, review sampling: the review candidates carry the kept segments' FLAC) "
            "and varies from run to run with the disk (0.04 to 1.5 CPU s for the same review write of the development "
            "corpus)."
        ),
        "",
        "### langid (target: >= 1,000 transcripts/s per core)",
        "",
        f"{lid_text['n']} whole-document transcripts (mean {lid_text['chars']:.0f} characters), one process.",
        "",
        "| classifier | vs langid.classify | transcripts/s per core |",
        "|---|---:|---:|",
        (
            f"| wsdata `text_language` (normalised probability) | {lid_text['ours_per_s'] / lid_text['base_per_s']:.2f}x | "
            f"{lid_text['ours_per_s']:,.0f} |"
        ),
        f"| langid.classify (log-probability) | 1.00x | {lid_text['base_per_s']:,.0f} |",
        "",
        "### Audio language ID on CPU",
        "",
        f"{lid_audio['docs']} decodable documents of the development corpus ({lid_audio['hours']:.2f} h), Whisper-base",
        "(CTranslate2, int8). Ours: the segment with the most speech, then up to 2 more in one batch when the first",
        "is under 0.9 sure, on one single-thread replica per core. faster-whisper: `detect_language` on the",
        "document's first 30 s window, then the next ones while under its 0.5 threshold",
        "(`language_detection_segments=3`), with a thread per core (`cpu_threads`).",
        "",
        "| detector | vs faster-whisper | CPU s per audio hour | windows read | right on truth |",
        "|---|---:|---:|---:|---:|",
        (
            f"| wsdata LanguageRoute | {lid_audio['base3_cpu_s'] / lid_audio['ours_cpu_s']:.2f}x | "
            f"{lid_audio['ours_cpu_s'] / lid_audio['hours']:.0f} | {lid_audio['ours_windows']} | "
            f"{lid_audio['ours_right']}/{lid_audio['n_truth']} |"
        ),
        (
            f"| faster-whisper detect_language | 1.00x | {lid_audio['base3_cpu_s'] / lid_audio['hours']:.0f} | "
            f"≥ {lid_audio['docs']} | {lid_audio['base3_right']}/{lid_audio['n_truth']} |"
        ),
        "",
        (
            f"For scale: the whole build above, without it, cost {share['build_cpu_s'] / lid_audio['hours']:.0f} CPU s "
            "per hour of decodable audio, so audio LID is the most expensive stage of a build that uses it."
        ),
        "No GPU figure: no GPU was available to this run.",
        "",
    ]
    write_section(Path(a.out), MARK, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
