"""fleetlogoff's own host variables (fleetlogoff_*): every name known, every value validated
into its typed setting when the inventory loads, so a typo never drops a protection."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetlogoff.inventory.graph import Var, is_null
from fleetlogoff.inventory.vault import Keyring, open_value
from fleetlogoff.model import Host
from fleetlogoff.rules import parse_rules
from fleetlogoff.windows import parse_windows
from fleetlogoff.yamlsource import (
    YamlNode,
    YamlScalar,
    expect_int,
    expect_map,
    expect_text,
    expect_text_list,
)

DATE_ORDERS = ("auto", "mdy", "dmy", "ymd")
SETTINGS = (
    "fleetlogoff_rules",
    "fleetlogoff_protected_users",
    "fleetlogoff_protected_sessions",
    "fleetlogoff_date_order",
    "fleetlogoff_window",
    "fleetlogoff_codepage",
    "fleetlogoff_timezone",
    "fleetlogoff_http_transport",
)
HTTP_TRANSPORTS = ("lean", "pypsrp")
UTF8_CODEPAGE = 65001
# Windows code page numbers are 16-bit (e.g. 437, 850, 65001 for UTF-8).
_MAX_CODEPAGE = 65535


def host_codepage(host: Host) -> int:
    """The code page the host's shell runs in: UTF-8 unless fleetlogoff_codepage says
    otherwise (asking for 65001 spares guessing the host's OEM code page)."""
    codepage = host.settings.get("fleetlogoff_codepage", UTF8_CODEPAGE)
    return codepage if isinstance(codepage, int) else UTF8_CODEPAGE


def validate_setting(key: YamlScalar, node: YamlNode) -> object:
    """The typed value of a fleetlogoff_* variable (None for any other variable).

    Raises:
        ConfigError: unknown fleetlogoff_* name, null or wrong value, with its position.
    """
    name = key.text
    if not name.startswith("fleetlogoff_"):
        return None
    if name not in SETTINGS:
        raise key.pos.error(f"unknown setting {name!r} (known: {', '.join(SETTINGS)})")
    if is_null(node):
        raise key.pos.error(f"{name} is empty; give a value (or [] for an empty list)")
    if name == "fleetlogoff_rules":
        return parse_rules(node, key.pos.source)
    if name == "fleetlogoff_window":
        return parse_windows(node, key.pos.source)
    if name in ("fleetlogoff_protected_users", "fleetlogoff_protected_sessions"):
        return expect_text_list(node, name)
    if name == "fleetlogoff_codepage":
        return expect_int(node, name, 1, _MAX_CODEPAGE)
    text = expect_text(node, name).strip()
    if name == "fleetlogoff_http_transport":
        if text.lower() not in HTTP_TRANSPORTS:
            raise node.pos.error(f"{name} must be lean or pypsrp, not {text!r}")
        return text.lower()
    if name == "fleetlogoff_date_order":
        if text.lower() not in DATE_ORDERS:
            raise node.pos.error(f"{name} must be one of {', '.join(DATE_ORDERS)}, not {text!r}")
        return text.lower()
    try:  # fleetlogoff_timezone
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise node.pos.error(f"{name}: unknown time zone {text!r} (use an IANA name)") from None
    return text


def read_vars(node: YamlNode, what: str, keyring: Keyring) -> dict[str, Var]:
    """A mapping of variables, each fleetlogoff_* one validated (and decrypted first when
    it is a `!vault` value); other variables are kept as written, read when needed.

    Raises:
        ConfigError: not a mapping, or a fleetlogoff_* setting that is wrong.
    """
    result = {}
    for key, value in expect_map(node, what):
        setting = None
        if key.text.startswith("fleetlogoff_"):
            setting = validate_setting(key, open_value(value, keyring, key.text))
        result[key.text] = Var(key, value, setting)
    return result
