"""Untrusted bytes and JSON to text: transcript bytes (BOMs, strict UTF-8, BOM-less UTF-16, then the
configured code pages), and JSON whose strings are safe to hash, store and print."""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

from charset_normalizer import from_bytes

# Longest BOM first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class UndecodableText(ValueError):
    pass


def decode_text(data: bytes, fallbacks: tuple[str, ...] = ("cp1252", "cp1251")) -> tuple[str, str]:
    """Return (text, encoding name). Raises UndecodableText with what was tried."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(enc), enc + " (BOM)"
            except UnicodeDecodeError as e:
                raise UndecodableText(f"starts with a {enc} BOM but is not valid {enc}: {e}") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # UTF-16 without a BOM: ASCII-range text leaves a NUL in every other byte.
    sample = data[:4096]
    if len(sample) >= 4:
        even_nuls = sample[0::2].count(0) / len(sample[0::2])
        odd_nuls = sample[1::2].count(0) / len(sample[1::2])
        for enc, share in (("utf-16-le", odd_nuls), ("utf-16-be", even_nuls)):
            if share > 0.3:
                try:
                    return data.decode(enc), enc
                except UnicodeDecodeError:
                    pass
    if fallbacks:
        # Single-byte code pages decode almost anything; charset-normalizer picks the one whose
        # result reads as language (cp1251 for Cyrillic, cp1252 for accented Latin).
        best = from_bytes(data, cp_isolation=list(fallbacks)).best()
        if best is not None:
            return str(best), best.encoding
    raise UndecodableText(f"not UTF-8/UTF-16 and none of {', '.join(fallbacks) or 'no fallbacks'} fits")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \uD800..\uDFFF written as a JSON escape
_SURROGATE = re.compile("[\ud800-\udfff]")  # also a byte that is not UTF-8, decoded with surrogateescape


def loads_json(text: str, exact: tuple[str, ...] = ()) -> Any:
    """`json.loads` for untrusted text: nesting too deep for the parser is a ValueError (not a
    RecursionError), and lone UTF-16 surrogates, valid JSON escapes that are not Unicode (common in
    scraped text), become U+FFFD, so every string can be hashed, stored in Parquet and printed. So
    do the bytes that are not UTF-8 of a line decoded with errors="surrogateescape".

    The string values of the top-level keys named in `exact` are left as they are: a value that
    must be stored exactly (a document id) is the caller's to refuse (`lone_surrogate`), never
    mended into another value."""
    try:
        obj = json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text):
        keep = {k: obj[k] for k in exact if isinstance(obj.get(k), str)} if isinstance(obj, dict) else {}
        obj = _scrub(obj)
        if isinstance(obj, dict):
            obj.update(keep)
    return obj


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in `text` (a JSON escape such as \\ud800, or a byte that is not
    UTF-8 decoded with surrogateescape), as U+XXXX; None when UTF-8 can store `text` exactly."""
    m = _SURROGATE.search(text)
    return f"U+{ord(m.group()):04X}" if m else None


def _scrub(obj: Any) -> Any:
    """Surrogates out of every string and key of a parsed JSON value; iterative, for deep values."""
    if isinstance(obj, str):
        return _SURROGATE.sub("\ufffd", obj)
    stack = [obj] if isinstance(obj, (dict, list)) else []
    while stack:
        c = stack.pop()
        if isinstance(c, dict):
            for k in [k for k in c if _SURROGATE.search(k)]:
                c[_SURROGATE.sub("\ufffd", k)] = c.pop(k)
        for k, v in list(c.items()) if isinstance(c, dict) else enumerate(c):
            if isinstance(v, str):
                c[k] = _SURROGATE.sub("\ufffd", v)
            elif isinstance(v, (dict, list)):
                stack.append(v)
    return obj
