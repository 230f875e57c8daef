"""What a Windows tool's error means, in English, whatever language the host printed it
in: logoff.exe and msg.exe name an error by its number (FORMATS.md §3). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


# Windows' own English texts for the errors logoff.exe reports (winerror.h; the lab's
# texts agree). The host may print them in its language; the user reads them in English.
_WINDOWS_ERRORS = {
    5: "Access is denied.",
    87: "The parameter is incorrect.",
    1460: "This operation returned because the timeout period expired.",
    1722: "The RPC server is unavailable.",
    7022: "The specified session cannot be found.",  # ERROR_CTX_WINSTATION_NOT_FOUND
}
# "Error [5]:Access is denied." (captures) or "Error [5]: ..." (KB 259436), whatever the
# language's word for "Error": the bracketed number is the code (FORMATS.md §3).
_BRACKETED_CODE = re.compile(r"\[(\d{1,10})\]\s*:")
_ERROR_CODE_WORDS = re.compile(r"Error code (\d{1,10})")
INVALID_PARAMETERS = "Invalid parameter(s)"


@dataclass(frozen=True, slots=True)
class WindowsError:
    """An error a Windows tool printed, explained in English.

    Attributes:
        code: the Windows error number, when the text names one.
        english: one English line.
        original: what the host printed, on one line.
    """

    code: int | None
    english: str
    original: str


def explain_windows_error(text: str) -> WindowsError:
    """Read the error logoff.exe printed (in any language) into one English line."""
    original = _one_line(text)
    if INVALID_PARAMETERS in text:
        return WindowsError(87, "Invalid parameter(s) (logoff printed its usage)", original)
    match = _BRACKETED_CODE.search(text) or _ERROR_CODE_WORDS.search(text)
    if match is None:
        return WindowsError(None, original or "an error without text", original)
    code = int(match.group(1))
    english = _WINDOWS_ERRORS.get(code)
    if english is None:
        return WindowsError(code, f"Windows error {code}: {original}", original)
    return WindowsError(code, f"{english.rstrip('.')} (Windows error {code})", original)
