"""The chunks' counters -> stats.json (the machine-readable funnel) and the dataset card README.md.

Both are written from the same numbers, after every chunk is done; `wsdata stats` prints them.
stats.json follows schemas/stats.v2.schema.json (`schema_version`).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from wsdata import __version__, holdout
from wsdata.config import BuildConfig
from wsdata.errors import BuildError
from wsdata.io import atomic
from wsdata.layout import Layout
from wsdata.reasons import REASONS
from wsdata.review import sample as review_sample
from wsdata.stages import funnel_steps
from wsdata.stats import ChunkStats, StatsVersionError, StepCount
from wsdata.terminal import safe

SCHEMA_VERSION = 2  # of stats.json: 2 has the funnel by step, in the order the steps run


def _hours(ms: int) -> float:
    return round(ms / 3.6e6, 4)


def aggregate(out: Path, n_chunks: int) -> ChunkStats:
    """The sum of every chunk's counters (read from the completion markers)."""
    layout, total = Layout(out), ChunkStats()
    for i in range(n_chunks):
        path = layout.chunk_marker(i)
        if not path.exists():
            raise RuntimeError(f"chunk {i} has no completion marker ({path}); rerun the build to finish it")
        try:
            total.merge(ChunkStats.from_json(json.loads(path.read_text(encoding="utf-8"))["stats"]))
        except StatsVersionError as e:
            raise BuildError(
                f"{out} was partly built by another version of wsdata ({e}); build into a new --out"
            ) from None
    return total


def funnel(c: ChunkStats, steps: list[str]) -> list[dict[str, Any]]:
    """One row per step, in run order: what it received and what it dropped. A step's documents in
    are the previous step's in minus its rejects (tests/test_build.py checks it on real builds)."""
    rows = []
    for step in steps:
        n = c.steps.get(step) or StepCount()
        rows.append(
            {
                "step": step,
                "stage": step.split("/", 1)[0],
                "documents_in": n.docs_in,
                "documents_rejected": n.docs_rejected,
                "hours_rejected": _hours(n.audio_ms_rejected),
                "hours_rejected_estimated": _hours(n.audio_ms_rejected_estimated),
                "segments_in": n.segments_in,
                "segments_rejected": n.segments_rejected,
            }
        )
    return rows


def stats_from_counts(c: ChunkStats, cfg: BuildConfig, n_chunks: int) -> dict[str, Any]:
    doc_reasons = {r: v.count for r, v in sorted(c.doc_reasons.items())}
    seg_reasons = {r: v.count for r, v in sorted(c.segment_reasons.items())}
    return {
        "schema_version": SCHEMA_VERSION,
        "wsdata_version": __version__,
        "pipeline": cfg.name,
        "chunks": n_chunks,
        "documents": {
            "in": c.docs_in,
            "kept": c.docs_kept,
            "rejected": c.docs_rejected,
            "rejected_by_reason": doc_reasons,
        },
        "hours": {
            "in": _hours(c.audio_ms_in),  # audio decoded
            # documents rejected before decoding: their transcripts' last cue, or their containers' header
            "in_estimated": _hours(c.audio_ms_in_estimated),
            "kept": _hours(c.audio_ms_kept),
            "kept_train": _hours(c.audio_ms_kept_train),
            "kept_validation": _hours(c.audio_ms_kept_validation),
            "rejected_documents_by_reason": {r: _hours(v.audio_ms) for r, v in sorted(c.doc_reasons.items())},
            "rejected_documents_by_reason_estimated": {
                r: _hours(v.audio_ms_estimated) for r, v in sorted(c.doc_reasons.items()) if v.audio_ms_estimated
            },
            "rejected_segments_by_reason": {r: _hours(v.audio_ms) for r, v in sorted(c.segment_reasons.items())},
        },
        "segments": {
            "cut": c.segments_cut,
            "kept": c.segments_kept,
            "kept_train": c.segments_kept_train,
            "kept_validation": c.segments_kept_validation,
            "kept_no_speech": c.segments_kept_no_speech,
            "rejected": c.segments_rejected,
            "rejected_by_reason": seg_reasons,
        },
        "funnel": funnel(c, funnel_steps(cfg)),
        "by_language_task": {
            lang: {task: {"segments": k.segments, "hours": _hours(k.audio_ms)} for task, k in sorted(tasks.items())}
            for lang, tasks in sorted(c.by_language.items())
        },
        "by_source": {
            src: {
                "documents_in": v.docs_in,
                "documents_kept": v.docs_kept,
                "hours_in": _hours(v.audio_ms_in),
                "hours_in_estimated": _hours(v.audio_ms_estimated),
                "hours_kept": _hours(v.audio_ms_kept),
            }
            for src, v in sorted(c.by_source.items())
        },
        "audio_language_id": cfg.language.audio_lid or None,  # None: spoken language assumed from text + claim
        "text_cleaning": {
            "boilerplate_phrases_removed": c.boilerplate_removed,
            "sound_tags_removed": c.sound_tags_removed,
            "cues_dropped": c.cues_dropped,
            "kept_segments_with_speaker_labels": c.segments_kept_speaker_labels,
        },
        "config": cfg.to_dict(),
        "unknown_fields": dict(sorted(c.unknown_fields.items())),
    }


