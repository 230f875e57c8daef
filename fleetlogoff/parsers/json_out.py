"""The one JSON shape of a session (docs/session-schema.md), used by `parse`, `sessions
--format json` and the plan file, and the shape of a host's date and clock facts in the
plan. Reading is strict: a wrong type or an unknown value is refused, naming the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, get_args

from fleetlogoff.model import Doubt, DoubtField, Session, SessionState
from fleetlogoff.parsers.dates import DateOrder
from fleetlogoff.parsers.facts import DatesSource, HostDates, HostFacts
from fleetlogoff.parsers.formats import DateFormat
from fleetlogoff.parsers.timezone import ClockSource, HostClock, Transition, WindowsZone

_FIELDS: frozenset[str] = frozenset(get_args(DoubtField))


class DocumentError(ValueError):
    """A JSON document does not have the documented shape.

    Attributes:
        where: the path of the field at fault ("hosts[2].sessions[0].state").
        reason: what is wrong with it.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


def session_document(session: Session) -> dict[str, object]:
    """One session in the documented JSON shape."""
    logon = session.logon_time
    return {
        "id": session.id,
        "username": session.username,
        "session_name": session.session_name,
        "state": session.state.value,
        "state_text": session.state_text,
        "idle_seconds": session.idle_seconds,
        "idle_text": session.idle_text,
        "logon_time": logon.strftime("%Y-%m-%dT%H:%M") if logon is not None else None,
        "logon_text": session.logon_text,
        "current": session.current,
        "doubts": [{"field": d.field, "reason": d.reason} for d in session.doubts],
    }


def sessions_to_json(sessions: Iterable[Session]) -> list[dict[str, object]]:
    """Sessions as the JSON array `fleetlogoff parse` prints."""
    return [session_document(session) for session in sessions]


def session_from_document(doc: Mapping[str, Any], where: str) -> Session:
    """A session back from its JSON shape.

    Raises:
        DocumentError: a field is missing, of the wrong type, or an unknown value.
    """
    session_id = doc.get("id")
    if not isinstance(session_id, int) or isinstance(session_id, bool) or session_id < 0:
        raise DocumentError(f"{where}.id", "expected a non-negative integer")
    idle = doc.get("idle_seconds")
    if idle is not None and (not isinstance(idle, int) or isinstance(idle, bool)):
        raise DocumentError(f"{where}.idle_seconds", "expected an integer or null")
    try:
        state = SessionState(_text(doc, "state", where))
    except ValueError:
        raise DocumentError(f"{where}.state", "unknown state") from None
    return Session(
        id=session_id,
        username=_text(doc, "username", where),
        session_name=_text(doc, "session_name", where),
        state=state,
        state_text=_text(doc, "state_text", where, ""),
        idle_seconds=idle,
        idle_text=_text(doc, "idle_text", where, ""),
        logon_time=_minute(doc.get("logon_time"), f"{where}.logon_time"),
        logon_text=_text(doc, "logon_text", where),
        current=_flag(doc.get("current", False), f"{where}.current"),
        doubts=_doubts(doc.get("doubts", []), f"{where}.doubts"),
    )


def _doubts(value: object, where: str) -> tuple[Doubt, ...]:
    if not isinstance(value, list):
        raise DocumentError(where, "expected a list")
    doubts = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise DocumentError(f"{where}[{index}]", "expected an object with field and reason")
        field = item.get("field")
        if field not in _FIELDS:
            raise DocumentError(f"{where}[{index}].field", f"unknown field {field!r}")
        doubts.append(Doubt(field, _text(item, "reason", f"{where}[{index}]")))
    return tuple(doubts)


def facts_document(facts: HostFacts, now_utc: datetime) -> dict[str, object]:
    """A host's date and clock facts, as the plan records them."""
    dates, clock = facts.dates, facts.clock
    date_format = dates.format
    return {
        "dates": {
            "source": dates.source,
            "order": dates.order,
            "format": None
            if date_format is None
            else {
                "short_date": date_format.short_date,
                "time_formats": list(date_format.time_formats),
                "am": date_format.am,
                "pm": date_format.pm,
            },
            "note": dates.note,
            "shapes": list(dates.shapes),
            "text": dates.describe(),
        },
        "clock": {
            "source": clock.source,
            "name": clock.name,
            "note": clock.note,
            "utc_offset_minutes": clock.offset_now(now_utc),
            "windows": None if clock.windows is None else _zone_document(clock.windows),
            "text": clock.describe(now_utc),
        },
    }


