"""Transcript bytes to text: BOMs, strict UTF-8, BOM-less UTF-16, then the configured code pages."""

from __future__ import annotations

import codecs

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
