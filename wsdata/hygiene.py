"""Transcript hygiene helpers: phrase packs, sound tags, speaker labels, and Whisper token counts.

Pure text functions, used by the `text` stage (wsdata/stages/text.py). Phrase packs are plain text
files in `pipelines/phrases/` (or any path), so a user extends them without touching code.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from wsdata.config import phrase_pack_path

_TOKEN = re.compile(r"\w+(?:[.'’-]\w+)*")  # a word; "amara.org" and "d'amara" stay one token
_BRACKETED = re.compile(r"\[[^\[\]]*\]")
_PAREN = re.compile(r"\(([^()]*)\)")
_MUSIC = re.compile(r"[♪♫♬#]+")
_LEAD = re.compile(r"^[\s\W_]+")  # what joined a removed leading phrase to the rest ("! ", ", ")
_TRAIL = re.compile(r"[\s,;:–—-]+$")  # ... and a trailing one (a sentence's own "." stays)
# ">> JOHN:" / "- MARY SMITH:" / "John:" at the start of a cue or after ">>"; ">>" alone marks a change
# of speaker in broadcast captions.
_SPEAKER = re.compile(
    r"(?:^|>>|\s-\s)\s*-?\s*(?:[A-ZÀ-ÖØ-ÞА-ЯЁ][\wÀ-ÿА-яЁё.'’-]*(?:\s+[A-ZÀ-ÖØ-ÞА-ЯЁ][\wÀ-ÿА-яЁё.'’-]*){0,2})\s?:(?:\s|$)|>>"
)


@dataclass(frozen=True)
class Phrase:
    tokens: tuple[str, ...]  # case-folded words
    rest: bool  # "phrase *": the phrase and whatever follows it in the cue


def _pack_lines(names: tuple[str, ...]) -> list[str]:
    lines = []
    for name in names:
        for line in phrase_pack_path(name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


@functools.lru_cache(maxsize=8)
def load_phrases(names: tuple[str, ...]) -> tuple[Phrase, ...]:
    """The boilerplate phrases of the named packs, longest first (so the longest match wins)."""
    out = []
    for line in _pack_lines(names):
        rest = line.endswith(" *")
        tokens = tuple(t.casefold() for t in _TOKEN.findall(line[:-2] if rest else line))
        if tokens:
            out.append(Phrase(tokens, rest))
    return tuple(sorted(set(out), key=lambda p: (-len(p.tokens), p.tokens)))


@functools.lru_cache(maxsize=8)
def load_sound_words(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(w.casefold() for w in _pack_lines(names))


def quarantine_line(source: str) -> str:
    """A source as `wsdata review DIR --quarantine SOURCE` writes it: a JSON string, so that any name
    (one starting with `#`, with spaces around it, with a newline in it) reads back exactly."""
    return json.dumps(source)


def parse_quarantine(text: str) -> frozenset[str]:
    """Sources to drop, one per line: a JSON string is that source exactly; any other line is a
    name written by hand, stripped, and `#` starts a comment line."""
    out = set()
    for line in text.splitlines():
        s = line.strip()
        if s.startswith('"'):
            try:
                value = json.loads(s)
            except ValueError:
                value = None
            if isinstance(value, str):
                out.add(value)
                continue
        if s and not s.startswith("#"):
            out.add(s)
    return frozenset(out)


@functools.lru_cache(maxsize=4)
def load_quarantine(path: str) -> frozenset[str]:
    """The sources of a quarantine file (UTF-8; anything else is an error the build reports at start)."""
    return parse_quarantine(Path(path).read_text(encoding="utf-8"))


def strip_boilerplate(text: str, phrases: tuple[Phrase, ...]) -> tuple[str, int]:
    """Remove boilerplate phrases at the start or end of a cue, repeatedly.

    Only the edges: credits and sign-offs stand on their own caption line, while the same words in
    the middle of a sentence are speech. Returns the text left and the number of phrases removed.
    """
    removed = 0
    changed = True
    while changed and text:
        changed = False
        spans = [(m.group().casefold(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        words = tuple(s[0] for s in spans)
        for p in phrases:
            k = len(p.tokens)
            if words[:k] == p.tokens:
                text = "" if p.rest else _LEAD.sub("", text[spans[k - 1][2] :])
            elif not p.rest and k <= len(words) and words[-k:] == p.tokens:
                text = _TRAIL.sub("", text[: spans[-k][1]])
            else:
                continue
            removed += 1
            changed = True
            break
    return text, removed


def strip_sound_tags(text: str, sound_words: frozenset[str], drop_bracketed: bool) -> tuple[str, int]:
    """Remove [bracketed] annotations, (sound descriptions) and music symbols; count the removals."""
    n = 0

    def paren(m: re.Match[str]) -> str:
        nonlocal n
        words = [w.casefold() for w in _TOKEN.findall(m.group(1))]
        if words and all(w in sound_words for w in words):
            n += 1
            return " "
        return m.group()

    if drop_bracketed:
        text, k = _BRACKETED.subn(" ", text)
        n += k
    text = _PAREN.sub(paren, text)
    text, k = _MUSIC.subn(" ", text)
    n += k
    return " ".join(text.split()), n


def has_letters(text: str) -> bool:
    return any(c.isalpha() for c in text)


def has_speaker_label(text: str) -> bool:
    """A `>> NAME:`, `NAME:` or `>>` speaker mark (the paper's speaker-name problem, §2.1)."""
    return _SPEAKER.search(text) is not None


def count_tokens(texts: list[str]) -> list[int]:
    """Whisper multilingual BPE tokens of each text as a target (with its leading space), in the
    vocabulary the trainer uses."""
    from wsdata.vocab import Vocab

    if not texts:
        return []
    encoded = Vocab.bundled().tokenizer.encode_batch([" " + t.strip() for t in texts], add_special_tokens=False)
    return [len(e.ids) for e in encoded]