def licenses(out: Path) -> dict[str, dict[str, float]]:
    """Kept segments and hours per `license` value of the crawl ("" for none), from the shards."""
    import pyarrow.parquet as pq

    by: dict[str, dict[str, float]] = {}
    for shard in sorted(Layout(out).data.glob("*.parquet")):
        for r in pq.read_table(shard, columns=["license", "duration_ms"]).to_pylist():
            v = by.setdefault(r["license"] or "", {"segments": 0, "hours": 0.0})
            v["segments"] += 1
            v["hours"] += r["duration_ms"] / 3.6e6
    return {k: {"segments": v["segments"], "hours": round(v["hours"], 4)} for k, v in sorted(by.items())}


def _license_yaml(lic: dict[str, Any]) -> list[str]:
    """The card's `license:`: the Hub's id when every segment has one SPDX-like licence, else other."""
    names = [k for k in lic if k]
    if len(names) == 1 and "" not in lic and re.fullmatch(r"[A-Za-z0-9.+-]{2,40}", names[0]):
        return [f"license: {names[0].lower()}"]
    return ["license: other"] if lic else []


def unknown_sentence(stats: dict[str, Any]) -> str | None:
    """The crawl's keys outside the contract, with a guess at what each misspells; None when none."""
    from wsdata.io.crawl import did_you_mean

    unknown = stats.get("unknown_fields") or {}
    if not unknown:
        return None
    parts = []
    for k, n in sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
        guess = did_you_mean(k)
        parts.append(f"{safe(k, 40)} ({n} lines" + (f"; did you mean {guess}?" if guess else "") + ")")
    return "Crawl fields outside the contract, ignored: " + ", ".join(parts) + "."


def finalize(out: Path, cfg: BuildConfig, n_chunks: int) -> dict[str, Any]:
    layout = Layout(out)
    held_out = holdout.ensure_validation(out, cfg, n_chunks)  # a small build gets a validation split too
    stats = stats_from_counts(aggregate(out, n_chunks), cfg, n_chunks)
    stats["review_items"] = review_sample.finalize(out, cfg, n_chunks)
    stats["held_out_document"] = held_out
    done = layout.dedup_done
    stats["dedup"] = json.loads(done.read_text(encoding="utf-8")) if done.exists() else None
    ident = json.loads(layout.build_ident.read_text(encoding="utf-8")) if layout.build_ident.exists() else {}
    stats["source"], stats["started"] = ident.get("source"), ident.get("started")
    stats["licenses"] = licenses(out)
    staged = layout.import_work / "staged.json"  # `wsdata import`: what corpus this build is
    stats["imported_from"] = json.loads(staged.read_text(encoding="utf-8"))["ident"] if staged.exists() else None
    atomic.write_json(layout.stats, stats)
    atomic.write_text(layout.card, dataset_card(stats, cfg))
    return stats


