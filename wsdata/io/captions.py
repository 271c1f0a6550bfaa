"""Transcript files (SRT, WebVTT incl. YouTube auto-captions, JSON, TXT) to integer-ms cues.

Parsing keeps the raw caption text (markup removed, lines joined by a space, nothing normalized)
and records the evidence a machine-transcript filter needs (word-timing tags, rolling lines).
A timing line that cannot be parsed, or gives a negative or reversed span, is a bad cue: it is
counted with its line number and never silently shifted.
"""

from __future__ import annotations

import html
import itertools
import re

from wsdata.datamodel import BadCue, Cue, Transcript
from wsdata.io.textenc import loads_json

FORMATS = ("srt", "vtt", "json", "txt")
MAX_TIME_MS = 1000 * 3600 * 1000 - 1  # 999:59:59.999, the latest time an SRT or VTT timing line can write


class TranscriptError(ValueError):
    """The transcript cannot be used; `code` is the pair.* reason suffix."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code


# hh:mm:ss,mmm or mm:ss.mmm (hours optional in WebVTT); ',' (SRT) or '.' (VTT) before the ms.
_TS = r"(?:(\d{1,3}):)?([0-5]?\d):([0-5]\d)[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s+(.*))?$")
_SINGLE_ARROW = re.compile(r"^-?\d[\d:;,.x?]*\s*-+>")  # '00:00:16,870 -> ...': a broken timing line
_WORD_TAG = re.compile(r"<\d{1,2}:\d{2}:\d{2}[.,]\d{3}>|<\d{2}:\d{2}[.,]\d{3}>")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|</?[cibuv](?:\.[\w.-]+)?(?:\s[^>]*)?>")
_ASS = re.compile(r"\{\\[^}]*\}")  # {\an8} positioning codes found in SRT
_SPACES = re.compile(r"\s+")


def _ms(h: str | None, m: str, s: str, frac: str) -> int:
    return ((int(h or 0) * 60 + int(m)) * 60 + int(s)) * 1000 + int(frac.ljust(3, "0")[:3])


def clean_line(line: str) -> str:
    """Caption markup out, entities decoded, whitespace collapsed; the words stay as written."""
    line = _WORD_TAG.sub("", line)
    line = _TAG.sub("", line)
    line = _ASS.sub("", line)
    line = html.unescape(line).replace("\u200b", "")
    return _SPACES.sub(" ", line).strip()


def detect_format(uri: str, text: str) -> str:
    name = uri.lower().split("?", 1)[0]
    for fmt in FORMATS:
        if name.endswith("." + fmt):
            return fmt
    head = text.lstrip()[:64]
    if head.startswith("WEBVTT"):
        return "vtt"
    if re.match(r"\{|\[\s*[{\]]", head):
        return "json"
    if re.search(r"^\s*\d+\s*\n\s*" + _TS + r"\s*-->", text[:2000], re.MULTILINE):
        return "srt"
    raise TranscriptError("transcript_unsupported", f"cannot tell the format of {uri} (want .srt, .vtt, .json or .txt)")


def parse(text: str, fmt: str) -> Transcript:
    if fmt in ("srt", "vtt"):
        return _parse_timed_text(text, fmt)
    if fmt == "json":
        return _parse_json(text)
    if fmt == "txt":
        return untimed(text, "txt")
    raise TranscriptError("transcript_unsupported", f"unsupported transcript format {fmt!r}")


def untimed(text: str, fmt: str) -> Transcript:
    joined = _SPACES.sub(" ", text).strip()
    if not joined:
        raise TranscriptError("transcript_empty", "the transcript holds no text")
    return Transcript(format=fmt, text=joined)


def _parse_timed_text(text: str, fmt: str) -> Transcript:
    """SRT and WebVTT share one reader: a cue is a timing line and the text lines under it.

    A cue's text ends at an empty line; what follows until the next timing line is a cue number
    (SRT) or identifier (VTT) and is skipped. A timing line may follow text without an empty line
    (seen in youtube-dl output), so any timing line starts a new cue. Whitespace-only lines are
    caption lines (YouTube's empty top line), not terminators. WebVTT NOTE/STYLE/REGION blocks
    and the header are skipped.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    raw: list[tuple[int, int, list[str]]] = []  # (start_ms, end_ms, raw text lines)
    bad: list[BadCue] = []
    current: list[str] | None = None
    last_good_end = 0
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        if line == "" or (not stripped and current is None):
            current = None
            continue
        m = _TIMING.match(stripped)
        if m:
            start, end = _ms(*m.group(1, 2, 3, 4)), _ms(*m.group(5, 6, 7, 8))
            current = []
            if end <= start:
                bad.append(BadCue(lineno, stripped, current, last_good_end))
            else:
                raw.append((start, end, current))
                last_good_end = end
            continue
        if "-->" in stripped or _SINGLE_ARROW.match(stripped):
            current = []
            bad.append(BadCue(lineno, stripped, current, last_good_end))
            continue
        if current is not None:
            current.append(line)
    cues: list[Cue] = []
    word_tags = 0
    for start, end, body in raw:
        word_tags += sum(len(_WORD_TAG.findall(b)) for b in body)
        cues.append(Cue(start, end, "\n".join(body)))
    for b in bad:
        b.text = " ".join(c for c in (clean_line(x) for x in b.text) if c)
    overlaps = count_overlaps(cues)
    cues, collapsed = collapse_rolling(cues, auto_layout=word_tags > 0)
    tr = Transcript(
        format=fmt,
        cues=cues,
        word_timing_tags=word_tags,
        rolling_lines_collapsed=collapsed,
        overlapping_cues=overlaps,
        bad_cues=bad,
    )
    tr.text = " ".join(c.text for c in cues)
    return tr


def collapse_rolling(cues: list[Cue], auto_layout: bool = False) -> tuple[list[Cue], int]:
    """Drop caption lines that repeat the previous cue's last lines (YouTube 'rolling' captions).

    Auto-captions show each line twice: once as the new bottom line, then as the top line of the
    next cue, plus ~10 ms 'freeze' cues holding only the old line. Keeping them would put every
    word into two segments. Input cue text has raw lines ('\\n'); output text is cleaned and
    joined by spaces. Returns the cues and the number of lines dropped.

    A cue that only repeats the previous lines is dropped when it is a freeze cue (<= 50 ms) or the
    file has the auto-caption layout (`auto_layout`); in a human file "No." / "No." stays twice.
    """
    out: list[Cue] = []
    prev_lines: list[str] = []
    dropped = 0
    for cue in cues:
        lines = [c for c in (clean_line(x) for x in cue.text.split("\n")) if c]
        # Remove the longest prefix of this cue's lines that equals a suffix of the previous cue's.
        k = 0
        for n in range(min(len(lines), len(prev_lines)), 0, -1):
            if lines[:n] == prev_lines[-n:] and (n < len(lines) or auto_layout or cue.duration_ms <= 50):
                k = n
                break
        if k == len(lines) and lines:  # nothing new: a freeze cue
            dropped += k
            continue
        dropped += k
        new = lines[k:]
        if lines:
            prev_lines = lines
        if new:
            out.append(Cue(cue.start_ms, cue.end_ms, " ".join(new)))
    return normalize_overlaps(out), dropped


# Subtitle editors leave a cue on screen up to ~1.6 s into the next one; machine-made tracks
# overlap by seconds, or roll the same line from one cue into the next.
DISPLAY_OVERLAP_MS = 2000


def count_overlaps(cues: list[Cue], display_ms: int = DISPLAY_OVERLAP_MS) -> int:
    """Machine-like overlaps: cues that start more than `display_ms` before the previous cue (in time
    order) ends, or that start before it ends and repeat one of its lines (rolling captions).

    An overlap without repetition up to `display_ms` is a human display-time habit, not a machine
    signal: `normalize_overlaps` ends such a cue at the next one's start and the document is kept.
    Counted on the raw cues, before they are trimmed, as evidence for the machine stage.
    """
    ordered = sorted(cues, key=lambda c: (c.start_ms, c.end_ms))
    n = 0
    for a, b in itertools.pairwise(ordered):
        overlap = a.end_ms - b.start_ms
        if overlap > display_ms or (overlap > 0 and _repeats(a.text, b.text)):
            n += 1
    return n


def _repeats(earlier: str, later: str) -> bool:
    """`later` shows again a line of `earlier` (the rolling layout of live and auto captions)."""
    lines = {x for x in (clean_line(line) for line in earlier.split("\n")) if x}
    return any(clean_line(line) in lines for line in later.split("\n"))


def normalize_overlaps(cues: list[Cue]) -> list[Cue]:
    """Sort by start; trim a cue's end to the next cue's start so cues never overlap.

    Overlapping captions (common in machine-made tracks) would otherwise put the same audio in two
    segments. A cue left with no duration is merged into the next one.
    """
    cues = sorted(cues, key=lambda c: (c.start_ms, c.end_ms))
    out: list[Cue] = []
    for cue in cues:
        if out and out[-1].end_ms > cue.start_ms:
            prev = out.pop()
            if cue.start_ms > prev.start_ms:
                out.append(Cue(prev.start_ms, cue.start_ms, prev.text))
            else:  # same start: one cue with both texts
                cue = Cue(prev.start_ms, max(prev.end_ms, cue.end_ms), f"{prev.text} {cue.text}")
        out.append(cue)
    return out


def _parse_json(text: str) -> Transcript:
    try:
        data = loads_json(text)
    except ValueError as e:  # JSONDecodeError is one
        raise TranscriptError("transcript_malformed", f"not valid JSON: {e}") from None
    items = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise TranscriptError("transcript_malformed", 'JSON must be [{"start","end","text"}] or {"segments": [...]}')
    cues: list[Cue] = []
    bad: list[BadCue] = []
    last_good_end = 0
    for i, item in enumerate(items):
        text = item.get("text") if isinstance(item, dict) else None
        try:
            start, end = round(float(item["start"]) * 1000), round(float(item["end"]) * 1000)
            ok = isinstance(text, str) and 0 <= start < end <= MAX_TIME_MS
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: 1e999, Infinity
            ok = False
        if not ok:
            bad.append(BadCue(i + 1, repr(item)[:80], clean_line(str(text or "")), last_good_end))
            continue
        cues.append(Cue(start, end, text))
        last_good_end = end
    overlaps = count_overlaps(cues)
    cues, collapsed = collapse_rolling(cues)
    tr = Transcript(
        format="json", cues=cues, rolling_lines_collapsed=collapsed, overlapping_cues=overlaps, bad_cues=bad
    )
    tr.text = " ".join(c.text for c in cues)
    return tr
