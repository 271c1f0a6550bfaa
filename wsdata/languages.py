"""The one table of language codes: what wsdata writes (ISO 639-1) against what its tools say.

Whisper's vocabulary and langid name a few languages with codes other than ISO 639-1. Every
detector output goes through `iso`; every code given to the Whisper vocabulary through `whisper`.
"""

from __future__ import annotations

# ISO 639-1 -> the other names seen for it: Whisper's token name, older or finer codes.
_ALIASES: dict[str, tuple[str, ...]] = {
    "jv": ("jw",),  # Javanese: Whisper's <|jw|>
    "he": ("iw",),  # Hebrew: the pre-1989 code some detectors still emit
    "no": ("nb",),  # Norwegian: langid says Bokmål
}
_TO_ISO = {alias: code for code, aliases in _ALIASES.items() for alias in aliases}
_TO_WHISPER = {"jv": "jw"}  # the one ISO code whose Whisper token differs


def iso(code: str) -> str:
    """A detector's language code as ISO 639-1."""
    return _TO_ISO.get(code, code)


def whisper(code: str) -> str:
    """An ISO 639-1 code as the name of Whisper's <|lang|> token."""
    return _TO_WHISPER.get(code, code)
