"""The data model: a crawl document, its transcript cues, the segments cut from it, and rejects.

Modelled on lhotse's recordings/supervisions/cuts, with every time an integer number of
milliseconds relative to the start of the source audio (segment-relative where named so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wsdata.reasons import check_reason


@dataclass(frozen=True)
class Cue:
    """One caption: text shown from start_ms to end_ms (source-audio time)."""

    start_ms: int
    end_ms: int
    text: str  # raw caption text, lines joined by a space, markup removed, not normalized

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass
class BadCue:
    """A cue whose timing could not be used: kept so its text is accounted for, never guessed."""

    line: int  # line (or JSON item) number, 1-based
    timing: str  # the offending timing line, as written
    text: str  # the cue's text (cleaned); raw lines while parsing
    after_ms: int  # end of the last good cue before it: segments must not span this point


@dataclass
class Transcript:
    """A parsed transcript. `cues` is empty for an untimed transcript (inline text or .txt)."""

    format: str  # srt | vtt | json | txt | inline
    cues: list[Cue] = field(default_factory=list)
    text: str = ""  # the whole transcript text (cue texts joined for timed formats)
    encoding: str = "utf-8"
    # Evidence kept for the later machine-transcript stage (YouTube auto-caption signature).
    word_timing_tags: int = 0  # count of <00:00:01.020> style word-timing tags
    rolling_lines_collapsed: int = 0  # caption lines dropped because they repeated the previous cue
    overlapping_cues: int = 0  # cues starting > 100 ms before the previous one ended (machine-made tracks)
    bad_cues: list[BadCue] = field(default_factory=list)  # cues with unparsable or reversed timings

    @property
    def timed(self) -> bool:
        return bool(self.cues)


@dataclass
class Document:
    """One crawl line that passed the read stage."""

    id: str
    line: int  # 1-based line number in the crawl file
    audio_uri: str  # resolved path or URI of the audio
    transcript_uri: str | None  # resolved path or URI of the transcript; None for inline text
    inline_text: str | None
    language: str | None  # crawl's claim (ISO 639-1)
    caption_kind: str | None  # manual | asr | unknown
    source: str | None
    passthrough: dict[str, Any] = field(default_factory=dict)  # url, license, meta
    split: str | None = None  # "train" | "validation" when the crawl says (an imported corpus's split)
    unknown_fields: list[str] = field(default_factory=list)  # keys of its line outside the contract
    transcript: Transcript | None = None  # filled by the pair stage
    duration_ms: int | None = None  # filled once the audio is decoded
    estimated_ms: int | None = None  # rejected before decoding: its length guessed (stages/base.py)
    # The decoded audio while the document is processed (a wsdata.io.pcm.Pcm: 16 kHz int16, read by
    # slice, possibly from a temporary file); released as soon as the document is decided.
    samples: Any = None
    speech: Any = None  # its voice activity (wsdata.vad.SpeechMap), once a stage has computed it
    evidence: dict[str, Any] = field(default_factory=dict)  # stage outputs (scores, languages)
    dedup: tuple[str, str] | None = None  # (reason, detail) when the global dedup pass dropped this line

    def release_audio(self) -> None:
        if self.samples is not None:
            self.samples.close()
            self.samples = None
        self.speech = None


@dataclass
class Segment:
    """A cut of at most 30 s: [start_ms, end_ms) of the source audio and the cues inside it."""

    index: int  # position in the document, in time order (the id's suffix)
    start_ms: int
    end_ms: int
    cues: list[Cue]  # source-audio times; empty for a no-speech segment
    prev_text: str = ""
    no_speech: bool = False
    speech_ratio: float | None = None
    reject: Reject | None = None  # set when a segment stage drops it
    untimed: bool = False  # one segment of untimed text: no timestamps are known
    bad_text: str = ""  # text of a cue with unusable timing (start_ms = end_ms = -1)
    speaker_labels: bool = False  # a cue holds a ">> NAME:" / "NAME:" speaker mark (text stage)
    text_language: tuple[str, float] | None = None  # langid on the segment's text (language stage)
    asr_text: str | None = None  # the agreement model's transcript (agree stage, `--asr`)
    asr_wer: float | None = None  # the caption's error rate against asr_text (wsdata/agree/wer.py)

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cues)


@dataclass
class Reject:
    """Why a document or segment was dropped. `reason` is `stage.code` (see wsdata.reasons)."""

    reason: str
    detail: str = ""

    def __post_init__(self) -> None:
        check_reason(self.reason)

    @property
    def stage(self) -> str:
        return self.reason.split(".", 1)[0]
