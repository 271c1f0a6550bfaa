"""Build configuration: dataclasses with validation, loaded from a pipeline preset (TOML).

A preset names only what it changes; `pipelines/default.toml`, every setting with its default and
the comment beside it here, is generated from these classes (`python -m wsdata.config`), and a
test keeps it in sync. `wsdata build --set section.key=value` changes one setting of a preset.
Every check names the bad key and value, so a typo fails before any work starts.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A preset or option with a bad key or value; the message names it."""


def _check(ok: bool, key: str, value: Any, want: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r}: must be {want}")


@dataclass(frozen=True)
class ReadConfig:
    """Reading the crawl file."""

    chunk_size: int = 32  # crawl lines per work unit (one set of output files, one completion marker)

    def __post_init__(self) -> None:
        _check(self.chunk_size >= 1, "read.chunk_size", self.chunk_size, ">= 1")


@dataclass(frozen=True)
class PairConfig:
    """Pairing each audio file with its transcript: encodings, cue timings, the audio's length."""

    # Tried in order after BOM sniffing and strict UTF-8 (Western and Cyrillic Windows pages).
    fallback_encodings: tuple[str, ...] = ("cp1252", "cp1251")
    max_bad_cue_fraction: float = 0.2  # more unparsable/reversed cues than this rejects the document
    max_past_end_fraction: float = 0.2  # share of cue time after the audio's end that rejects it
    past_end_tolerance_ms: int = 1000  # cues may overrun the audio by this much (encoder padding)

    def __post_init__(self) -> None:
        import codecs

        for enc in self.fallback_encodings:
            try:
                codecs.lookup(enc)
            except LookupError:
                raise ConfigError(f"pair.fallback_encodings: unknown encoding {enc!r}") from None
        _check(0 <= self.max_bad_cue_fraction <= 1, "pair.max_bad_cue_fraction", self.max_bad_cue_fraction, "in [0, 1]")
        _check(
            0 <= self.max_past_end_fraction <= 1, "pair.max_past_end_fraction", self.max_past_end_fraction, "in [0, 1]"
        )
        _check(self.past_end_tolerance_ms >= 0, "pair.past_end_tolerance_ms", self.past_end_tolerance_ms, ">= 0")


@dataclass(frozen=True)
class SegmentConfig:
    """Cutting 30 s segments on cue boundaries, no-speech windows, and the voice-activity checks."""

    max_ms: int = 30_000  # Whisper's window
    lead_pad_ms: int = 200  # audio kept before a segment's first cue (never before the previous segment)
    no_speech_gap_ms: int = 30_000  # cue-free gaps at least this long yield no-speech windows
    no_speech_keep_every: int = 10  # keep 1 in N no-speech windows (deterministic by hash); paper: 10x
    vad_mode: int = 2  # webrtcvad aggressiveness, 0 (least) .. 3 (most)
    min_speech_ratio: float = 0.2  # a segment with text and less voiced time is misaligned
    max_no_speech_ratio: float = 0.05  # a no-speech window with more voiced time holds untranscribed speech
    cue_min_speech_ratio: float = 0.02  # a cue with less voiced time than this is not speech ...
    cue_check_min_ms: int = 1000  # ... if it lasts at least this long (short cues are left alone)
    prev_text_max_chars: int = 1000  # prev_text keeps this many trailing characters, cut at a word

    def __post_init__(self) -> None:
        _check(1000 <= self.max_ms <= 30_000, "segment.max_ms", self.max_ms, "in [1000, 30000]")
        _check(0 <= self.lead_pad_ms <= 2000, "segment.lead_pad_ms", self.lead_pad_ms, "in [0, 2000]")
        _check(
            self.no_speech_gap_ms >= self.max_ms, "segment.no_speech_gap_ms", self.no_speech_gap_ms, ">= segment.max_ms"
        )
        _check(self.no_speech_keep_every >= 1, "segment.no_speech_keep_every", self.no_speech_keep_every, ">= 1")
        _check(self.vad_mode in (0, 1, 2, 3), "segment.vad_mode", self.vad_mode, "0, 1, 2 or 3")
        for k in ("min_speech_ratio", "max_no_speech_ratio", "cue_min_speech_ratio"):
            v = getattr(self, k)
            _check(0 <= v <= 1, f"segment.{k}", v, "in [0, 1]")
        _check(self.cue_check_min_ms >= 0, "segment.cue_check_min_ms", self.cue_check_min_ms, ">= 0")
        _check(self.prev_text_max_chars >= 0, "segment.prev_text_max_chars", self.prev_text_max_chars, ">= 0")


