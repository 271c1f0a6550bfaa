"""Precision and recall of the machine-transcript stage on labelled captions.

    python scripts/eval_machine.py CORPUS_DIR [--subtitles CAPTIONS_DIR]

Development corpus: every document whose transcript parses, labelled machine when truth.jsonl says
its deciding stage is `machine`, human otherwise. Subtitle folder: every caption file, labelled
machine (the two reference files there are an auto-caption snippet and a machine-made track).
Prints per-file verdicts and the confusion counts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wsdata import config
from wsdata.datamodel import Document
from wsdata.io.captions import detect_format, parse
from wsdata.io.crawl import read_record
from wsdata.io.textenc import decode_text
from wsdata.stages.machine import MachineFilter
from wsdata.stages.pair import PairTranscript


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--subtitles", type=Path, default=None)
    a = ap.parse_args()
    cfg = config.load("default")
    truth = {t["line"]: t for t in map(json.loads, (a.corpus / "truth.jsonl").read_text().splitlines())}
    cases: list[tuple[str, bool, str | None]] = []  # (name, is machine, reason or None)
    for n, line in enumerate((a.corpus / "crawl.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        doc = read_record(line, n, a.corpus, None)
        if isinstance(doc, tuple) or PairTranscript(cfg)(doc) is not None:
            continue
        rej = MachineFilter(cfg)(doc)
        cases.append((doc.id, truth[n]["reject_stage"] == "machine", rej.reason if rej else None))
    for path in sorted(a.subtitles.iterdir()) if a.subtitles else []:
        if path.suffix not in (".vtt", ".srt", ".json"):
            continue
        text, _ = decode_text(path.read_bytes())
        doc = Document(
            path.name, 0, "", str(path), None, None, None, None, transcript=parse(text, detect_format(str(path), text))
        )
        rej = MachineFilter(cfg)(doc)
        cases.append((path.name, True, rej.reason if rej else None))
    tp = sum(m and r is not None for _, m, r in cases)
    fp = sum(not m and r is not None for _, m, r in cases)
    fn = sum(m and r is None for _, m, r in cases)
    for name, m, r in cases:
        print(f"{'machine' if m else 'human':<8} {'ok ' if (r is not None) == m else 'BAD'} {name:<45} {r or 'kept'}")
    print(f"\n{len(cases)} transcripts: {tp + fn} machine, {len(cases) - tp - fn} human")
    print(f"precision {tp / max(1, tp + fp):.3f} ({tp}/{tp + fp}), recall {tp / max(1, tp + fn):.3f} ({tp}/{tp + fn})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
