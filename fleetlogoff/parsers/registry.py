"""reg.exe's `reg query` output, read by its structure (its messages are translated).

A successful query prints a blank line, the key's full name starting `HKEY_`, then one
indented line per value: name, type (`REG_SZ`, `REG_DWORD`, ...) and data, separated by
four blanks on Windows Vista and later and by tabs or padding on XP (captures: index id
6526023375 for HKCU\\Control Panel\\International; index id 51767416093 and
jeremymurray.org's XP capture for TimeZoneInformation). An empty value prints its name
and type only (`sPositiveSign    REG_SZ`). Subkeys follow as further `HKEY_` lines.
Errors go to stderr in the host's language ("ERROR: The system was unable to find the
specified registry key or value.", "FEHLER: Der angegebene Registrierungsschlüssel bzw.
Wert wurde nicht gefunden.", "错误: 系统找不到指定的注册表项或值。", "ERROR: Access is
denied."): anything without the key line is a failure, quoted as printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from fleetlogoff.parsers.formats import DateFormat, has_time_element, strip_seconds

INTERNATIONAL_KEY = r"HKEY_CURRENT_USER\Control Panel\International"
TIME_ZONE_KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\TimeZoneInformation"
_LINE_BREAK = re.compile(r"\r\n|\n")
_VALUE = re.compile(r"^\s+(?P<name>\S(?:.*?\S)?)\s+(?P<type>REG_[A-Z0-9_]+)(?:\s(?P<data>.*))?$")


class RegistryReadError(ValueError):
    """reg.exe did not print the key, or the key lacks what is needed.

    Attributes:
        reason: what went wrong, with the host's own words when it printed any.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class RegistryKey:
    """One key as `reg query` printed it.

    Attributes:
        path: the key's full name as printed.
        values: value name (case as printed) -> (type, data).
    """

    path: str
    values: Mapping[str, tuple[str, str]]
    # casefolded name -> data of the first value so named: get() without a scan.
    _folded: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded: dict[str, str] = {}
        for key, (_, data) in self.values.items():
            folded.setdefault(key.casefold(), data)
        object.__setattr__(self, "_folded", folded)

    def get(self, name: str) -> str | None:
        """The data of a value, case-insensitively; None when the key has no such value."""
        return self._folded.get(name.casefold())


def parse_reg_query(text: str, key: str) -> RegistryKey:
    """Read `reg query KEY` output.

    Args:
        text: everything the command printed (stdout and stderr together).
        key: the full key name queried (`HKEY_...`), compared case-insensitively.

    Raises:
        RegistryReadError: no such key line (an error message, or nothing at all).
    """
    lines = [line.rstrip("\r") for line in _LINE_BREAK.split(text)]
    wanted = key.casefold()
    start = next((i for i, line in enumerate(lines) if line.strip().casefold() == wanted), None)
    if start is None:
        said = " ".join(line.strip() for line in lines if line.strip())
        raise RegistryReadError(f"reg query {key} failed: {said[:200] or 'no output'}")
    values: dict[str, tuple[str, str]] = {}
    for line in lines[start + 1 :]:
        if line.startswith("HKEY_"):
            break  # a subkey: the key's own values are done
        match = _VALUE.match(line)
        if match is not None:
            values[match["name"]] = (match["type"], (match["data"] or "").strip())
    return RegistryKey(lines[start].strip(), values)


def read_international(text: str) -> DateFormat:
    """The short date and time pictures from `reg query "HKCU\\Control Panel\\International"`.

    Raises:
        RegistryReadError: the query failed, or the key has no usable sShortDate or
            time picture (the message names the value).
    """
    key = parse_reg_query(text, INTERNATIONAL_KEY)
    short_date = key.get("sShortDate")
    if not short_date:
        raise RegistryReadError(f"{INTERNATIONAL_KEY} has no sShortDate value")
    pictures = [strip_seconds(key.get("sTimeFormat") or ""), key.get("sShortTime") or ""]
    times = tuple(dict.fromkeys(p for p in pictures if p and has_time_element(p)))
    if not times:
        raise RegistryReadError(f"{INTERNATIONAL_KEY} has no sTimeFormat or sShortTime value")
    return DateFormat(short_date, times, key.get("s1159") or "", key.get("s2359") or "")


def read_dword(key: RegistryKey, name: str) -> int | None:
    """A REG_DWORD value as a signed 32-bit number (biases are negative east of UTC)."""
    data = key.get(name)
    if data is None:
        return None
    try:
        value = int(data, 16) if data.lower().startswith("0x") else int(data)
    except ValueError:
        return None
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def read_binary(key: RegistryKey, name: str) -> bytes | None:
    """A REG_BINARY value's bytes (printed as hex digits)."""
    data = key.get(name)
    if data is None:
        return None
    try:
        return bytes.fromhex(data.replace(" ", ""))
    except ValueError:
        return None
