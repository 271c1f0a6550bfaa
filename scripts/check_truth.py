"""Compare a build of a crawl with its truth file (the development corpus's truth.jsonl).

    python scripts/check_truth.py OUT_DIR truth.jsonl

Prints one line per document (expected vs got), the accounting check, and a summary. A duplicate
group passes when exactly one member is kept and the others are `dedup.*` rejects. In a build
without `--audio-lid`, the cases only the audio can reveal (translation pairs, mismatches whose
claim agrees with the text) are listed as pending, not as failures. Every other mismatch makes the
exit status 1.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from wsdata import config
from wsdata.layout import Layout
from wsdata.review.sample import check_queue
from wsdata.verify import check_accounting, read_rows

# stages that can decide a document
IMPLEMENTED = {"read", "pair", "text", "machine", "language", "dedup", "segment", "agree"}


def main(out: Path, truth_path: Path) -> int:
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    audio_lid = stats.get("audio_language_id")
    asr = stats["config"].get("agree", {}).get("asr")
    truth = [json.loads(line) for line in truth_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    columns = ["id", "doc_id", "text", "language", "task", "no_speech"] + (["asr_wer"] if asr else [])
    data = read_rows(Layout(out).data, columns)
    rejects = read_rows(Layout(out).rejects, ["doc_id", "segment_id", "line", "reason"])
    doc_reject = {r["line"]: r["reason"] for r in rejects if r["segment_id"] is None}
    kept_text: dict[str, list[str]] = {}
    kept_lang: dict[str, Counter] = {}
    for r in data:
        kept_text.setdefault(r["doc_id"], []).append(r["text"])
        if not r["no_speech"]:
            kept_lang.setdefault(r["doc_id"], Counter())[(r["task"], r["language"])] += 1
    groups: dict[str, list[str]] = {}  # duplicate group -> what each member got
    for t in truth:
        if t["expect"] == "keep-one":
            groups.setdefault(t["dup_group"], []).append(doc_reject.get(t["line"], "keep"))
    ok = bad = pending = 0
    for t in truth:
        got = doc_reject.get(t["line"], "keep")
        want_stages = set(t.get("reject_stage_any") or ([t["reject_stage"]] if t["reject_stage"] else []))
        if t["expect"] == "reject":
            passed = got != "keep" and got.split(".")[0] in want_stages | ({"read"} if "pair" in want_stages else set())
            want = "/".join(sorted(want_stages))
        else:
            passed = got == "keep"
            want = t["expect"]
            if passed and t.get("task"):
                (task, lang), _ = kept_lang.get(t["id"], Counter({("?", "?"): 1})).most_common(1)[0]
                passed = (task, lang) == (t["task"], t["language"])
                got = f"keep {task}/{lang}"
            for s in t.get("absent_text") or []:
                if any(s in x for x in kept_text.get(t["id"], [])):
                    passed, got = False, f"{got}, but {s!r} is in a kept segment"
        if t["expect"] == "keep-one":  # exactly one member of the group kept, the others dedup rejects
            members = groups[t["dup_group"]]
            passed = members.count("keep") == 1 and all(g == "keep" or g.startswith("dedup.") for g in members)
            if got == "keep" and passed and t.get("task"):
                (task, lang), _ = kept_lang.get(t["id"], Counter({("?", "?"): 1})).most_common(1)[0]
                passed, got = (task, lang) == (t["task"], t["language"]), f"keep {task}/{lang}"
            want = f"keep-one of {t['dup_group']}"
        # without an audio model, only the text and the claim speak for the audio
        needs_audio = t.get("audio_lang") not in (None, t.get("text_lang"))
        decided_later = not want_stages <= IMPLEMENTED or (needs_audio and not audio_lid)
        if passed:
            ok += 1
            mark = "ok"
        elif decided_later:
            pending += 1
            mark = "pending"
        else:
            bad += 1
            mark = "FAIL"
        print(f"{mark:<8} line {t['line']:>3} {t['id']!s:<16} {t['case']:<28} want {want:<18} got {got}")
    problems = check_accounting(out, Path(truth_path).with_name("crawl.jsonl"))
    problems += check_queue(out, config.from_dict(json.loads((out / "_work" / "build.json").read_text())["config"]))
    if asr:  # with the agreement check, every kept speech segment carries the model's error rate
        speech = [r for r in data if not r["no_speech"]]
        missing = [r["id"] for r in speech if r["asr_wer"] is None]
        problems += [f"{m}: a kept speech segment without asr_wer" for m in missing]
        print(f"asr_wer on {len(speech) - len(missing)} of {len(speech)} kept speech segments")
    for p in problems:
        print(f"ACCOUNTING {p}")
    print(
        f"\n{ok} as expected, {bad} wrong, {pending} pending (need --audio-lid); "
        f"accounting {'holds' if not problems else 'BROKEN'}"
    )
    return 1 if bad or problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
