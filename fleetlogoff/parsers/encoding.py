"""Bytes -> text for console output, and detection of text damaged by a wrong code page.

Console tools write in the host's OEM code page (CP437/850/866/936, FORMATS.md §5); over
WinRM the code page may also be 65001 (UTF-8). Decoding never raises: replacement
characters are left in the text so the parsers turn them into doubts.
"""

from __future__ import annotations

import codecs
import logging
import unicodedata

from fleetlogoff.visible import escape_char

logger = logging.getLogger(__name__)

_UTF8 = 65001  # Windows code page identifier of UTF-8
REPLACEMENT = "\ufffd"
# Characters that do not print as themselves: Cc (C0/C1 controls), Cf (format: bidi
# overrides and isolates such as U+202E, zero-width spaces and joiners, the BOM), Cs (lone
# surrogates from a surrogateescape decode), Zl/Zp (line and paragraph separators). A name
# holding one may not be what it looks like on the admin's screen ("nna\u202eexe" reads
# as "nnaexe" reversed; "al\u200dice" looks like "alice"), so it is never read with
# confidence. ZWJ/ZWNJ included: `visible()` prints them as they are (spelling needs
# them), so on a screen they are invisible, and a look-alike name must not be targeted.
_NOT_PRINTED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


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
        or session names), a control or format character (bidi overrides, zero-width
        characters), or UTF-8 read as a single-byte code page.
    """
    if REPLACEMENT in text:
        return "contains U+FFFD (bytes lost by a wrong code page)"
    if "?" in text:
        return "contains '?' (a character replaced by a wrong code page)"
    hidden = _hidden_characters(text)
    if hidden:
        return f"contains control or format characters ({hidden})"
    if not text.isascii():
        for single_byte in ("cp1252", "latin-1"):
            try:
                again = text.encode(single_byte).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if again != text:
                return f"looks like UTF-8 read as {single_byte} ({again!r}?)"
    return None


def _hidden_characters(text: str) -> str:
    """The characters of `text` that do not print as themselves, named as escapes
    (``\\u202e``), or "" when there are none."""
    if text.isascii() and text.isprintable():
        return ""  # the common case
    found = dict.fromkeys(c for c in text if unicodedata.category(c) in _NOT_PRINTED)
    return ", ".join(escape_char(c) for c in found)
