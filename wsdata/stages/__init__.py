"""Build stages, and the order they run in. Each stage is small and keeps or rejects with a
`stage.code` reason; `base` does the counting, timing and reject rows.

    read -> pair/transcript -> machine -> text/clean -> dedup -> pair/audio        (documents)
         -> segment -> text/gates -> dedup/eval -> language                       (segments)
         -> agree                        (with `--asr`: batched across documents, stages/agree.py)

The text stages run before the audio is decoded, so a document they reject costs no decode; the
global dedup pass (wsdata/dedup/cluster.py) runs BEFORE_DEDUP on every line first. `FUNNEL` is
this order by step name: the rows of the funnel in stats.json and the dataset card.
"""

from __future__ import annotations

from wsdata.config import BuildConfig
from wsdata.stages.agree import AgreeCheck
from wsdata.stages.base import DocStage, SegmentStage
from wsdata.stages.dedup import DedupEvalSegments, DedupFilter
from wsdata.stages.language import LanguageRoute
from wsdata.stages.machine import MachineFilter
from wsdata.stages.pair import PairAudio, PairTranscript
from wsdata.stages.read import ReadLine
from wsdata.stages.segment import CutSegments
from wsdata.stages.text import TextClean, TextGates

BEFORE_DEDUP: list[type[DocStage]] = [PairTranscript, MachineFilter, TextClean]
DOC_STAGES: list[type[DocStage]] = [*BEFORE_DEDUP, DedupFilter, PairAudio]
SEGMENT_STAGES: list[type[SegmentStage]] = [CutSegments, TextGates, DedupEvalSegments, LanguageRoute]
FUNNEL: list[str] = [ReadLine.step, *(s.step for s in DOC_STAGES), *(s.step for s in SEGMENT_STAGES)]


def funnel_steps(cfg: BuildConfig) -> list[str]:
    """The steps a build with `cfg` runs, in order: FUNNEL, then `agree` when it checks with a model."""
    return FUNNEL + ([AgreeCheck.step] if cfg.agree.asr else [])
