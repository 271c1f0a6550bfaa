"""Build stages, and the order they run in. Each stage is small and keeps or rejects with a
`stage.code` reason; `base` does the counting, timing and reject rows.

    read -> pair/transcript -> machine -> text/clean -> dedup -> pair/audio        (documents)
         -> segment -> text/gates -> dedup/eval -> language                       (segments)
         -> agree                        (with `--asr`: batched across documents, stages/agree.py)
With `--asr`, `agree/timing` also runs right after pair/audio: it repairs shifted captions.

The text stages run before the audio is decoded, so a document they reject costs no decode; the
global dedup pass (wsdata/dedup/cluster.py) runs BEFORE_DEDUP on every line first. `FUNNEL` is
this order by step name: the rows of the funnel in stats.json and the dataset card.
"""

from __future__ import annotations

from wsdata.config import BuildConfig
from wsdata.errors import fatal_errors
from wsdata.stages.agree import AgreeCheck, AgreeTiming
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


def doc_stages(cfg: BuildConfig) -> list[type[DocStage]]:
    """DOC_STAGES, and the caption timing check after the decode when the build has a model."""
    return DOC_STAGES + ([AgreeTiming] if cfg.agree.asr and cfg.agree.retime else [])


def funnel_steps(cfg: BuildConfig) -> list[str]:
    """The steps a build with `cfg` runs, in order: FUNNEL, with the agree steps when it has a model."""
    docs = [ReadLine.step, *(s.step for s in doc_stages(cfg))]
    return docs + [s.step for s in SEGMENT_STAGES] + ([AgreeCheck.step] if cfg.agree.asr else [])


def require_models(cfg: BuildConfig) -> None:
    """Load every model and optional extra the stages of a build with `cfg` need, in this process:
    a wsdata.errors.FatalError (ModelUnavailable, ExtraMissing) when one cannot be had. Run before
    a build writes anything; the stages still let the same errors through on a worker that lacks them."""
    with fatal_errors():
        for stage in (*doc_stages(cfg), *SEGMENT_STAGES, AgreeCheck):
            stage.require(cfg)