@dataclass(frozen=True)
class MachineConfig:
    """Thresholds of the machine-transcript signals (docs/filters.md). A signal fires when its
    value reaches its threshold; `machine_score` is the strongest value/threshold; >= 1 rejects."""

    enabled: bool = True  # false: score every transcript (evidence) but reject none (a curated corpus)
    trust_caption_kind: bool = True  # the crawl's caption_kind = "asr" alone rejects
    word_timing_tags: float = 0.5  # YouTube <00:00:01.234> word tags per cue
    rolling_captions: float = 0.3  # share of caption lines that repeated the previous cue

    # share of cues starting > 2 s before the previous one ends, or overlapping it with a repeated line
    overlapping_cues: float = 0.2
    all_caps: float = 0.9  # share of cased letters that are upper case
    all_lowercase: float = 60.0  # words per capitalised word (human text: about 5 to 15)
    no_punctuation: float = 150.0  # words per complex punctuation mark: , ? ! ; : (and CJK forms)
    no_sentence_structure: float = 60.0  # words per sentence end (. ? ! ...) (human text: about 5 to 15)
    repetition: float = 0.3  # share of words inside a loop (an n-gram of 1-10 words repeated 3+ times in a row)
    repetition_min_words: int = 30  # shorter texts are not judged for loops
    min_cased_share: float = 0.5  # casing signals apply only when this share of letters has case (not zh/ja)
    min_cased_letters: int = 20  # ... and at least this many cased letters

    def __post_init__(self) -> None:
        for k in (
            "word_timing_tags",
            "rolling_captions",
            "overlapping_cues",
            "all_caps",
            "all_lowercase",
            "no_punctuation",
            "no_sentence_structure",
            "repetition",
        ):
            v = getattr(self, k)
            _check(v > 0, f"machine.{k}", v, "> 0 (use a very large value to switch a signal off)")
        _check(0 <= self.min_cased_share <= 1, "machine.min_cased_share", self.min_cased_share, "in [0, 1]")
        _check(self.min_cased_letters >= 0, "machine.min_cased_letters", self.min_cased_letters, ">= 0")
        _check(self.repetition_min_words >= 3, "machine.repetition_min_words", self.repetition_min_words, ">= 3")


@dataclass(frozen=True)
class TextConfig:
    """Transcript hygiene (docs/filters.md): what is taken out of the targets, and the text gates."""

    # Phrase packs (files of phrases, one per line): a name in pipelines/phrases/ or a path.
    boilerplate: tuple[str, ...] = ("boilerplate",)  # credits and sign-offs removed from targets
    sound_tags: tuple[str, ...] = ("sound_tags",)  # words that make a (parenthesised) span a sound tag
    drop_bracketed: bool = True  # [anything in square brackets] is an annotation, never speech
    gates: bool = True  # false: no characters-per-second gates (a curated corpus); the token limit stays
    quarantine: str = ""  # file of sources (one per line) whose documents are dropped (`wsdata review --quarantine`)
    min_chars_per_second: float = 1.0  # text characters per second of the segment's cue span ...
    max_chars_per_second: float = 35.0  # ... outside this range the text cannot match the audio
    max_tokens: int = 448  # Whisper's decoder context
    prompt_reserve_tokens: int = 64  # room kept for <|startofprev|> + previous text in that context

    def __post_init__(self) -> None:
        _check(
            0 <= self.min_chars_per_second < self.max_chars_per_second,
            "text.min_chars_per_second",
            self.min_chars_per_second,
            ">= 0 and < text.max_chars_per_second",
        )
        for name in (*self.boilerplate, *self.sound_tags):
            phrase_pack_path(name)
        if self.quarantine and not Path(self.quarantine).is_file():
            raise ConfigError(f"text.quarantine = {self.quarantine!r}: no such file")
        _check(16 <= self.max_tokens <= 448, "text.max_tokens", self.max_tokens, "in [16, 448]")
        _check(
            0 <= self.prompt_reserve_tokens < self.max_tokens - 8,
            "text.prompt_reserve_tokens",
            self.prompt_reserve_tokens,
            ">= 0 and leave room for a target",
        )


