"""reg.exe's `reg query` on a simulated host: the two keys fleetlogoff reads, the errors
Windows prints for a missing key or value and for a denied read, in the host's language.

Output shape (Windows Vista and later): a blank line, the key's full name, one line per
value ("    name    TYPE    data", four blanks; an empty value ends after its type), a
blank line, then one line per subkey (captures: index id 6526023375, index id
51767416093). Errors go to stderr with exit code 1. Translations are the captured ones
where a capture exists (named below); the rest are LAB ASSUMPTION.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fleetlogoff.lab.cmdline import split_arguments

INTERNATIONAL = r"HKEY_CURRENT_USER\Control Panel\International"
TIME_ZONE = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\TimeZoneInformation"
# Subkeys a Windows 10 International key lists after its values (LAB ASSUMPTION: names
# from a stock Windows 10 profile).
INTERNATIONAL_SUBKEYS = ("Geo", "User Profile", "User Profile System Backup")
_ROOTS = {"HKCU": "HKEY_CURRENT_USER", "HKLM": "HKEY_LOCAL_MACHINE"}

# (key or value not found, access denied) per display language.
REG_ERRORS: dict[str, tuple[str, str]] = {
    # index ids 58259335591, 69456695379 (and Microsoft's docs): both strings verbatim.
    "en": (
        "ERROR: The system was unable to find the specified registry key or value.",
        "ERROR: Access is denied.",
    ),
    # not found: index ids 58259335591, 11505923543; denied: LAB ASSUMPTION.
    "de": (
        "FEHLER: Der angegebene Registrierungsschlüssel bzw. Wert wurde nicht gefunden.",
        "FEHLER: Zugriff verweigert",
    ),
    # not found: index ids 70106290836, 68795965902; denied: LAB ASSUMPTION.
    "fr": (
        "ERREUR : le système n’a pas trouvé la clé ou la valeur de Registre spécifiée.",
        "ERREUR : Accès refusé.",
    ),
    # not found: index ids 70924459126, 56768773792; denied: LAB ASSUMPTION.
    "es": (
        "ERROR: El sistema no pudo encontrar la clave o el valor del Registro especificado.",
        "ERROR: Acceso denegado.",
    ),
    # LAB ASSUMPTION (no capture found).
    "it": (
        "ERRORE: Impossibile trovare la chiave o il valore del Registro di sistema specificato.",
        "ERRORE: Accesso negato.",
    ),
    # LAB ASSUMPTION (no capture found).
    "pt": (
        "ERRO: O sistema não conseguiu localizar a chave ou o valor do Registro especificado.",
        "ERRO: Acesso negado.",
    ),
    # not found: index id 71220381536 (a real reg.exe decode); denied: LAB ASSUMPTION.
    "ru": (
        "Ошибка: Не удается найти указанный раздел или параметр в реестре.",
        "Ошибка: Отказано в доступе.",
    ),
    # not found: index id 61484659680 ("real machine, Simplified Chinese Windows 11");
    # denied: LAB ASSUMPTION.
    "zh": ("错误: 系统找不到指定的注册表项或值。", "错误: 拒绝访问。"),
    # not found: index ids 9583168715, 18069077061; denied: index id 52725259023.
    "ja": (
        "エラー: 指定されたレジストリ キーまたは値が見つかりませんでした",
        "エラー: アクセスが拒否されました。",
    ),
}
# index id 14006275012: reg.exe's answer to a malformed query.
INVALID_SYNTAX = ("ERROR: Invalid syntax.", 'Type "REG QUERY /?" for usage.')


@dataclass(frozen=True, slots=True)
class RegKey:
    """A key the lab can show.

    Attributes:
        values: (name, type, printed data) in the order Windows prints them.
        subkeys: names of subkeys, listed after the values.
        access: "ok", "missing" (the key does not exist) or "denied".
    """

    values: list[tuple[str, str, str]]
    subkeys: tuple[str, ...] = ()
    access: str = "ok"


@dataclass(frozen=True, slots=True)
class RegAnswer:
    """What reg.exe printed: stdout lines, stderr lines, exit code."""

    stdout: tuple[str, ...] = ()
    stderr: tuple[str, ...] = ()
    exit_code: int = 0


def full_key_name(name: str) -> str:
    """HKCU\\X -> HKEY_CURRENT_USER\\X (case kept), trailing backslashes dropped."""
    root, _, rest = name.strip().rstrip("\\").partition("\\")
    root = _ROOTS.get(root.upper(), root.upper())
    return f"{root}\\{rest}" if rest else root


def run_reg_query(args: str, ui: str, find_key: Callable[[str], RegKey | None]) -> RegAnswer:
    """reg.exe with its arguments (`query KEY [/v NAME]`), answering from `find_key`."""
    argv = split_arguments(args)
    if len(argv) < 2 or argv[0].lower() != "query":
        return RegAnswer(stderr=INVALID_SYNTAX, exit_code=1)
    name = full_key_name(argv[1])
    wanted = _value_switch(argv[2:])
    if wanted is False:
        return RegAnswer(stderr=INVALID_SYNTAX, exit_code=1)
    not_found, denied = REG_ERRORS.get(ui, REG_ERRORS["en"])
    key = find_key(name)
    if key is None or key.access == "missing":
        return RegAnswer(stderr=(not_found,), exit_code=1)
    if key.access == "denied":
        return RegAnswer(stderr=(denied,), exit_code=1)
    values = key.values
    if isinstance(wanted, str):
        values = [v for v in values if v[0].lower() == wanted.lower()]
        if not values:
            return RegAnswer(stderr=(not_found,), exit_code=1)
    lines = ["", name, *(_value_line(*value) for value in values), ""]
    if not isinstance(wanted, str):
        lines += [f"{name}\\{subkey}" for subkey in key.subkeys]
    return RegAnswer(stdout=tuple(lines))


def _value_switch(rest: list[str]) -> str | None | bool:
    """The /v NAME of a query: the name, None when absent, False when malformed."""
    if not rest:
        return None
    if len(rest) == 2 and rest[0].lower() == "/v":
        return rest[1]
    return False


def _value_line(name: str, kind: str, data: str) -> str:
    return f"    {name}    {kind}" + (f"    {data}" if data else "")


def international_key(
    values: Mapping[str, str | None], order: tuple[str, ...], access: str
) -> RegKey:
    """The International key: values in Windows' order, then any extra ones; a value
    set to None is absent (a missing value)."""
    names = [n for n in order if n in values] + [n for n in values if n not in order]
    shown = [(n, "REG_SZ", values[n] or "") for n in names if values[n] is not None]
    return RegKey(shown, INTERNATIONAL_SUBKEYS, access)
