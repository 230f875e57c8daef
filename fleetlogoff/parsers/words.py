"""Per-language words printed by quser/qwinsta: states and "no idle time".

Only words backed by the corpus (FORMATS.md §1.1, §1.2, §2) or by the WTS state names
(wtsapi32.h WTS_CONNECTSTATE_CLASS) are listed. An unlisted word is never guessed: the
parser maps it to SessionState.UNKNOWN and records a doubt.
"""

from __future__ import annotations

from types import MappingProxyType

from fleetlogoff.model import SessionState

_S = SessionState

# English abbreviations are used by every language that leaves states untranslated
# (it-IT "Disc", ja-JP "Active"/"Disc"/"Listen", FORMATS.md §1.1 and §2).
_ENGLISH_STATES = {
    "Active": _S.ACTIVE,
    "Conn": _S.CONNECTED,
    "ConnQ": _S.CONNECT_QUERY,
    "Shadow": _S.SHADOW,
    "Disc": _S.DISCONNECTED,
    "Idle": _S.IDLE,
    "Listen": _S.LISTEN,
    "Reset": _S.RESET,
    "Down": _S.DOWN,
    "Init": _S.INIT,
}

_LOCALIZED_STATES = {
    # de: quser-de-de-01, qwinsta-de-de-01; "Verb." from ProfileFever's state map.
    "Aktiv": _S.ACTIVE,
    "Getr.": _S.DISCONNECTED,
    "Verb.": _S.CONNECTED,
    "Abhör.": _S.LISTEN,
    # fr: quser-fr-fr-01/03. "Déco"/"Écoute" (Déconnecté/Écoute) come from a fixture only
    # (FORMATS.md §1.1); they cannot be mistaken for another state, so reading them is safe.
    "Actif": _S.ACTIVE,
    "Déco": _S.DISCONNECTED,
    "Écoute": _S.LISTEN,
    # es: quser-es-ec-01; qwinsta-es-01 (a captured Spanish qwinsta) prints the listener
    # as the infinitive "Escuchar" and leaves "Conn" in English.
    "Activo": _S.ACTIVE,
    "Desc": _S.DISCONNECTED,
    "Escuchar": _S.LISTEN,
    # it, pt-BR: FORMATS.md §1.1.
    "Attivo": _S.ACTIVE,
    "Ativo": _S.ACTIVE,
    # ru: quser-ru-ru-01, FORMATS.md §2 (qwinsta).
    "Активно": _S.ACTIVE,
    "Диск": _S.DISCONNECTED,
    "Прием": _S.LISTEN,
    "Подключено": _S.CONNECTED,
    # zh-CN: quser-zh-cn-01, qwinsta-zh-cn-01.
    "运行中": _S.ACTIVE,
    "断开": _S.DISCONNECTED,
    # Listener words of pt/zh qwinsta: no capture. Each is the plain translation of
    # "Listen" and cannot be mistaken for another state; listeners are protected anyway.
    # "Escucha" is such a guess too (Spanish Windows was seen printing "Escuchar").
    "Escucha": _S.LISTEN,
    "Escuta": _S.LISTEN,
    "侦听": _S.LISTEN,
}

STATE_WORDS = MappingProxyType({**_ENGLISH_STATES, **_LOCALIZED_STATES})
"""Printed state word -> state, exact spelling as the host prints it."""

# Words quser prints in IDLE TIME when there is no idle time (FORMATS.md §1.2, §1.3):
# en "none", de "Kein", fr "aucun", es "ninguno", pt "nenhum", ru "отсутствует", zh "无".
# Unverified guesses for languages without a capture (it "nessuno", ja "なし", ko "없음",
# nl "geen", pl "brak", sv "ingen") are included: each word means "none", so if Windows
# prints another word the guess simply never matches, and that row keeps its doubt.
NONE_IDLE_WORDS = frozenset(
    {
        "none",
        "Kein",
        "aucun",
        "ninguno",
        "nenhum",
        "отсутствует",
        "无",
        "nessuno",
        "なし",
        "없음",
        "geen",
        "brak",
        "ingen",
    }
)

# Day-period markers of 12-hour clocks: en, es "a. m."/"p. m." (quser-es-mx-01-comment),
# zh-CN 上午/下午, ja 午前/午後, ko 오전/오후 (CLDR dayPeriods, the source of Windows
# locale data).
_AM = ("AM", "A.M.", "A. M.", "上午", "午前", "오전")
_PM = ("PM", "P.M.", "P. M.", "下午", "午後", "오후")
DAY_PERIODS = MappingProxyType(
    {**{word.casefold(): False for word in _AM}, **{word.casefold(): True for word in _PM}}
)
"""Day-period marker (casefolded) -> True for afternoon (PM), False for morning (AM)."""


def look_up_state(word: str) -> SessionState | None:
    """Return the state a printed state word means, or None when the word is unknown.

    Args:
        word: the state text as printed.
    """
    state = STATE_WORDS.get(word)
    if state is not None:
        return state
    folded = word.casefold()
    for known, known_state in STATE_WORDS.items():
        if known.casefold() == folded:
            return known_state
    return None


def look_up_day_period(word: str) -> bool | None:
    """Return True for a PM marker, False for an AM marker, None when unknown."""
    return DAY_PERIODS.get(" ".join(word.split()).casefold())
