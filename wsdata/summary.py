"""The chunks' counters -> stats.json (the machine-readable funnel) and the dataset card README.md.

Both are written from the same numbers, after every chunk is done; `wsdata stats` prints them.
stats.json follows schemas/stats.v2.schema.json (`schema_version`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wsdata import __version__, card, holdout
from wsdata.config import BuildConfig
from wsdata.errors import BuildError
from wsdata.io import atomic
from wsdata.layout import MAX_STATS_BYTES, Layout
from wsdata.review import sample as review_sample
from wsdata.stages import funnel_steps
from wsdata.stats import ChunkStats, StatsVersionError, StepCount
from wsdata.terminal import safe

SCHEMA_VERSION = 2  # of stats.json: 2 has the funnel by step, in the order the steps run


def read_stats(layout: Layout) -> dict[str, Any]:
    """A build folder's stats.json: read within MAX_STATS_BYTES from a regular file, lone surrogates
    as U+FFFD; BuildError when it is missing or is no JSON object (a folder from someone else)."""
    from wsdata.io import fs
    from wsdata.io.textenc import loads_json

    try:
        stats = loads_json(fs.read_bytes(str(layout.stats), MAX_STATS_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise BuildError(f"{layout.stats} not found (is {layout.root} a finished build?)") from None
    except (OSError, ValueError, RecursionError) as e:  # not a regular file, too large, not JSON
        raise BuildError(f"{layout.stats} cannot be read as JSON ({type(e).__name__}: {e})") from None
    if not isinstance(stats, dict):
        raise BuildError(f"{layout.stats} is not a JSON object")
    return stats


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
        "licenses": {k: {"segments": v.segments, "hours": _hours(v.audio_ms)} for k, v in sorted(c.by_license.items())},
    }


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
    staged = layout.import_work / "staged.json"  # `wsdata import`: what corpus this build is
    stats["imported_from"] = json.loads(staged.read_text(encoding="utf-8"))["ident"] if staged.exists() else None
    atomic.write_json(layout.stats, stats)
    atomic.write_text(layout.card, card.dataset_card(stats, cfg))
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
            f"{safe(f['step'], 15):<16}{f['documents_in']:>9}{f['documents_rejected']:>10}{f['hours_rejected']:>9.3f}"
            + (f"{est:>9.3f}" if est else "")
        )
    lines.append("")
    lines.append("documents rejected by reason:")
    for r, n in sorted(d["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {safe(r, 33):<34}{n:>6}")
    if s["rejected_by_reason"]:
        lines.append("segments rejected by reason:")
        for r, n in sorted(s["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
            lines.append(f"  {safe(r, 33):<34}{n:>6}")
    lines.append(card.lid_sentence(stats))
    if unknown := card.unknown_sentence(stats):
        lines.append(unknown)
    if stats.get("config", {}).get("agree", {}).get("asr"):
        lines.append(card.agree_sentence(stats))
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
