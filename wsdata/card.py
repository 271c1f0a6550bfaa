"""The dataset card (OUT/README.md): the Hub's YAML (licence, the splits that exist), the funnel,
the drops per reason, hours per language and task, the sources and licences, and the resolved
config, from the numbers of stats.json (wsdata/summary.py). Also the sentences the terminal's
funnel shares with it.

Crawled strings (sources, licences, ids, field names) are made inert Markdown (`_md`): shown as
text wherever the card is rendered (GitHub, the Hub), never a link, an image, HTML, emphasis or a
table cell of their own. Names from the config (models, the pipeline) are code spans (`_code`),
and the card's YAML header holds only a quoted licence id.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from wsdata.config import BuildConfig
from wsdata.reasons import REASONS
from wsdata.terminal import safe


def _backticked(text: object) -> str:
    """A name in backticks, for the terminal (where backticks are just characters)."""
    return f"`{safe(text)}`"


def lid_sentence(stats: dict[str, Any], code: Callable[[object], str] = _backticked) -> str:
    model = stats.get("audio_language_id")
    if model:
        return (
            f"Spoken language: identified from the audio by the Whisper model {code(model)}; a transcript in "
            "another language is a translation pair when it is English, else rejected (`language.mismatch`)."
        )
    return (
        "No audio language identification ran (no `--audio-lid`): the spoken language is assumed from the "
        "transcript's language and the crawl's `language` claim, so a transcript in the wrong language whose "
        "claim agrees with its text is not caught."
    )


def agree_sentence(stats: dict[str, Any], code: Callable[[object], str] = _backticked) -> str:
    a = stats.get("config", {}).get("agree", {})
    if not a.get("asr"):
        return "Captions were not checked against a speech model (no `--asr`)."
    return (
        f"Captions checked against the Whisper model {code(a['asr'])}: a segment whose caption differs from "
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


def unknown_sentence(stats: dict[str, Any], name: Callable[[str], str] = lambda k: safe(k, 40)) -> str | None:
    """The crawl's keys outside the contract (each shown by `name`), with a guess at what each
    misspells; None when none."""
    from wsdata.io.crawl import did_you_mean

    unknown = stats.get("unknown_fields") or {}
    if not unknown:
        return None
    parts = []
    for k, n in sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
        guess = did_you_mean(k)
        parts.append(f"{name(k)} ({n} lines" + (f"; did you mean {guess}?" if guess else "") + ")")
    return "Crawl fields outside the contract, ignored: " + ", ".join(parts) + "."


def _license_yaml(lic: dict[str, Any]) -> list[str]:
    """The card's `license:`: the Hub's id when every segment has one SPDX-like licence, else other.
    Quoted (a JSON string is a YAML string), so an id like `no` or `null` stays a string."""
    names = [k for k in lic if k]
    if len(names) == 1 and "" not in lic and re.fullmatch(r"[A-Za-z0-9.+-]{2,40}", names[0]):
        return [f"license: {json.dumps(names[0].lower())}"]
    return ["license: other"] if lic else []


# Characters that start Markdown syntax anywhere in a line: escapes, code, emphasis, links and images,
# table cells, headings, strikethrough, e-mail autolinks. `<`, `>` and `&` become HTML entities.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()!|#~@{}])")


def _md(text: object, width: int | None = 60) -> str:
    """A crawled string as inert Markdown text, also inside a table: controls visible and at most
    `width` characters (terminal.safe), no HTML or entity of its own, every character that could
    start a link, an image, emphasis, code or a cell escaped, and no bare URL left to autolink."""
    s = _MD_SPECIAL.sub(r"\\\1", html.escape(safe(text, width), quote=False))
    s = s.replace("://", ":\\/\\/")  # GFM links a bare http://...; not once its slashes are escaped
    return re.sub(r"(?i)\b(www)\.", r"\1\\.", s)  # ... nor www.example.org


def _code(text: object) -> str:
    """A name from the config (a model, the pipeline) as a Markdown code span: shown literally,
    whatever backticks it holds (the fence is longer than its longest run of them)."""
    s = safe(text, 200)
    fence = "`" * (max((len(r) for r in re.findall("`+", s)), default=0) + 1)
    return f"{fence} {s} {fence}"


def _fenced(body: str, info: str) -> list[str]:
    """A fenced code block of `body`, with a fence no line of it can close."""
    fence = "`" * max(3, max((len(r) for r in re.findall("`+", body)), default=0) + 1)
    return [fence + info, body, fence]


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
    return [f"Imported with `wsdata import` from a {_code(imp['format'])} corpus: {corpus}.", ""]


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
    pipeline = _code(stats["pipeline"])  # a preset's own name
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
            [f"Built from {_md(stats['source'], 300)}, started {_md(stats['started'])}.", ""]
            if stats.get("source") and not stats.get("imported_from")
            else []
        ),
        f"Built by wsdata {stats['wsdata_version']} with the {pipeline} pipeline. Segments of at most 30 s,",
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
            out.append(f"| {_md(lang)} | {_md(task)} | {v['segments']} | {v['hours']:.3f} |")
    out += [
        "",
        lid_sentence(stats, _code),
        "",
        *([u, ""] if (u := unknown_sentence(stats, lambda k: _md(k, 40))) else []),
        agree_sentence(stats, _code),
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
        *_fenced(cfg.to_toml().rstrip(), "toml"),
        "",
        "Rejected documents and segments, with their reasons, are in `rejects/`; the same numbers as",
        "this card are in `stats.json`.",
        "",
    ]
    return "\n".join(out)
