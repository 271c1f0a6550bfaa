"""Build configuration: dataclasses with validation, loaded from a pipeline preset (TOML).

`pipelines/default.toml` holds the defaults written out; a preset names only what it changes.
Every check names the bad key and value, so a typo in a preset fails before any work starts.
"""

from __future__ import annotations

import dataclasses
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
    chunk_size: int = 32  # crawl lines per work unit (one set of output files, one completion marker)

    def __post_init__(self) -> None:
        _check(self.chunk_size >= 1, "read.chunk_size", self.chunk_size, ">= 1")


@dataclass(frozen=True)
class PairConfig:
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
        _check(0 <= self.max_past_end_fraction <= 1, "pair.max_past_end_fraction", self.max_past_end_fraction, "in [0, 1]")
        _check(self.past_end_tolerance_ms >= 0, "pair.past_end_tolerance_ms", self.past_end_tolerance_ms, ">= 0")


@dataclass(frozen=True)
class SegmentConfig:
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
        _check(self.no_speech_gap_ms >= self.max_ms, "segment.no_speech_gap_ms", self.no_speech_gap_ms, ">= segment.max_ms")
        _check(self.no_speech_keep_every >= 1, "segment.no_speech_keep_every", self.no_speech_keep_every, ">= 1")
        _check(self.vad_mode in (0, 1, 2, 3), "segment.vad_mode", self.vad_mode, "0, 1, 2 or 3")
        for k in ("min_speech_ratio", "max_no_speech_ratio", "cue_min_speech_ratio"):
            v = getattr(self, k)
            _check(0 <= v <= 1, f"segment.{k}", v, "in [0, 1]")
        _check(self.cue_check_min_ms >= 0, "segment.cue_check_min_ms", self.cue_check_min_ms, ">= 0")
        _check(self.prev_text_max_chars >= 0, "segment.prev_text_max_chars", self.prev_text_max_chars, ">= 0")


@dataclass(frozen=True)
class WriteConfig:
    validation_fraction: float = 0.02  # share of documents held out (by a hash of the doc id)
    split_seed: str = "wsdata-split-v1"  # changing it reshuffles which documents are held out
    row_group_rows: int = 64  # ~64 x 30 s of FLAC (~30 MB) per row group: streamable, seekable

    def __post_init__(self) -> None:
        _check(0 <= self.validation_fraction < 1, "write.validation_fraction", self.validation_fraction, "in [0, 1)")
        _check(self.row_group_rows >= 1, "write.row_group_rows", self.row_group_rows, ">= 1")


@dataclass(frozen=True)
class BuildConfig:
    name: str = "default"
    read: ReadConfig = field(default_factory=ReadConfig)
    pair: PairConfig = field(default_factory=PairConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    write: WriteConfig = field(default_factory=WriteConfig)

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
    return repr(v)


_SECTIONS = {"read": ReadConfig, "pair": PairConfig, "segment": SegmentConfig, "write": WriteConfig}


def from_dict(data: dict[str, Any], name: str = "custom") -> BuildConfig:
    kwargs: dict[str, Any] = {"name": data.get("name", name)}
    for key, value in data.items():
        if key == "name":
            continue
        if key not in _SECTIONS:
            raise ConfigError(f"unknown section [{key}]; known: {', '.join(_SECTIONS)}")
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


def pipelines_dir() -> Path:
    """Presets ship inside the wheel (wsdata/pipelines) or sit at the repository root."""
    here = Path(__file__).resolve().parent
    for cand in (here / "pipelines", here.parent / "pipelines"):
        if cand.is_dir():
            return cand
    raise ConfigError("no pipelines/ folder found beside the wsdata package")


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
