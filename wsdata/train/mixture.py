"""Training on several builds at once: `wsdata train --data A --data B:0.5`.

A mixture is a list of components, one per build folder, each with a sampling weight: the loader
picks the component of every sample by weight, with a seeded generator per reader, so the order
is a pure function of the seed and exact resume still holds (wsdata/train/data.py). Inside a
component two optional reshapings, both by seeded acceptance of rows as they stream (no second pass
over the audio, and none at all when neither is asked for):

- language temperature `alpha`: languages sampled with p(l) proportional to hours(l)**alpha (1: as
  they come; 0: every language alike; XLS-R and OWSM use 0.3-0.5 to lift rare languages);
- `max_source_hours`: a source with more hours than that is sampled down to that many.

The hours come from the train shards' own columns (language, source, start and end), read without
their audio when the run starts. No torch here: `wsdata train --help` and the tests read it light.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsdata.layout import Layout


@dataclass(frozen=True)
class Component:
    name: str  # the folder's name, made unique: the key of the realised mixture
    folder: Path
    weight: float
    files: tuple[Path, ...]  # its train shards
    keep: dict[tuple[str, str], float] = field(default_factory=dict)  # (language, source) -> P(accept) < 1


def parse_spec(spec: str) -> tuple[Path, float]:
    """`DIR` or `DIR:WEIGHT` -> (folder, weight); ValueError naming the spec when it is wrong. A
    weight is a finite number > 0 (inf would take every sample, and JSON cannot hold it)."""
    head, sep, tail = spec.rpartition(":")
    if not (sep and head) or Path(spec).exists():  # no weight, or a colon in the folder's own name
        return Path(spec), 1.0
    try:
        weight = float(tail)
    except ValueError:
        if not Path(head).exists():
            return Path(spec), 1.0  # a colon in a folder's name that does not exist: said as such by `plan`
        raise ValueError(f"--data {spec}: the weight {tail!r} is not a number") from None
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"--data {spec}: the weight must be > 0 and finite")
    return Path(head), weight


def hours_by(files: tuple[Path, ...]) -> tuple[dict[str, float], dict[str, float], dict[tuple[str, str], float]]:
    """(hours per language, per source, per (language, source)) of shards, from their columns."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        t = pa.concat_tables(pq.read_table(f, columns=["language", "source", "start_ms", "end_ms"]) for f in files)
        ms = pc.fill_null(pc.subtract(t["end_ms"], t["start_ms"]), 0)
        t = pa.table(
            {
                "language": pc.fill_null(t["language"], ""),
                "source": pc.fill_null(t["source"], ""),
                "ms": pc.max_element_wise(ms, 0),  # a row that ends before it starts adds nothing
            }
        )
        sums = t.group_by(["language", "source"]).aggregate([("ms", "sum")]).to_pylist()
    except (OSError, ValueError, pa.ArrowException) as e:  # a corrupt shard, or columns missing or mistyped
        raise ValueError(f"--data: the hours per language and source cannot be read ({e})") from None
    both: dict[tuple[str, str], float] = {(r["language"], r["source"]): r["ms_sum"] / 3.6e6 for r in sums}
    lang: dict[str, float] = defaultdict(float)
    src: dict[str, float] = defaultdict(float)
    for (lg, s), h in both.items():
        lang[lg] += h
        src[s] += h
    return dict(lang), dict(src), both


def acceptance(files: tuple[Path, ...], alpha: float, max_source_hours: float) -> dict[tuple[str, str], float]:
    """P(accept) per (language, source) of a component, for the temperature and the source cap;
    only the pairs below 1 are listed."""
    if alpha == 1.0 and not max_source_hours:
        return {}
    lang, src, both = hours_by(files)
    total = sum(lang.values()) or 1.0
    norm = sum(h**alpha for h in lang.values())
    ratio = {lg: (h**alpha / norm) / (h / total) for lg, h in lang.items() if h > 0}
    top = max(ratio.values(), default=1.0)
    keep = {}
    for lg, s in both:
        p = ratio.get(lg, 1.0) / top
        if max_source_hours and src[s] > max_source_hours:
            p *= max_source_hours / src[s]
        if p < 1.0:
            keep[(lg, s)] = p
    return keep


def plan(specs: tuple[str, ...] | list[str], alpha: float = 1.0, max_source_hours: float = 0.0) -> list[Component]:
    """The components of `--data` specs; ValueError for a folder without train shards."""
    out: list[Component] = []
    names: set[str] = set()
    for spec in specs:
        folder, weight = parse_spec(spec)
        files = tuple(Layout(folder).shards("train"))
        if not files:
            raise ValueError(f"--data {spec}: no train shards in {Layout(folder).data} (is it a finished build?)")
        name, n = folder.resolve().name or "data", 2
        while name in names:
            name, n = f"{folder.resolve().name}-{n}", n + 1
        names.add(name)
        out.append(Component(name, folder, weight, files, acceptance(files, alpha, max_source_hours)))
    return out


def realised(components: list[Component], counts: list[dict[str, list[float]]]) -> dict[str, Any]:
    """What the run has seen, from the readers' counts ({language: [samples, hours]} per component,
    summed over ranks): per component its share of samples against its weight, and its hours."""
    total_w = sum(c.weight for c in components)
    per = []
    for c, by_lang in zip(components, counts):
        per.append(
            {
                "name": c.name,
                "weight_share": c.weight / total_w,
                "samples": int(sum(v[0] for v in by_lang.values())),
                "hours": sum(v[1] for v in by_lang.values()),
                "hours_by_language": {lg: v[1] for lg, v in sorted(by_lang.items())},
            }
        )
    n = sum(p["samples"] for p in per) or 1
    for p in per:
        p["sample_share"] = p["samples"] / n
    return {"components": per, "samples": sum(p["samples"] for p in per)}