@dataclass(frozen=True)
class LanguageConfig:
    """Spoken vs written language (docs/filters.md); `wsdata build --audio-lid MODEL` sets audio_lid."""

    audio_lid: str = ""  # Whisper model for spoken-language ID (HF id/folder or CTranslate2 folder); "" = none
    check: bool = True  # false: a spoken/written disagreement is kept (as the spoken language's transcript)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    segments_per_doc: int = 3  # at most this many speech segments per document go to the audio detector ...
    confident_prob: float = 0.9  # ... but one is enough when its top language has this probability
    batch_size: int = 8  # segments per forward pass
    min_audio_prob: float = 0.5  # below this the audio detector is not trusted ...
    on_low_confidence: str = "text"  # ... and the claim or text decide ("text"), or the document is dropped ("reject")
    min_text_prob: float = 0.8  # below this, text LID yields to the crawl's `language` claim when there is one

    def __post_init__(self) -> None:
        _check(
            self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
            "language.device",
            self.device,
            "auto, cpu, cuda or cuda:N",
        )
        _check(self.segments_per_doc >= 1, "language.segments_per_doc", self.segments_per_doc, ">= 1")
        _check(self.batch_size >= 1, "language.batch_size", self.batch_size, ">= 1")
        _check(
            self.on_low_confidence in ("text", "reject"),
            "language.on_low_confidence",
            self.on_low_confidence,
            '"text" or "reject"',
        )
        for k in ("min_audio_prob", "min_text_prob", "confident_prob"):
            _check(0 <= getattr(self, k) <= 1, f"language.{k}", getattr(self, k), "in [0, 1]")


@dataclass(frozen=True)
class DedupConfig:
    """Duplicates across the whole crawl and overlap with an evaluation set (docs/dedup.md)."""

    enabled: bool = True
    threshold: float = 0.8  # Jaccard similarity of word n-gram sets from which two transcripts are near duplicates
    ngram: int = 3  # words per shingle
    num_perm: int = 128  # MinHash permutations; LSH bands x rows are derived from these and `threshold`
    seed: int = 1
    min_words: int = 10  # shorter transcripts are never duplicates: many different clips say just "Thank you."
    machine_looking_score: float = 0.5  # keep rule: a transcript at or above this machine_score (or caption_kind
    # asr) loses to one below it; then the longer transcript wins; then the smaller id
    exclude: str = ""  # evaluation-set transcripts (text lines, JSONL or Parquet with a `text` column)
    eval_overlap: float = 0.5  # share of a document's or segment's n-grams found in that set that drops it

    def __post_init__(self) -> None:
        _check(0 < self.threshold < 1, "dedup.threshold", self.threshold, "in (0, 1)")
        _check(1 <= self.ngram <= 8, "dedup.ngram", self.ngram, "in [1, 8]")
        _check(16 <= self.num_perm <= 1024, "dedup.num_perm", self.num_perm, "in [16, 1024]")
        _check(self.seed >= 0, "dedup.seed", self.seed, ">= 0")
        _check(self.min_words >= 1, "dedup.min_words", self.min_words, ">= 1")
        _check(0 < self.eval_overlap <= 1, "dedup.eval_overlap", self.eval_overlap, "in (0, 1]")
        if self.exclude and not Path(self.exclude).is_file():
            raise ConfigError(f"dedup.exclude = {self.exclude!r}: no such file")


@dataclass(frozen=True)
class ReviewConfig:
    """Audit queues (DIR/review/queue.parquet): a seeded random sample per stratum, where a stratum is
    kept segments of one source, or rejects of one reason from one source."""

    seed: str = "wsdata-review-v1"  # changing it draws another sample
    kept_per_source: int = 50  # kept segments sampled per source
    rejected_per_reason: int = 20  # rejects (documents or segments) sampled per reason and source

    def __post_init__(self) -> None:
        _check(self.kept_per_source >= 0, "review.kept_per_source", self.kept_per_source, ">= 0")
        _check(self.rejected_per_reason >= 0, "review.rejected_per_reason", self.rejected_per_reason, ">= 0")


@dataclass(frozen=True)
class DecodeConfig:
    """How audio becomes 16 kHz mono (wsdata/io/libav.py, wsdata/io/audio.py)."""

    # libav in-process (PyAV) resampled by soxr; what it cannot open goes to the ffmpeg pipe.
    # "ffmpeg": the pipe for every file.
    backend: str = "libav"

    def __post_init__(self) -> None:
        _check(self.backend in ("libav", "ffmpeg"), "decode.backend", self.backend, '"libav" or "ffmpeg"')


