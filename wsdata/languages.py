"""The one table of language codes: what wsdata writes (ISO 639-1) against what its tools say.

Whisper's vocabulary and langid name a few languages with codes other than ISO 639-1. Every
detector output goes through `iso`; every code given to the Whisper vocabulary through `whisper`;
every language a crawl claims through `claim`.
"""

from __future__ import annotations

import re

# The 99 languages of Whisper's multilingual vocabulary, as ISO 639-1 (haw, Hawaiian, has no two-letter
# code). tests/test_hashing.py keeps it equal to the bundled vocabulary's language tokens.
_WHISPER_CODES = (
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht hu "
    "hy id is it ja jv ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt "
    "ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh"
)
WHISPER_LANGUAGES = frozenset(_WHISPER_CODES.split())

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


def claim(tag: str) -> str | None:
    """A crawl's language claim as the ISO code Whisper knows, or None when it names none.

    BCP-47 and locale forms keep their primary subtag (`en-US`, `en_GB` -> en; `pt-BR` -> pt;
    `zh-Hant` -> zh); old and tool-specific codes map to ISO (`iw` -> he, `jw` -> jv).
    """
    primary = re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()
    code = iso(primary)
    return code if code in WHISPER_LANGUAGES else None