def _zone_document(zone: WindowsZone) -> dict[str, object]:
    return {
        "bias": zone.bias,
        "standard_bias": zone.standard_bias,
        "daylight_bias": zone.daylight_bias,
        "standard_start": _transition_list(zone.standard_start),
        "daylight_start": _transition_list(zone.daylight_start),
        "active_bias": zone.active_bias,
        "adjusts": zone.adjusts,
    }


def _transition_list(change: Transition) -> list[int]:
    return [
        change.year,
        change.month,
        change.weekday,
        change.day,
        change.hour,
        change.minute,
        change.second,
    ]


def facts_from_document(value: object, where: str) -> HostFacts:
    """A host's facts back from the plan.

    Raises:
        DocumentError: the shape is wrong (names the field).
    """
    doc = _object(value, where)
    dates = _object(doc.get("dates"), f"{where}.dates")
    clock = _object(doc.get("clock"), f"{where}.clock")
    return HostFacts(_dates_from(dates, f"{where}.dates"), _clock_from(clock, f"{where}.clock"))


_DATE_SOURCES: dict[object, DatesSource] = {s: s for s in get_args(DatesSource)}
_ORDERS: dict[object, DateOrder] = {o: o for o in get_args(DateOrder)}
_CLOCK_SOURCES: dict[object, ClockSource] = {s: s for s in get_args(ClockSource)}


def _dates_from(doc: Mapping[str, Any], where: str) -> HostDates:
    source = _DATE_SOURCES.get(doc.get("source"))
    order = _ORDERS.get(doc.get("order", "auto"))
    if source is None or order is None:
        raise DocumentError(where, "unknown source or order")
    picture = doc.get("format")
    date_format = None
    if picture is not None:
        fmt = _object(picture, f"{where}.format")
        times = fmt.get("time_formats")
        if not isinstance(times, list) or not times or not all(isinstance(t, str) for t in times):
            raise DocumentError(f"{where}.format.time_formats", "expected a list of pictures")
        date_format = DateFormat(
            _text(fmt, "short_date", f"{where}.format"),
            tuple(times),
            _text(fmt, "am", f"{where}.format"),
            _text(fmt, "pm", f"{where}.format"),
        )
    shapes = doc.get("shapes", [])
    if not isinstance(shapes, list) or not all(isinstance(shape, str) for shape in shapes):
        raise DocumentError(f"{where}.shapes", "expected a list of strings")
    return HostDates(source, order, date_format, _text(doc, "note", where, ""), tuple(shapes))


def _clock_from(doc: Mapping[str, Any], where: str) -> HostClock:
    source = _CLOCK_SOURCES.get(doc.get("source"))
    if source is None:
        raise DocumentError(f"{where}.source", "unknown clock source")
    zone = doc.get("windows")
    name = _text(doc, "name", where, "")
    windows = None if zone is None else _zone_from(_object(zone, f"{where}.windows"), where, name)
    return HostClock(source, name, windows, _text(doc, "note", where, ""))


def _zone_from(doc: Mapping[str, Any], where: str, name: str) -> WindowsZone:
    def number(key: str, optional: bool = False) -> int | None:
        value = doc.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise DocumentError(f"{where}.windows.{key}", "expected an integer")
        return value

    def change(key: str) -> Transition:
        value = doc.get(key)
        if (
            not isinstance(value, list)
            or len(value) != 7
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            raise DocumentError(f"{where}.windows.{key}", "expected seven integers")
        return Transition(*value)

    return WindowsZone(
        name=name,
        bias=number("bias") or 0,
        standard_bias=number("standard_bias") or 0,
        daylight_bias=number("daylight_bias") or 0,
        standard_start=change("standard_start"),
        daylight_start=change("daylight_start"),
        active_bias=number("active_bias", optional=True),
        adjusts=_flag(doc.get("adjusts", True), f"{where}.windows.adjusts"),
    )


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise DocumentError(where, "expected an object")
    return value


def _text(doc: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise DocumentError(f"{where}.{key}", "expected a string")
    return value


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise DocumentError(where, "expected true or false")
    return value


def _minute(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DocumentError(where, "expected a local time YYYY-MM-DDTHH:MM or null")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DocumentError(where, f"bad local time {value!r}") from None
    if parsed.tzinfo is not None:
        raise DocumentError(where, "a logon time is a wall time without a zone")
    return parsed