@dataclass(frozen=True)
class LimitsConfig:
    """What one crawl line or file may cost; past a limit it is a reject with its own reason."""

    max_line_bytes: int = 1_000_000  # a longer crawl line is read.line_too_long (never held whole in memory)
    max_transcript_bytes: int = 20_000_000  # a larger transcript file is pair.transcript_too_large
    max_cues: int = 100_000  # a transcript with more cues is pair.transcript_too_many_cues

    # Longer audio is pair.audio_too_long: refused from the container's header where it declares a
    # duration, else decoding stops at the limit. Memory does not grow with length (wsdata/io/pcm.py);
    # this bounds the time one document may take (a 10 h file: ~2 CPU minutes).
    max_audio_ms: int = 12 * 3600 * 1000
    max_remote_bytes: int = 2_000_000_000  # a larger remote audio file is pair.audio_too_large (download stops)
    remote_timeout_s: float = 30.0  # seconds to connect to a server, and between two reads from it
    remote_total_s: float = 600.0  # seconds one remote file may take in all, request to last byte: pair.remote_deadline

    # Least average bytes per second of a remote read, held from 10 s after its request (a slow start
    # is forgiven); a slower file is pair.remote_too_slow. 0: no minimum, remote_total_s alone.
    remote_min_bytes_per_s: float = 1024.0

    # Folders local audio and transcripts must lie in (after following links), for crawls you did not
    # write; a path elsewhere is pair.path_outside_roots. Empty: anywhere (crawls point at media stores),
    # except for `wsdata import`, where empty means the corpus's own folder (its manifests' folders).
    allowed_roots: tuple[str, ...] = ()
    # `wsdata import`: a manifest or TSV that decompresses to more bytes stops the import (a gzip bomb);
    # its lines are read one at a time, each at most max_line_bytes, so memory does not grow with it.
    max_manifest_bytes: int = 20_000_000_000

    def __post_init__(self) -> None:
        for k in ("max_line_bytes", "max_transcript_bytes", "max_cues", "max_audio_ms", "max_remote_bytes"):
            _check(getattr(self, k) >= 1, f"limits.{k}", getattr(self, k), ">= 1")
        _check(self.max_manifest_bytes >= 1, "limits.max_manifest_bytes", self.max_manifest_bytes, ">= 1")
        _check(self.remote_timeout_s > 0, "limits.remote_timeout_s", self.remote_timeout_s, "> 0")
        _check(self.remote_total_s > 0, "limits.remote_total_s", self.remote_total_s, "> 0")
        _check(self.remote_min_bytes_per_s >= 0, "limits.remote_min_bytes_per_s", self.remote_min_bytes_per_s, ">= 0")
        for root in self.allowed_roots:
            _check(Path(root).is_absolute() and Path(root).is_dir(), "limits.allowed_roots", root, "absolute folders")


@dataclass(frozen=True)
class WriteConfig:
    """The shards: held-out split and row groups."""

    validation_fraction: float = 0.02  # share of documents held out (by a hash of the doc id)
    split_seed: str = "wsdata-split-v1"  # changing it reshuffles which documents are held out
    row_group_rows: int = 64  # ~64 x 30 s of FLAC (~30 MB) per row group: streamable, seekable

    def __post_init__(self) -> None:
        _check(0 <= self.validation_fraction < 1, "write.validation_fraction", self.validation_fraction, "in [0, 1)")
        _check(self.row_group_rows >= 1, "write.row_group_rows", self.row_group_rows, ">= 1")