def funnel_text(stats: dict[str, Any]) -> str:
    """The funnel as a plain-text table (for `wsdata stats` and the end of a build)."""
    d, h, s = stats["documents"], stats["hours"], stats["segments"]
    lines = [
        f"documents: {d['in']} in, {d['kept']} kept, {d['rejected']} rejected",
        (
            f"audio:     {h['in']:.3f} h decoded, {h['kept']:.3f} h kept "
            f"({h['kept_train']:.3f} h train, {h['kept_validation']:.3f} h validation)"
            + (
                f"; about {est:.3f} h more rejected before decoding (estimated)"
                if (est := h.get("in_estimated"))
                else ""
            )
        ),
        f"segments:  {s['cut']} cut, {s['kept']} kept ({s['kept_no_speech']} no-speech), {s['rejected']} rejected",
        "",
        f"{'step':<16}{'docs in':>9}{'rejected':>10}{'hours':>9}{'est. h':>9}",
    ]
    for f in stats["funnel"]:
        est = f.get("hours_rejected_estimated") or 0.0
        lines.append(
            f"{f['step']:<16}{f['documents_in']:>9}{f['documents_rejected']:>10}{f['hours_rejected']:>9.3f}"
            + (f"{est:>9.3f}" if est else "")
        )
    lines.append("")
    lines.append("documents rejected by reason:")
    for r, n in sorted(d["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {r:<34}{n:>6}")
    if s["rejected_by_reason"]:
        lines.append("segments rejected by reason:")
        for r, n in sorted(s["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
            lines.append(f"  {r:<34}{n:>6}")
    lines.append(lid_sentence(stats))
    if unknown := unknown_sentence(stats):
        lines.append(unknown)
    if stats.get("config", {}).get("agree", {}).get("asr"):
        lines.append(agree_sentence(stats))
    lines.append("kept hours by language and task:")
    for lang, tasks in sorted(stats["by_language_task"].items()):
        for task, v in sorted(tasks.items()):
            lines.append(f"  {safe(lang):<8}{safe(task):<12}{v['segments']:>7} segments {v['hours']:>9.3f} h")
    return "\n".join(lines)


def combined_text(named: list[tuple[str, dict[str, Any]]]) -> str:
    """Several builds side by side (`wsdata stats A B ...`, before training on their mixture): per
    build its documents and kept hours, then kept hours per language and task, each build a column."""
    width = max(10, *(len(safe(n, 24)) + 2 for n, _ in named))
    lines = [f"{'build':<{width}}{'docs in':>9}{'kept':>9}{'h train':>10}{'h valid':>10}"]
    for name, st in named:
        d, h = st["documents"], st["hours"]
        lines.append(
            f"{safe(name, 24):<{width}}{d['in']:>9}{d['kept']:>9}{h['kept_train']:>10.3f}{h['kept_validation']:>10.3f}"
        )
    keys = sorted({(lg, t) for _, st in named for lg, tasks in st["by_language_task"].items() for t in tasks})
    lines += ["", "kept hours by language and task:", f"  {'':<20}" + "".join(f"{safe(n, 12):>14}" for n, _ in named)]
    lines[-1] += f"{'total':>12}"
    for lg, task in keys:
        hours = [st["by_language_task"].get(lg, {}).get(task, {}).get("hours", 0.0) for _, st in named]
        row = f"  {safe(lg):<8}{safe(task):<12}" + "".join(f"{x:>14.3f}" for x in hours) + f"{sum(hours):>12.3f}"
        lines.append(row)
    totals = [sum(v["hours"] for tasks in st["by_language_task"].values() for v in tasks.values()) for _, st in named]
    lines.append(f"  {'all':<20}" + "".join(f"{x:>14.3f}" for x in totals) + f"{sum(totals):>12.3f}")
    return "\n".join(lines)


def lid_sentence(stats: dict[str, Any]) -> str:
    model = stats.get("audio_language_id")
    if model:
        return (
            f"Spoken language: identified from the audio by the Whisper model `{model}`; a transcript in "
            "another language is a translation pair when it is English, else rejected (`language.mismatch`)."
        )
    return (
        "No audio language identification ran (no `--audio-lid`): the spoken language is assumed from the "
        "transcript's language and the crawl's `language` claim, so a transcript in the wrong language whose "
        "claim agrees with its text is not caught."
    )


def agree_sentence(stats: dict[str, Any]) -> str:
    a = stats.get("config", {}).get("agree", {})
    if not a.get("asr"):
        return "Captions were not checked against a speech model (no `--asr`)."
    return (
        f"Captions checked against the Whisper model `{safe(a['asr'])}`: a segment whose caption differs from "
        f"the model's transcript by more than WER {a['segment_max_wer']} is `agree.segment_wer`, a document past "
        f"{a['document_max_wer']} over its segments `agree.document_wer`; each speech row carries `asr_text` and "
        "`asr_wer`. Translation pairs are transcribed but not judged."
    )


def dedup_sentence(stats: dict[str, Any]) -> str:
    d = stats.get("dedup")
    if not d:
        return "No duplicate removal ran (`dedup.enabled = false`)."
    return (
        f"Duplicates: MinHash over word {d['ngram']}-grams, {d['num_perm']} permutations, Jaccard threshold "
        f"{d['threshold']} -> LSH with {d['bands']} bands x {d['rows']} rows, candidates verified on their full "
        f"signatures; {d['documents_signed']} transcripts "
        f"compared across the whole crawl, {d['clusters']} clusters, {d['rejected']} documents dropped "
        f"({d['rejected_exact']} exact). One member per cluster is kept: a human-looking transcript over a "
        "machine-looking one, then the longer, then the smaller id."
    )


def _md(text: str, width: int = 60) -> str:
    """A crawled string as inert Markdown table text: controls visible, no HTML, no cell break."""
    return html.escape(safe(text, width)).replace("|", "\\|").replace("`", "\\`")


def _split_note(stats: dict[str, Any]) -> list[str]:
    """Why the validation split is what it is, when it is not simply the seeded share."""
    if stats.get("held_out_document"):
        doc = _md(stats["held_out_document"], 80)
        return [f"- Validation: the seeded split held out no document, so {doc} (first by that hash) was held out."]
    if not stats["segments"]["kept_validation"]:
        frac = stats["config"]["write"]["validation_fraction"]
        why = "`write.validation_fraction` is 0" if not frac else "fewer than two documents were kept"
        return [f"- **No validation split**: {why}. `wsdata train` on this build logs no validation scores."]
    return []


def _imported(stats: dict[str, Any]) -> list[str]:
    imp = stats.get("imported_from")
    if not imp:
        return []
    corpus = ", ".join(_md(c, 200) for c in imp["corpus"])
    return [f"Imported with `wsdata import` from a `{imp['format']}` corpus: {corpus}.", ""]


def _sources(stats: dict[str, Any], top: int = 30) -> list[str]:
    """The sources with the most hours kept: the unit of per-source audits (docs/audit.md)."""
    by = sorted(stats["by_source"].items(), key=lambda kv: (-kv[1]["hours_kept"], kv[0]))
    out = ["", "## Sources", "", "| source | documents in | kept | hours kept |", "|---|---:|---:|---:|"]
    out += [
        f"| {_md(src) if src else '(none)'} | {v['documents_in']} | {v['documents_kept']} | {v['hours_kept']:.3f} |"
        for src, v in by[:top]
    ]
    if len(by) > top:
        out.append(f"| … {len(by) - top} more (stats.json, `by_source`) | | | |")
    return out


def _licenses(stats: dict[str, Any]) -> list[str]:
    lic = stats.get("licenses") or {}
    if not lic:
        return []
    out = ["", "## Licences", "", "Each row carries its crawl line's `license`.", ""]
    out += ["| license | segments | hours |", "|---|---:|---:|"]
    out += [f"| {_md(k) if k else '(none given)'} | {v['segments']} | {v['hours']:.3f} |" for k, v in lic.items()]
    return out


def dataset_card(stats: dict[str, Any], cfg: BuildConfig) -> str:
    d, h, s = stats["documents"], stats["hours"], stats["segments"]
    tc = stats["text_cleaning"]
    out = [
        "---",
        *_license_yaml(stats.get("licenses") or {}),
        "configs:",
        "- config_name: default",
        "  data_files:",
        *(  # only the splits that have files: `load_dataset(OUT)` fails on a split with none
            f"  - split: {split}\n    path: data/{split}-*.parquet"
            for split, n in (("train", s["kept_train"]), ("validation", s["kept_validation"]))
            if n
        ),
        "---",
        "",
        "# Speech corpus built with wsdata",
        "",
        *(
            [f"Built from {_md(stats['source'], 300)}, started {stats['started']}.", ""]
            if stats.get("source") and not stats.get("imported_from")
            else []
        ),
        f"Built by wsdata {stats['wsdata_version']} with the `{stats['pipeline']}` pipeline. Segments of at most 30 s,",
        "16 kHz mono FLAC, cut at caption boundaries, with the raw transcript text as the target",
        "(the columns are described in wsdata's docs/shards.md). Load it with",
        '`datasets.load_dataset("parquet", data_files={"train": "data/train-*.parquet"})`; decode the audio',
        "with `wsdata.hf.decode_audio` (soundfile; no torchcodec needed).",
        "",
        *_imported(stats),
        "## Funnel",
        "",
        f"- Documents: **{d['in']} in**, {d['kept']} kept, {d['rejected']} rejected.",
        (
            f"- Audio: {h['in']:.3f} h decoded, **{h['kept']:.3f} h kept** ({h['kept_train']:.3f} h train, "
            f"{h['kept_validation']:.3f} h validation). Documents rejected before decoding are not decoded: "
            f"about {h.get('in_estimated', 0.0):.3f} h more by estimate (a transcript's last cue, or the "
            "container's declared duration)."
        ),
        f"- Segments: {s['cut']} cut, {s['kept']} kept ({s['kept_no_speech']} no-speech), {s['rejected']} rejected.",
        *_split_note(stats),
        "",
        "The steps in the order they run: each receives what the one before it kept. The transcript is",
        "paired and judged before the audio is decoded (`pair/audio`); segments are cut after.",
        "",
        "| step | documents in | rejected | hours rejected | ≈ hours (estimated, before decoding) |",
        "|---|---:|---:|---:|---:|",
    ]
    out += [
        f"| {f['step']} | {f['documents_in']} | {f['documents_rejected']} | {f['hours_rejected']:.3f} | "
        f"{f.get('hours_rejected_estimated', 0.0):.3f} |"
        for f in stats["funnel"]
    ]
    out += [
        "",
        "### Documents dropped, per reason",
        "",
        "| reason | documents | hours | meaning |",
        "|---|---:|---:|---|",
    ]
    for r, n in sorted(d["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        out.append(f"| `{r}` | {n} | {h['rejected_documents_by_reason'].get(r, 0):.3f} | {REASONS.get(r, '')} |")
    out += [
        "",
        "### Segments dropped, per reason",
        "",
        "| reason | segments | hours | meaning |",
        "|---|---:|---:|---|",
    ]
    for r, n in sorted(s["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        out.append(f"| `{r}` | {n} | {h['rejected_segments_by_reason'].get(r, 0):.3f} | {REASONS.get(r, '')} |")
    out += _sources(stats)
    out += _licenses(stats)
    out += ["", "## Hours per language and task", "", "| language | task | segments | hours |", "|---|---|---:|---:|"]
    for lang, tasks in sorted(stats["by_language_task"].items()):
        for task, v in sorted(tasks.items()):
            out.append(f"| {lang} | {task} | {v['segments']} | {v['hours']:.3f} |")
    out += [
        "",
        lid_sentence(stats),
        "",
        *([html.escape(u), ""] if (u := unknown_sentence(stats)) else []),
        agree_sentence(stats),
        "",
        dedup_sentence(stats),
        "",
        (
            f"Text cleaning removed {tc['boilerplate_phrases_removed']} boilerplate phrases and "
            f"{tc['sound_tags_removed']} sound tags, dropping {tc['cues_dropped']} "
            f"cues; {tc['kept_segments_with_speaker_labels']} kept segments carry speaker labels "
            "(filter on `speaker_labels` for the unlabelled subset)."
        ),
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
