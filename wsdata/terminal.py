"""Crawled strings made inert before they reach a terminal.

A crawl's source names, ids, transcripts and file names may hold escape sequences (ESC [2J clears
the screen, OSC 0 retitles the terminal, OSC 8 makes hyperlinks) and bidi controls (U+202E
reverses what follows). `safe` shows every control character visibly, as `less` does (ESC as ^[,
C1 and format characters as <U+202E>), so nothing crawled can act on the terminal; a width cut is
made after that, so it can never fall inside an escape sequence.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and DEL, C1, and the invisible format characters that steer layout (bidi, joiners, BOM).
_UNSAFE = re.compile("[\x00-\x1f\x7f\x80-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _visible(m: re.Match[str]) -> str:
    c = m.group()
    if c < " " or c == "\x7f":
        return "^" + chr(ord(c) ^ 0x40)  # ^[ for ESC, ^M for CR, ^? for DEL
    return f"<U+{ord(c):04X}>"


def safe(value: object, width: int | None = None) -> str:
    """`value` as one inert line of at most `width` characters (an ellipsis marks a cut)."""
    text = _UNSAFE.sub(_visible, unicodedata.normalize("NFC", str(value)))
    if width is not None and len(text) > width:
        text = text[: max(0, width - 1)] + "…"
    return text


def err(message: str) -> None:
    """One message on stderr, inert: it may quote a path or a file's content from a crawl."""
    import sys

    print("\n".join(safe(line) for line in message.split("\n")), file=sys.stderr)