@dataclass(frozen=True)
class AgreeConfig:
    """Model-checked transcripts (docs/filters.md, Agreement); `wsdata build --asr MODEL` sets asr."""

    asr: str = ""  # Whisper model that transcribes kept segments (as for audio_lid); "" = no check
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    batch_size: int = 8  # segments per model call, gathered across the documents of a chunk

    # A segment whose caption differs from the model's transcript by more than this word (or, for
    # unspaced scripts, character) error rate is agree.segment_wer. OLMoASR uses 0.7 and 0.5 below;
    # these are calibrated for whisper-base on real speech in 5 languages (docs/filters.md, Agreement).
    segment_max_wer: float = 0.8
    # A document whose checked segments together pass this is agree.document_wer.
    document_max_wer: float = 0.75
    # Per-language overrides, e.g. {ru = 0.6}: where the model is weaker in a language.
    segment_max_wer_by_language: dict[str, float] = field(default_factory=dict)
    document_max_wer_by_language: dict[str, float] = field(default_factory=dict)
    retime: bool = True  # measure the captions' offset from the model's timestamps and repair a constant one
    max_shift_ms: int = 10_000  # a larger offset is agree.misaligned
    # Window medians further apart than this are a drift, not a shift: agree.misaligned.
    max_drift_ms: int = 1500

    def __post_init__(self) -> None:
        _check(
            self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
            "agree.device",
            self.device,
            "auto, cpu, cuda or cuda:N",
        )
        _check(self.batch_size >= 1, "agree.batch_size", self.batch_size, ">= 1")
        for k in ("max_shift_ms", "max_drift_ms"):
            _check(getattr(self, k) > 0, f"agree.{k}", getattr(self, k), "> 0")
        for k in ("segment_max_wer", "document_max_wer"):
            _check(getattr(self, k) > 0, f"agree.{k}", getattr(self, k), "> 0")
        for k in ("segment_max_wer_by_language", "document_max_wer_by_language"):
            table = getattr(self, k)
            _check(isinstance(table, dict), f"agree.{k}", table, "a table of language = rate")
            for lang, v in table.items():
                _check(isinstance(v, (int, float)) and v > 0, f"agree.{k}.{lang}", v, "a number > 0")

    def segment_limit(self, language: str | None) -> float:
        return self.segment_max_wer_by_language.get(language or "", self.segment_max_wer)

    def document_limit(self, language: str | None) -> float:
        return self.document_max_wer_by_language.get(language or "", self.document_max_wer)


