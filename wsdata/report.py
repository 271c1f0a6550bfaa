"""Chunk markers -> stats.json (the machine-readable funnel) and the dataset card README.md.

Both are written from the same numbers, after every chunk is done. `wsdata stats` prints them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from wsdata import __version__
from wsdata.config import BuildConfig
from wsdata.pipeline import write_json_atomic, marker_path
from wsdata.reasons import REASONS, STAGES
from wsdata.review import sample as review_sample


def _hours(ms: int) -> float:
    return round(ms / 3.6e6, 4)


def _split(counts: Counter[str], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}


def aggregate(out: Path, n_chunks: int) -> Counter[str]:
    total: Counter[str] = Counter()
    for i in range(n_chunks):
        path = marker_path(out, i)
        if not path.exists():
            raise RuntimeError(f"chunk {i} has no completion marker ({path}); rerun the build to finish it")
        total.update(json.loads(path.read_text(encoding="utf-8"))["stats"])
    return total


def _by_source(c: Counter[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for key, v in _split(c, "by_source/").items():
        src, what = key.rsplit("/", 1)
        out.setdefault(src, {})[what] = v
    return out


def stats_from_counts(c: Counter[str], cfg: BuildConfig, n_chunks: int) -> dict[str, Any]:
    doc_reasons = _split(c, "doc_reasons/")
    funnel, remaining = [], c["docs/in"]
    for stage in STAGES:
        rejected = {r: n for r, n in doc_reasons.items() if r.startswith(stage + ".")}
        ms = sum(c[f"doc_reason_ms/{r}"] for r in rejected)
        funnel.append({"stage": stage, "documents_in": remaining, "documents_rejected": sum(rejected.values()),
                       "hours_rejected": _hours(ms)})  # fmt: skip
        remaining -= sum(rejected.values())
    by_lang: dict[str, dict[str, dict[str, float]]] = {}
    for key, v in _split(c, "by_language_task/").items():
        lang_task, what = key.rsplit("/", 1)
        lang, task = lang_task.split(":")
        entry = by_lang.setdefault(lang, {}).setdefault(task, {"segments": 0, "hours": 0.0})
        entry["segments" if what == "segments" else "hours"] = v if what == "segments" else _hours(v)
    return {
        "wsdata_version": __version__,
        "pipeline": cfg.name,
        "chunks": n_chunks,
        "documents": {"in": c["docs/in"], "kept": c["docs/kept"], "rejected": c["docs/rejected"],
                      "rejected_by_reason": doc_reasons},  # fmt: skip
        "hours": {
            "in": _hours(c["audio_ms/in"]),  # audio decoded; documents rejected before decode are not timed
            "kept": _hours(c["audio_ms/kept"]),
            "kept_train": _hours(c["audio_ms/kept_train"]),
            "kept_validation": _hours(c["audio_ms/kept_validation"]),
            "rejected_documents_by_reason": {r: _hours(v) for r, v in _split(c, "doc_reason_ms/").items()},
            "rejected_segments_by_reason": {r: _hours(v) for r, v in _split(c, "segment_reason_ms/").items()},
        },
        "segments": {
            "cut": c["segments/cut"], "kept": c["segments/kept"], "kept_train": c["segments/kept_train"],
            "kept_validation": c["segments/kept_validation"], "kept_no_speech": c["segments/kept_no_speech"],
            "rejected": c["segments/rejected"], "rejected_by_reason": _split(c, "segment_reasons/"),
        },  # fmt: skip
        "funnel": funnel,
        "by_language_task": by_lang,
        "by_source": {unquote(src): {"documents_in": v.get("docs_in", 0), "documents_kept": v.get("docs_kept", 0),
                                     "hours_in": _hours(v.get("audio_ms_in", 0)),
                                     "hours_kept": _hours(v.get("audio_ms_kept", 0))}
                      for src, v in _by_source(c).items()},  # fmt: skip
        "audio_language_id": cfg.language.audio_lid or None,  # None: spoken language assumed from text + claim
        "text_cleaning": {"boilerplate_phrases_removed": c["text/boilerplate_removed"],
                          "sound_tags_removed": c["text/sound_tags_removed"], "cues_dropped": c["text/cues_dropped"],
                          "kept_segments_with_speaker_labels": c["segments/kept_speaker_labels"]},  # fmt: skip
        "config": cfg.to_dict(),
    }


def finalize(out: Path, cfg: BuildConfig, n_chunks: int) -> dict[str, Any]:
    stats = stats_from_counts(aggregate(out, n_chunks), cfg, n_chunks)
    stats["review_items"] = review_sample.finalize(out, cfg, n_chunks)
    dedup = out / "_work" / "dedup" / "done.json"
    stats["dedup"] = json.loads(dedup.read_text(encoding="utf-8")) if dedup.exists() else None
    write_json_atomic(out / "stats.json", stats)
    card = out / "README.md"
    tmp = card.with_name("README.md.tmp")
    tmp.write_text(dataset_card(stats, cfg), encoding="utf-8")
    tmp.replace(card)
    return stats


def funnel_text(stats: dict[str, Any]) -> str:
    """The funnel as a plain-text table (for `wsdata stats` and the end of a build)."""
    d, h, s = stats["documents"], stats["hours"], stats["segments"]
    lines = [
        f"documents: {d['in']} in, {d['kept']} kept, {d['rejected']} rejected",
        f"audio:     {h['in']:.3f} h decoded, {h['kept']:.3f} h kept "
        f"({h['kept_train']:.3f} h train, {h['kept_validation']:.3f} h validation)",
        f"segments:  {s['cut']} cut, {s['kept']} kept ({s['kept_no_speech']} no-speech), {s['rejected']} rejected",
        "",
        f"{'stage':<10}{'docs in':>9}{'rejected':>10}{'hours':>9}",
    ]
    for f in stats["funnel"]:
        lines.append(f"{f['stage']:<10}{f['documents_in']:>9}{f['documents_rejected']:>10}{f['hours_rejected']:>9.3f}")
    lines.append("")
    lines.append("documents rejected by reason:")
    for r, n in sorted(d["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {r:<34}{n:>6}")
    if s["rejected_by_reason"]:
        lines.append("segments rejected by reason:")
        for r, n in sorted(s["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
            lines.append(f"  {r:<34}{n:>6}")
    lines.append(lid_sentence(stats))
    lines.append("kept hours by language and task:")
    for lang, tasks in sorted(stats["by_language_task"].items()):
        for task, v in sorted(tasks.items()):
            lines.append(f"  {lang:<8}{task:<12}{v['segments']:>7} segments {v['hours']:>9.3f} h")
    return "\n".join(lines)


def lid_sentence(stats: dict[str, Any]) -> str:
    model = stats.get("audio_language_id")
    if model:
        return (f"Spoken language: identified from the audio by the Whisper model `{model}`; a transcript in "
                "another language is a translation pair when it is English, else rejected (`language.mismatch`).")  # fmt: skip
    return ("No audio language identification ran (no `--audio-lid`): the spoken language is assumed from the "
            "transcript's language and the crawl's `language` claim, so a transcript in the wrong language whose "
            "claim agrees with its text is not caught.")  # fmt: skip


def dedup_sentence(stats: dict[str, Any]) -> str:
    d = stats.get("dedup")
    if not d:
        return "No duplicate removal ran (`dedup.enabled = false`)."
    return (f"Duplicates: MinHash over word {d['ngram']}-grams, {d['num_perm']} permutations, Jaccard threshold "
            f"{d['threshold']} -> LSH with {d['bands']} bands x {d['rows']} rows, candidates verified on their full "
            f"signatures; {d['documents_signed']} transcripts "
            f"compared across the whole crawl, {d['clusters']} clusters, {d['rejected']} documents dropped "
            f"({d['rejected_exact']} exact). One member per cluster is kept: a human-looking transcript over a "
            "machine-looking one, then the longer, then the smaller id.")  # fmt: skip


def dataset_card(stats: dict[str, Any], cfg: BuildConfig) -> str:
    d, h, s = stats["documents"], stats["hours"], stats["segments"]
    out = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: data/train-*.parquet",
        "  - split: validation",
        "    path: data/validation-*.parquet",
        "---",
        "",
        "# Speech corpus built with wsdata",
        "",
        f"Built by wsdata {stats['wsdata_version']} with the `{stats['pipeline']}` pipeline. Segments of at most 30 s,",
        "16 kHz mono FLAC, cut at caption boundaries, with the raw transcript text as the target",
        "(CONTRACT.md section 2 describes every column). Load it with",
        '`datasets.load_dataset("parquet", data_files={"train": "data/train-*.parquet"})`.',
        "",
        "## Funnel",
        "",
        f"- Documents: **{d['in']} in**, {d['kept']} kept, {d['rejected']} rejected.",
        f"- Audio: {h['in']:.3f} h decoded, **{h['kept']:.3f} h kept** ({h['kept_train']:.3f} h train, "
        f"{h['kept_validation']:.3f} h validation). Documents rejected before decoding are not timed.",
        f"- Segments: {s['cut']} cut, {s['kept']} kept ({s['kept_no_speech']} no-speech), {s['rejected']} rejected.",
        "",
        "| stage | documents in | rejected | hours rejected |",
        "|---|---:|---:|---:|",
    ]
    out += [f"| {f['stage']} | {f['documents_in']} | {f['documents_rejected']} | {f['hours_rejected']:.3f} |" for f in stats["funnel"]]
    out += ["", "### Documents dropped, per reason", "", "| reason | documents | hours | meaning |", "|---|---:|---:|---|"]
    for r, n in sorted(d["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        out.append(f"| `{r}` | {n} | {h['rejected_documents_by_reason'].get(r, 0):.3f} | {REASONS.get(r, '')} |")
    out += ["", "### Segments dropped, per reason", "", "| reason | segments | hours | meaning |", "|---|---:|---:|---|"]
    for r, n in sorted(s["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        out.append(f"| `{r}` | {n} | {h['rejected_segments_by_reason'].get(r, 0):.3f} | {REASONS.get(r, '')} |")
    out += ["", "## Hours per language and task", "", "| language | task | segments | hours |", "|---|---|---:|---:|"]
    for lang, tasks in sorted(stats["by_language_task"].items()):
        for task, v in sorted(tasks.items()):
            out.append(f"| {lang} | {task} | {v['segments']} | {v['hours']:.3f} |")
    out += [
        "",
        lid_sentence(stats),
        "",
        dedup_sentence(stats),
        "",
        f"Text cleaning removed {stats['text_cleaning']['boilerplate_phrases_removed']} boilerplate phrases and "
        f"{stats['text_cleaning']['sound_tags_removed']} sound tags, dropping {stats['text_cleaning']['cues_dropped']} "
        f"cues; {stats['text_cleaning']['kept_segments_with_speaker_labels']} kept segments carry speaker labels "
        "(filter on `speaker_labels` for the unlabelled subset).",
        "",
        "## Pipeline config (resolved)",
        "",
        "```toml",
        cfg.to_toml().rstrip(),
        "```",
        "",
        "Rejected documents and segments, with their reasons, are in `rejects/`; the same numbers as",
        "this card are in `stats.json`.",
        "",
    ]
    return "\n".join(out)
