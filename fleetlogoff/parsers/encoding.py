"""Bytes -> text for console output, and detection of text damaged by a wrong code page.

Console tools write in the host's OEM code page (CP437/850/866/936, FORMATS.md §5); over
WinRM the code page may also be 65001 (UTF-8). Decoding never raises: replacement
characters are left in the text so the parsers turn them into doubts.
"""

from __future__ import annotations

import codecs
import logging

logger = logging.getLogger(__name__)

_UTF8 = 65001  # Windows code page identifier of UTF-8
REPLACEMENT = "\ufffd"


def decode_output(data: bytes, codepage: int | None = None) -> str:
    """Decode console output.

    UTF-8 is tried first (pure ASCII and UTF-8 decode the same); when that fails the
    bytes are decoded with the given OEM code page, or with UTF-8 and replacement
    characters when no other code page is known.

    Args:
        data: raw bytes of stdout or stderr.
        codepage: the host's OEM code page number (e.g. 850, 866, 936), 65001 or None.

    Returns:
        The text; undecodable bytes become U+FFFD.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if codepage is not None and codepage != _UTF8:
        try:
            return data.decode(f"cp{codepage}", errors="replace")
        except LookupError:
            logger.warning("unknown code page %d, decoding as UTF-8", codepage)
    return data.decode("utf-8", errors="replace")


def find_damage(text: str) -> str | None:
    """Return why text looks damaged by an encoding loss, or None when it looks clean.

    Args:
        text: a user or session name, or a state word.

    Returns:
        A human reason: U+FFFD, '?' (a replacement; '?' is not allowed in Windows user
        or session names), a control character, or UTF-8 read as a single-byte code page.
    """
    if REPLACEMENT in text:
        return "contains U+FFFD (bytes lost by a wrong code page)"
    if "?" in text:
        return "contains '?' (a character replaced by a wrong code page)"
    if any(ord(char) < 32 or 0x7F <= ord(char) < 0xA0 for char in text):
        return "contains control characters"
    if not text.isascii():
        for single_byte in ("cp1252", "latin-1"):
            try:
                again = text.encode(single_byte).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if again != text:
                return f"looks like UTF-8 read as {single_byte} ({again!r}?)"
    return None