@dataclass(frozen=True)
class BuildConfig:
    name: str = "default"
    read: ReadConfig = field(default_factory=ReadConfig)
    pair: PairConfig = field(default_factory=PairConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    machine: MachineConfig = field(default_factory=MachineConfig)
    text: TextConfig = field(default_factory=TextConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    write: WriteConfig = field(default_factory=WriteConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    agree: AgreeConfig = field(default_factory=AgreeConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The resolved config as TOML (for the dataset card and to rerun a build)."""
        out = [f'name = "{self.name}"']
        for section, values in self.to_dict().items():
            if not isinstance(values, dict):
                continue
            out.append(f"\n[{section}]")
            for k, v in values.items():
                out.append(f"{k} = {_toml_value(v)}")
        return "\n".join(out) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


_SECTIONS = {
    "read": ReadConfig,
    "pair": PairConfig,
    "segment": SegmentConfig,
    "machine": MachineConfig,
    "text": TextConfig,
    "language": LanguageConfig,
    "dedup": DedupConfig,
    "review": ReviewConfig,
    "write": WriteConfig,
    "limits": LimitsConfig,
    "decode": DecodeConfig,
    "agree": AgreeConfig,
}


def from_dict(data: dict[str, Any], name: str = "custom") -> BuildConfig:
    kwargs: dict[str, Any] = {"name": data.get("name", name)}
    for key, value in data.items():
        if key == "name":
            continue
        if key not in _SECTIONS:
            raise ConfigError(f"unknown section [{key}]; known: {', '.join(_SECTIONS)}")
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] = {value!r}: must be a table of settings")
        cls = _SECTIONS[key]
        known = {f.name: f for f in dataclasses.fields(cls)}
        for k in value:
            if k not in known:
                raise ConfigError(f"unknown key {key}.{k}; known: {', '.join(known)}")
        fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
        for k, v in fixed.items():
            default = getattr(cls(), k)
            if type(default) is float and type(v) is int:
                fixed[k] = float(v)
            elif type(v) is not type(default):
                raise ConfigError(f"{key}.{k} = {v!r}: must be of type {type(default).__name__}")
        kwargs[key] = cls(**fixed)
    return BuildConfig(**kwargs)


PATH_KEYS = ("text.quarantine", "dedup.exclude")  # file settings, made absolute (a resumed build may run elsewhere)


def parse_set(items: list[str]) -> dict[str, Any]:
    """`--set section.key=value` items as {"section.key": value}. A value is read as TOML (numbers,
    true/false, "strings", [lists]); anything that is not TOML is a plain string (a path, a model id)."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq or key.count(".") != 1:
            raise ConfigError(f"--set {item!r}: must be section.key=value, e.g. segment.vad_mode=3")
        try:
            out[key.strip()] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = raw
    return out


def override(cfg: BuildConfig, values: dict[str, Any]) -> BuildConfig:
    """`cfg` with {"section.key": value} changed, validated like a preset."""
    data = cfg.to_dict()
    for key, value in values.items():
        section, _, name = key.partition(".")
        if not isinstance(data.get(section), dict):
            raise ConfigError(f"unknown section [{section}] in {key!r}; known: {', '.join(_SECTIONS)}")
        if key in PATH_KEYS and value:
            value = str(Path(value).expanduser().resolve())
        data[section][name] = value
    return from_dict(data, name=cfg.name)


def default_toml() -> str:
    """pipelines/default.toml: every setting, its default, and the comment beside it in this file."""
    comments = _field_comments()
    out = [
        "# The default Whisper-style pipeline: every setting with its default value and what it does.",
        "# Generated from wsdata/config.py (`python -m wsdata.config > pipelines/default.toml`).",
        "# A preset of your own names only what it changes; see docs/pipeline.md.",
        'name = "default"',
    ]
    for section, cls in _SECTIONS.items():
        out.append("")
        if cls.__doc__:
            out += [f"# {line}".rstrip() for line in inspect.cleandoc(cls.__doc__).splitlines()]
        out.append(f"[{section}]")
        for f in dataclasses.fields(cls):
            out += [f"# {c}" for c in comments.get((cls.__name__, f.name), [])]
            out.append(f"{f.name} = {_toml_value(getattr(cls(), f.name))}")
    return "\n".join(out) + "\n"


def _field_comments() -> dict[tuple[str, str], list[str]]:
    """(class, field) -> the comment on the field's line and the comment-only lines right after it."""
    import ast
    import io
    import tokenize

    src = Path(__file__).read_text(encoding="utf-8")
    by_line: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT and "fmt:" not in tok.string and "noqa" not in tok.string:
            by_line[tok.start[0]] = tok.string.lstrip("#").strip()
    lines = src.splitlines()
    used: set[int] = set()  # comment lines already given to a field
    out: dict[tuple[str, str], list[str]] = {}
    for node in ast.parse(src).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                above, k = [], stmt.lineno - 1  # a comment block right above the field
                while k in by_line and k not in used and lines[k - 1].strip().startswith("#"):
                    above.insert(0, by_line[k])
                    k -= 1
                got, n = above, stmt.end_lineno or stmt.lineno
                if n in by_line:
                    got.append(by_line[n])
                    while n + 1 in by_line and lines[n].strip().startswith("#"):  # a comment continued below
                        n += 1
                        got.append(by_line[n])
                used.update(range(k, n + 1))
                out[(node.name, stmt.target.id)] = got
    return out


def pipelines_dir() -> Path:
    """Presets ship inside the wheel (wsdata/pipelines) or sit at the repository root."""
    here = Path(__file__).resolve().parent
    for cand in (here / "pipelines", here.parent / "pipelines"):
        if cand.is_dir():
            return cand
    raise ConfigError("no pipelines/ folder found beside the wsdata package")


def phrase_pack_path(name: str) -> Path:
    """A phrase pack: `NAME` is pipelines/phrases/NAME.txt, a path ending in .txt is itself."""
    p = Path(name) if name.endswith(".txt") else pipelines_dir() / "phrases" / f"{name}.txt"
    if not p.is_file():
        raise ConfigError(f"text phrase pack {name!r}: no file {p}")
    return p


def load(name_or_path: str | None = None) -> BuildConfig:
    """Load a preset by name (`pipelines/NAME.toml`) or from a TOML file path."""
    if name_or_path is None:
        name_or_path = "default"
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = pipelines_dir() / f"{name_or_path}.toml"
        if not path.is_file():
            known = sorted(p.stem for p in pipelines_dir().glob("*.toml"))
            raise ConfigError(f"unknown pipeline {name_or_path!r}; presets: {', '.join(known)}")
    if not path.is_file():
        raise ConfigError(f"pipeline file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return from_dict(data, name=path.stem)


if __name__ == "__main__":
    print(default_toml(), end="")
