"""Calibrating the agreement check: caption-vs-model WER of correct and wrong pairs, per language.

    .venv/bin/python bench/agree.py --speech DIR [--model build/whisper-base-ct2]

DIR holds real prompts laid out like tests/data/speech: `transcripts.tsv` (lang, key, seconds,
text) and `<lang>/<key>.flac`; an optional `low_agreement.tsv` lists keys whose text is known not
to match its audio, left out. Consecutive prompts of a language (by key) are joined into segments
of 15-28 s, as the build's 30 s windows hold several cues. Each segment is transcribed once by the
model (batched, as the build does), and its WER is taken against:
- its own text (a correct pair);
- the text of another segment of the same language (a wrong pair: a caption of other audio);
- its first half (a partial transcript: half the words missing).
Documents are three consecutive segments, scored as the stage scores one (edits over caption words,
segments where the model's output loops left out). The report gives, per language, the WER
distribution of each kind, and what the default thresholds of `[agree]` keep and reject.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_section
from wsdata.agree.wer import Errors, errors, model_looped
from wsdata.config import AgreeConfig
from wsdata.io.audio import decode
from wsdata.lid.audio import load_audio_lid

MARK = "<!-- bench/agree.py writes below this line -->"
MIN_S, MAX_S = 15.0, 28.0
KEEP_CORRECT, REJECT_WRONG = 0.98, 0.95  # the targets for the default thresholds


def segments(speech: Path) -> dict[str, list[tuple[np.ndarray, list[str]]]]:
    """language -> [(float32 16 kHz audio, [prompt texts])], each 15-28 s of consecutive prompts."""
    skip = set()
    low = speech / "low_agreement.tsv"
    if low.is_file():
        skip = {(r["lang"], r["key"]) for r in csv.DictReader(low.open(encoding="utf-8"), delimiter="\t")}
    rows = [r for r in csv.DictReader((speech / "transcripts.tsv").open(encoding="utf-8"), delimiter="\t")]
    by_lang: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        if (r["lang"], r["key"]) not in skip and r.get("has_audio", "1") == "1" and r["text"].strip():
            by_lang.setdefault(r["lang"], []).append(r)
    out: dict[str, list[tuple[np.ndarray, list[str]]]] = {}
    for lang, rs in sorted(by_lang.items()):
        group: list[dict[str, str]] = []
        for r in sorted(rs, key=lambda r: r["key"]):
            if sum(float(g["seconds"]) for g in group) + float(r["seconds"]) > MAX_S:
                group = []  # a prompt that would overflow starts afresh (a long one alone is skipped)
            group.append(r)
            if sum(float(g["seconds"]) for g in group) >= MIN_S:
                pause = np.zeros(4000, dtype=np.float32)  # 0.25 s between prompts
                audio = [decode(str(speech / lang / f"{g['key']}.flac")).astype(np.float32) / 32768.0 for g in group]
                joined = np.concatenate([x for a in audio for x in (a, pause)])
                out.setdefault(lang, []).append((joined, [g["text"] for g in group]))
                group = []
    return out


def _shown(path: str) -> str:
    """A model folder as the command line gives it: relative to the repository where it lies there."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--speech", type=Path, help="the prompts folder (required unless --reuse)")
    p.add_argument("--model", default=str(ROOT / "build/whisper-base-ct2"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--out", default=str(ROOT / "docs/filters.md"))
    p.add_argument("--json", default=None, help="also write every pair (caption, model transcript) here")
    p.add_argument("--reuse", type=Path, default=None, help="score the pairs of an earlier --json instead")
    a = p.parse_args()
    t0, seconds = time.perf_counter(), 0.0
    if a.reuse:  # the pairs of an earlier run: thresholds and normalisation change, the transcripts not
        pairs = [json.loads(x) for x in a.reuse.read_text(encoding="utf-8").splitlines()]
    else:
        model, pairs = load_audio_lid(a.model, "cpu"), []
        for lang, items in segments(a.speech).items():
            hyps: list[str] = []
            for i in range(0, len(items), a.batch):
                part = items[i : i + a.batch]
                hyps += model.transcribe([x for x, _ in part], [lang] * len(part))
            seconds += sum(len(x) for x, _ in items) / 16000
            n = len(items)
            for i, ((_, texts), hyp) in enumerate(zip(items, hyps)):
                other = items[(i + n // 2) % n][1]  # half the set away: another recording's text
                half = texts[: max(1, len(texts) // 2)] if len(texts) > 1 else [texts[0][: len(texts[0]) // 2]]
                for kind, caption in (("correct", texts), ("wrong", other), ("partial", half)):
                    pairs.append(
                        {"lang": lang, "kind": kind, "caption": " ".join(caption), "asr": hyp, "s": len(texts)}
                    )
    wall = time.perf_counter() - t0
    if a.json:
        Path(a.json).write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in pairs) + "\n", encoding="utf-8")
    cfg = AgreeConfig()
    rows = []
    for lang in sorted({p["lang"] for p in pairs}):
        seg: dict[str, list[float]] = {}
        doc: dict[str, list[float]] = {}
        for kind in ("correct", "wrong", "partial"):
            mine = [p for p in pairs if p["lang"] == lang and p["kind"] == kind]
            judged = [errors(p["caption"], p["asr"], lang) for p in mine if not model_looped(p["asr"])]
            seg[kind] = [e.rate for e in judged]
            doc[kind] = [sum(judged[i : i + 3], Errors(0, 0)).rate for i in range(0, len(judged) - 2, 3)]
        s_lim, d_lim = cfg.segment_limit(lang), cfg.document_limit(lang)
        c, w, h = (np.array(seg[k]) for k in ("correct", "wrong", "partial"))
        dc, dw, dh = (np.array(doc[k]) for k in ("correct", "wrong", "partial"))
        rows.append(
            {
                "lang": lang,
                "n": len(c),
                "looped": sum(1 for p in pairs if p["lang"] == lang and p["kind"] == "correct") - len(c),
                "correct": np.percentile(c, [50, 90, 98, 100]),
                "wrong": np.percentile(w, [0, 5, 50]),
                "kept_correct": float((c <= s_lim).mean()),
                "rejected_wrong": float((w > s_lim).mean()),
                "rejected_partial": float((h > s_lim).mean()),
                "docs": len(dc),
                "doc_correct_max": float(dc.max()),
                "doc_wrong_min": float(dw.min()),
                "doc_kept_correct": float((dc <= d_lim).mean()),
                "doc_rejected_wrong": float((dw > d_lim).mean()),
                "doc_rejected_partial": float((dh > d_lim).mean()),
            }
        )
    ok = lambda x, t: "met" if x >= t else "**not met**"
    md = [
        MARK,
        "",
        "### Measured: correct, wrong and partial captions (bench/agree.py)",
        "",
        "```",
        f".venv/bin/python bench/agree.py --speech DIR --model {_shown(a.model)}",
        "```",
        "",
        (
            f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}. Model: "
            f"`{Path(a.model).name}` (CPU, int8, greedy). {sum(r['n'] + r['looped'] for r in rows)} segments of "
            "15-28 s of real studio speech (consecutive prompts joined)"
            + (f", {seconds / 60:.1f} min, transcribed in {wall:.0f} s" if seconds else "")
            + ". WER after Whisper's normalisation (English: the English normaliser; others: the basic one, "
            "accents dropped, spelled-out numbers as digits for fr/es/it). Segments whose model output loops are "
            f"not judged (`looped`). Thresholds: the defaults, `segment_max_wer` {cfg.segment_max_wer} and "
            f"`document_max_wer` {cfg.document_max_wer}; documents are 3 consecutive segments."
        ),
        "",
        (
            "| lang | segments (looped) | correct WER p50 / p90 / p98 / max | wrong WER min / p5 / p50 "
            f"| correct kept (>= {KEEP_CORRECT:.0%}) | wrong rejected (>= {REJECT_WRONG:.0%}) | partial rejected "
            "| documents | doc correct max / wrong min | doc correct kept | doc wrong rejected | doc partial rejected |"
        ),
        "|---|---:|---|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        f = lambda xs: " / ".join(f"{x:.2f}" for x in xs)
        md.append(
            f"| {r['lang']} | {r['n']} ({r['looped']}) | {f(r['correct'])} | {f(r['wrong'])} "
            f"| {r['kept_correct']:.1%} {ok(r['kept_correct'], KEEP_CORRECT)} "
            f"| {r['rejected_wrong']:.1%} {ok(r['rejected_wrong'], REJECT_WRONG)} | {r['rejected_partial']:.1%} "
            f"| {r['docs']} | {r['doc_correct_max']:.2f} / {r['doc_wrong_min']:.2f} | {r['doc_kept_correct']:.1%} "
            f"| {r['doc_rejected_wrong']:.1%} | {r['doc_rejected_partial']:.1%} |"
        )
    write_section(Path(a.out), MARK, "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
