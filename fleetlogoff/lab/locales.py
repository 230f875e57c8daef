"""Localized words, headers, date formats and code pages of the simulated hosts.

Every value here is taken from the corpus (tests/fixtures/corpus/FORMATS.md) unless the
line says ``LAB ASSUMPTION``: those are words no public capture shows, chosen to be
plausible for that Windows language so the tool meets them somewhere.

A host's locale combines a UI language (headers, state and idle words: what quser.exe
prints from its own resources) with a regional format (short date and time: what the
host's culture prints), because real hosts mix them (FORMATS.md 1.4: English headers
with European dates, Spanish headers with US dates).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from types import MappingProxyType


class SessionState(Enum):
    """WTS connect states the lab simulates (FORMATS.md section 2, WTS state set)."""

    ACTIVE = "active"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    LISTEN = "listen"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class QuserGeometry:
    """Where quser puts the idle and logon fields (display columns, 0-based).

    Attributes:
        idle_right: column of the last character of a numeric idle value.
        logon_col: column where LOGON TIME starts after a numeric idle value.
        none_col: column where the localized "none" idle word starts.
        none_gap: blanks between the "none" word and LOGON TIME (at least).
    """

    idle_right: int = 62
    logon_col: int = 65
    none_col: int = 58
    none_gap: int = 3


# FORMATS.md 1 / 1.3: the common geometry (en, de, fr, es, zh samples).
DEFAULT_GEOMETRY = QuserGeometry()
# FORMATS.md 1.3 and [quser-ru-ru-01/02]: Russian rows sit one column further right
# ('.' ends at 63, date at 66) and 'отсутствует' starts at 56 with ONE blank after it.
RUSSIAN_GEOMETRY = QuserGeometry(idle_right=63, logon_col=66, none_col=56, none_gap=1)


@dataclass(frozen=True, slots=True)
class UiLanguage:
    """The words quser/qwinsta print in one Windows display language.

    Attributes:
        code: language tag (e.g. "de").
        quser_header: the six quser column titles.
        qwinsta_header: the six qwinsta column titles.
        states: display word per session state.
        none_word: idle column word for "no idle time" (console just used).
        geometry: quser field positions.
    """

    code: str
    quser_header: tuple[str, str, str, str, str, str]
    qwinsta_header: tuple[str, str, str, str, str, str]
    states: dict[SessionState, str]
    none_word: str
    geometry: QuserGeometry = DEFAULT_GEOMETRY


def _states(active: str, conn: str, disc: str, listen: str, down: str) -> dict[SessionState, str]:
    return {
        SessionState.ACTIVE: active,
        SessionState.CONNECTED: conn,
        SessionState.DISCONNECTED: disc,
        SessionState.LISTEN: listen,
        SessionState.DOWN: down,
    }


_EN_QUSER = ("USERNAME", "SESSIONNAME", "ID", "STATE", "IDLE TIME", "LOGON TIME")
_EN_QWINSTA = ("SESSIONNAME", "USERNAME", "ID", "STATE", "TYPE", "DEVICE")
_EN_STATES = _states("Active", "Conn", "Disc", "Listen", "Down")

UI_LANGUAGES: dict[str, UiLanguage] = {
    "en": UiLanguage("en", _EN_QUSER, _EN_QWINSTA, _EN_STATES, "none"),
    "de": UiLanguage(
        "de",
        ("BENUTZERNAME", "SITZUNGSNAME", "ID", "STATUS", "LEERLAUF", "ANMELDEZEIT"),
        ("SITZUNGSNAME", "BENUTZERNAME", "ID", "STATUS", "TYP", "GERÄT"),
        # 'Down' untranslated: LAB ASSUMPTION (no capture of a German Down session).
        _states("Aktiv", "Verb.", "Getr.", "Abhör.", "Down"),
        "Kein",
    ),
    "fr": UiLanguage(
        "fr",
        ("UTILISATEUR", "SESSION", "ID", "ÉTAT", "TEMPS INACT", "TEMPS SESSION"),
        # qwinsta header, Conn/Disc/Listen words: LAB ASSUMPTION (no French qwinsta
        # capture; 'Déco' appears only in an unverified fixture, FORMATS.md 1.1).
        ("NOMSESSION", "UTILISATEUR", "ID", "ÉTAT", "TYPE", "PÉRIPHÉRIQUE"),
        _states("Actif", "Conn", "Déco", "Écoute", "Down"),
        "aucun",
    ),
    "es": UiLanguage(
        "es",
        ("NOMBRE USUARIO", "NOMBRE SESIÓN", "ID.", "ESTADO", "TIEMPO IN.", "TIEMPO SESIÓN"),
        # qwinsta header, 'Conn' left in English and the listener's 'Escuchar' as a
        # Spanish Windows Server prints them (corpus qwinsta-es-01).
        ("NOMBRE DE SESIÓN", "NOMBRE DE USUARIO", "ID", "ESTADO", "TIPO", "DISPOSITIVO"),
        _states("Activo", "Conn", "Desc", "Escuchar", "Down"),
        "ninguno",
    ),
    "it": UiLanguage(
        "it",
        ("NOMEUTENTE", "NOMESESSIONE", "ID", "STATO", "INATTIVITÀ", "ACCESSO"),
        # qwinsta header, idle word 'nessuno' and Listen word: LAB ASSUMPTION. 'Disc' is
        # really left untranslated on Italian Windows (FORMATS.md 1.1).
        ("NOMESESSIONE", "NOMEUTENTE", "ID", "STATO", "TIPO", "DISPOSITIVO"),
        _states("Attivo", "Conn", "Disc", "Listen", "Down"),
        "nessuno",
    ),
    "pt": UiLanguage(
        "pt",
        # FORMATS.md 1: pt-BR prints the ENGLISH header with Portuguese values.
        _EN_QUSER,
        _EN_QWINSTA,
        # 'Desc' and 'Escuta': LAB ASSUMPTION (only 'Ativo' and 'nenhum' were captured).
        _states("Ativo", "Conn", "Desc", "Escuta", "Down"),
        "nenhum",
    ),
    "ru": UiLanguage(
        "ru",
        ("ПОЛЬЗОВАТЕЛЬ", "СЕАНС", "ID", "СТАТУС", "БЕЗДЕЙСТВ.", "ВРЕМЯ ВХОДА"),
        ("СЕАНС", "ПОЛЬЗОВАТЕЛЬ", "ID", "СТАТУС", "ТИП", "УСТР-ВО"),
        _states("Активно", "Подключено", "Диск", "Прием", "Down"),
        "отсутствует",
        RUSSIAN_GEOMETRY,
    ),
    "zh": UiLanguage(
        "zh",
        ("用户名", "会话名", "ID", "状态", "空闲时间", "登录时间"),
        ("会话名", "用户名", "ID", "状态", "类型", "设备"),
        # '已连接' (Conn) and '侦听' (Listen): LAB ASSUMPTION.
        _states("运行中", "已连接", "断开", "侦听", "Down"),
        "无",
    ),
    "ja": UiLanguage(
        "ja",
        # quser header and idle word 'なし': LAB ASSUMPTION (only a Japanese qwinsta was
        # captured; its headers are Japanese while the states stay English).
        ("ユーザー名", "セッション名", "ID", "状態", "アイドル時間", "ログオン時間"),
        ("セッション名", "ユーザー名", "ID", "状態", "種類", "デバイス"),
        _EN_STATES,
        "なし",
    ),
}


# The values of HKCU\Control Panel\International the lab answers `reg query` with, in
# the order Windows printed them in a real capture (en-CA, index id 6526023375).
INTERNATIONAL_ORDER = (
    "s1159", "s2359", "sCurrency", "sDecimal", "sList", "sNegativeSign", "sThousand", "sTime",
    "sTimeFormat", "sShortTime", "iCalendarType", "iFirstDayOfWeek", "iTime", "iTLZero",
    "Locale", "LocaleName", "sCountry", "sDate", "sLongDate", "sShortDate", "sYearMonth",
    "iDate",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Locale:
    """A host's language and regional settings.

    Attributes:
        tag: culture name (e.g. "de-DE").
        ui: words quser/qwinsta print.
        international: the values of HKCU\\Control Panel\\International (sShortDate,
            sTimeFormat, sShortTime, s1159, s2359, ...): quser formats LOGON TIME with
            them, `reg query` prints them.
        oem_codepage: console code page used when the shell asks for none.
        time_zone: the host's usual IANA time zone (a host may override it).
    """

    tag: str
    ui: UiLanguage
    international: Mapping[str, str]
    oem_codepage: int
    time_zone: str = "UTC"

    @property
    def date_pattern(self) -> str:
        """The LOGON TIME picture: short date, a blank, the time without seconds."""
        return logon_pattern(self.international)

    @property
    def am(self) -> str:
        return self.international.get("s1159", "")

    @property
    def pm(self) -> str:
        return self.international.get("s2359", "")


def logon_pattern(values: Mapping[str, str]) -> str:
    """The picture quser prints LOGON TIME with: sShortDate, a blank, and sTimeFormat
    without its seconds (GetTimeFormat with TIME_NOSECONDS drops the seconds and the
    separator before them)."""
    return f"{values.get('sShortDate', '')} {_without_seconds(values.get('sTimeFormat', ''))}"


@lru_cache(maxsize=256)
def _without_seconds(time_format: str) -> str:
    return re.sub(r"[^hHmt]*s+", "", time_format).strip()


def _values(
    lcid: str,
    name: str,
    short_date: str,
    time_format: str,
    am: str = "",
    pm: str = "",
    separator: str = "/",
) -> dict[str, str]:
    """International values of a stock locale (only those the lab prints)."""
    short_time = re.sub(r"[^hHmt]*s+", "", time_format).strip()
    return {
        "s1159": am,
        "s2359": pm,
        "sCurrency": "¤",
        "sDecimal": ".",
        "sList": ",",
        "sNegativeSign": "-",
        "sThousand": ",",
        "sTime": ":",
        "sTimeFormat": time_format,
        "sShortTime": short_time,
        "iCalendarType": "1",
        "iFirstDayOfWeek": "0",
        "iTime": "0" if "h" in time_format else "1",
        "iTLZero": "1" if "HH" in time_format or "hh" in time_format else "0",
        "Locale": lcid,
        "LocaleName": name,
        "sCountry": name,
        "sDate": separator,
        "sLongDate": "dddd, d MMMM yyyy",
        "sShortDate": short_date,
        "sYearMonth": "MMMM yyyy",
        "iDate": {"M": "0", "d": "1", "y": "2"}[short_date[0]],
    }


def _loc(tag: str, ui: str, cp: int, zone: str, values: dict[str, str]) -> Locale:
    return Locale(tag, UI_LANGUAGES[ui], MappingProxyType(values), cp, zone)


# Code pages: 437 en-US, 850 western Europe / en-GB / pt-BR, 866 Russian, 936 Simplified
# Chinese (GBK), 932 Japanese (Shift-JIS): the OEM code pages of those Windows cultures.
# Regional values: en-US, fr-FR, es-MX and pt-BR as exported by the Epi-Info project's
# Region/*.bat (Epi-Info/Epi-Info-Community-Edition@7deedaf); the others are the stock
# Windows 10 values of those cultures (LAB ASSUMPTION where no capture shows them; the
# corpus samples named below agree with them).
LOCALES: dict[str, Locale] = {
    loc.tag: loc
    for loc in (
        _loc("en-US", "en", 437, "America/New_York",
             _values("00000409", "en-US", "M/d/yyyy", "h:mm:ss tt", "AM", "PM")),
        _loc("en-GB", "en", 850, "Europe/London",
             _values("00000809", "en-GB", "dd/MM/yyyy", "HH:mm:ss", "AM", "PM")),
        # [quser-en-au-01]: 3/02/2023 7:36 PM.
        _loc("en-AU", "en", 850, "Australia/Brisbane",
             _values("00000c09", "en-AU", "d/MM/yyyy", "h:mm:ss tt", "AM", "PM")),
        # [quser-en-ch-*]: English UI, dd.MM.yyyy HH:mm.
        _loc("en-CH", "en", 850, "Europe/Zurich",
             _values("00000809", "en-CH", "dd.MM.yyyy", "HH:mm:ss", "AM", "PM", ".")),
        _loc("de-DE", "de", 850, "Europe/Berlin",
             _values("00000407", "de-DE", "dd.MM.yyyy", "HH:mm:ss", separator=".")),
        _loc("fr-FR", "fr", 850, "Europe/Paris",
             _values("0000040C", "fr-FR", "dd/MM/yyyy", "HH:mm:ss")),
        _loc("es-ES", "es", 850, "Europe/Madrid",
             _values("00000C0A", "es-ES", "dd/MM/yyyy", "H:mm:ss")),
        # [quser-es-mx-01-comment]: 'p. m.' with a blank, 12-hour clock with leading zero.
        _loc("es-MX", "es", 850, "America/Mexico_City",
             _values("0000080A", "es-MX", "dd/MM/yyyy", "hh:mm:ss tt", "a. m.", "p. m.")),
        # [quser-es-ec-01]: Spanish UI with US-style dates.
        _loc("es-EC", "es", 850, "America/Guayaquil",
             _values("0000300A", "es-EC", "M/d/yyyy", "h:mm:ss tt", "AM", "PM")),
        _loc("it-IT", "it", 850, "Europe/Rome",
             _values("00000410", "it-IT", "dd/MM/yyyy", "HH:mm:ss")),
        _loc("pt-BR", "pt", 850, "America/Sao_Paulo",
             _values("00000416", "pt-BR", "dd/MM/yyyy", "HH:mm:ss")),
        # [quser-ru-ru-01]: 14.05.2021 15:54.
        _loc("ru-RU", "ru", 866, "Europe/Moscow",
             _values("00000419", "ru-RU", "dd.MM.yyyy", "H:mm:ss", separator=".")),
        # [quser-zh-cn-01]: 2023/11/7 13:19.
        _loc("zh-CN", "zh", 936, "Asia/Shanghai",
             _values("00000804", "zh-CN", "yyyy/M/d", "H:mm:ss", "上午", "下午")),
        _loc("ja-JP", "ja", 932, "Asia/Tokyo",
             _values("00000411", "ja-JP", "yyyy/MM/dd", "H:mm:ss", "午前", "午後")),
    )
}  # fmt: skip


class UnknownLocaleError(ValueError):
    """A locale tag the lab does not simulate."""


def get_locale(tag: str) -> Locale:
    """Return the locale for a culture tag, case-insensitively.

    Raises:
        UnknownLocaleError: the tag is not one of LOCALES.
    """
    for key, loc in LOCALES.items():
        if key.lower() == tag.lower():
            return loc
    known = ", ".join(LOCALES)
    raise UnknownLocaleError(f"unknown locale {tag!r} (known: {known})")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PATTERN_TOKENS = frozenset(
    ("yyyy", "yy", "y", "MMM", "dd", "d", "MM", "M", "HH", "H", "hh", "h", "mm", "tt")
)


def format_logon_time(when: datetime, pattern: str, am: str, pm: str) -> str:
    """Format a local time with a .NET-style short date/time pattern (no seconds).

    Args:
        when: the local wall-clock time.
        pattern: e.g. "M/d/yyyy h:mm tt".
        am: AM designator for "tt".
        pm: PM designator for "tt".
    """
    hour12 = when.hour % 12 or 12
    tokens = {
        "yyyy": f"{when.year:04d}",
        "yy": f"{when.year % 100:02d}",
        "y": str(when.year % 100),
        "MMM": _MONTHS[when.month - 1],
        "dd": f"{when.day:02d}",
        "d": str(when.day),
        "MM": f"{when.month:02d}",
        "M": str(when.month),
        "HH": f"{when.hour:02d}",
        "H": str(when.hour),
        "hh": f"{hour12:02d}",
        "h": str(hour12),
        "mm": f"{when.minute:02d}",
        "tt": am if when.hour < 12 else pm,
    }
    return "".join(tokens.get(piece, piece) for piece in _split_pattern(pattern))


@lru_cache(maxsize=256)
def _split_pattern(pattern: str) -> tuple[str, ...]:
    """A pattern cut into tokens and literal characters, the longest token first at each
    position ("yyyy" before "yy" before "y"); a character that starts no token is a
    literal (format_logon_time keeps it as it is). Cached: a fleet has a few patterns."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        for size in (4, 3, 2, 1):
            piece = pattern[i : i + size]
            if piece in _PATTERN_TOKENS:
                out.append(piece)
                i += size
                break
        else:
            out.append(pattern[i])
            i += 1
    return tuple(out)
