"""The plan document: what `plan -o` writes and `apply PLAN.json` reads (docs/plan-format.md).

Reading is strict: apply acts on what it reads, so a field of the wrong type, a missing
field or an unknown format version refuses the whole plan with one line naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fleetlogoff import __version__
from fleetlogoff.errors import FleetLogoffError
from fleetlogoff.input_file import read_bounded
from fleetlogoff.json_text import indented_json
from fleetlogoff.model import Session
from fleetlogoff.output_file import write_atomically
from fleetlogoff.parsers.json_out import (
    DocumentError,
    facts_document,
    facts_from_document,
    session_from_document,
)
from fleetlogoff.parsers.json_out import session_document as _session_shape
from fleetlogoff.planner import HostPlan, Plan, PlannedSession
from fleetlogoff.rules import KeptFrom
from fleetlogoff.windows import WindowStatus

# 2: rules digest of a canonical form (planner.RULES_DIGEST_VERSION 2), absolute paths.
FORMAT_VERSION = 2
# A plan of 1,000 hosts is a few MiB (every session, and the raw output of unread hosts);
# the bound only keeps `show /dev/zero` or a runaway file from filling memory.
MAX_PLAN_BYTES = 256 * 2**20


class PlanFileError(FleetLogoffError):
    """A plan file cannot be used. Attributes: path, reason."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class InventoryNotPlanError(PlanFileError):
    """The file is JSON in the shape of an Ansible inventory (groups, each a mapping or
    empty), not a plan: `apply` takes an inventory as well as a plan, and the YAML
    inventory plugin reads JSON files too."""


def canonical_json(document: object) -> bytes:
    """The one byte form of a JSON document that digests are taken of: keys sorted, no
    insignificant blanks, ASCII only (so no Unicode normalisation question), no NaN."""
    return json.dumps(
        document, sort_keys=True, ensure_ascii=True, separators=(",", ":"), allow_nan=False
    ).encode("ascii")


def session_document(session: Session) -> dict[str, Any]:
    """A session as every JSON output prints it (docs/session-schema.md)."""
    return dict(_session_shape(session))


def plan_document(plan: Plan) -> dict[str, Any]:
    """The versioned JSON document of a plan."""
    return {
        "format_version": FORMAT_VERSION,
        "created": plan.created.isoformat(timespec="seconds"),
        "tool": f"fleetlogoff {__version__}",
        "inventory": {"source": plan.inventory_source, "digest": plan.inventory_digest},
        "rules": {
            "source": plan.rules_source,
            "digest": plan.rules_digest,
            "spec": dict(plan.rules_spec),
        },
        "limit": plan.limit,
        "summary": {
            "hosts": len(plan.hosts),
            "hosts_failed": len(plan.failed_hosts),
            "sessions": sum(len(h.sessions) for h in plan.hosts),
            "targets": plan.target_count,
        },
        "hosts": [_host_document(h, plan.created) for h in plan.hosts],
    }


def _host_document(host: HostPlan, created: datetime) -> dict[str, Any]:
    sessions, targets = _session_documents(host)
    return {
        "name": host.name,
        "address": host.address,
        "status": host.status,
        "error": host.error,
        "raw": host.raw or None,
        "window": {
            "open": host.window.is_open,
            "fits": host.window.fits,
            "text": host.window.text,
            "closes_at": _iso(host.window.closes_at),
            "opens_at": _iso(host.window.opens_at),
        },
        "facts": facts_document(host.facts, created) if host.facts is not None else None,
        "sessions": sessions,
        "targets": targets,
    }


def _session_documents(host: HostPlan) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every session with its verdict, and the targets again without their doubts: each
    session's shape is built once for both (host.targets are its sessions to log off, in
    order)."""
    sessions = []
    targets = []
    for p in host.sessions:
        shape = _session_shape(p.session)
        kept_from = [{"rule": k.rule, "reason": k.reason} for k in p.kept_from]
        sessions.append(
            {
                **shape,
                "action": p.action,
                "rule": p.rule,
                "reason": p.reason,
                "kept_from": kept_from,
            }
        )
        if p.action == "target":
            bare = {k: v for k, v in shape.items() if k != "doubts"}
            targets.append({**bare, "rule": p.rule, "reason": p.reason})
    return sessions, targets


def plan_text(document: Mapping[str, Any]) -> str:
    """A plan document as its file holds it (and `--format json` prints it): canonical
    (sorted keys), indented by two, letters as they are, one line end at the end."""
    return indented_json(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_plan(plan: Plan, path: str, text: str | None = None) -> None:
    """Write atomically through a checked path (output_file.py): a crash leaves the old file
    or the new one, never half of one; a directory, symlink or device is never replaced.

    Args:
        plan: the plan.
        path: where to write it.
        text: plan_text(plan_document(plan)), when the caller has it already (it prints
            it too).

    Raises:
        OutputPathError: the path cannot take a plan (exit code 64).
        OutputWriteError: the disk refused it (nothing replaced).
    """
    text = plan_text(plan_document(plan)) if text is None else text
    write_atomically(path, text.encode("utf-8"))


def read_plan(path: str) -> Plan:
    """Read and validate a plan file.

    Raises:
        PlanFileError: one line naming what is wrong, for any file that is not a plan this
            version of fleetlogoff wrote (unreadable, not UTF-8, not JSON, too deep, NaN,
            a missing or mistyped field, a timestamp without a zone, another version).
    """
    try:
        data = read_bounded(path, MAX_PLAN_BYTES)
    except OSError as exc:
        raise PlanFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_PLAN_BYTES:
        raise PlanFileError(path, f"larger than {MAX_PLAN_BYTES // 2**20} MiB: not a plan")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(path, f"not UTF-8 (byte {exc.start})") from exc
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise PlanFileError(path, f"not JSON (line {exc.lineno}): {exc.msg}") from exc
    except (RecursionError, ValueError) as exc:
        raise PlanFileError(path, f"not a plan: {exc}") from exc
    return plan_from_document(document, path)


def _inventory_shaped(doc: Mapping[str, Any]) -> bool:
    """Groups of an Ansible inventory: every top-level value a mapping or empty. A plan
    has texts and lists there (created, tool, hosts), so even one without its
    format_version is never taken for an inventory."""
    return bool(doc) and all(value is None or isinstance(value, dict) for value in doc.values())


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number a plan holds")


def plan_from_document(document: object, path: str) -> Plan:
    """Rebuild a Plan, refusing anything malformed."""
    doc = _mapping(document, "document", path)
    if "format_version" not in doc and _inventory_shaped(doc):
        raise InventoryNotPlanError(path, "not a plan: JSON in the shape of an inventory")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version != FORMAT_VERSION:
        raise PlanFileError(
            path,
            f"format_version {version!r} is not {FORMAT_VERSION}: make the plan again with "
            "this fleetlogoff",
        )
    inventory = _mapping(doc.get("inventory"), "inventory", path)
    rules = _mapping(doc.get("rules"), "rules", path)
    hosts = doc.get("hosts")
    if not isinstance(hosts, list):
        raise PlanFileError(path, "hosts: expected a list")
    plan = Plan(
        created=_instant(doc.get("created"), "created", path),
        inventory_source=_str(inventory, "source", path, "inventory"),
        inventory_digest=_str(inventory, "digest", path, "inventory"),
        rules_source=_str(rules, "source", path, "rules"),
        rules_digest=_str(rules, "digest", path, "rules"),
        limit=_optional_str(doc, "limit", path),
        hosts=tuple(_host_from(h, f"hosts[{i}]", path) for i, h in enumerate(hosts)),
        rules_spec=_spec_from(rules.get("spec"), path),
    )
    _check_unique(plan, path)
    return plan


_SPEC_LISTS = ("users", "states", "sessions")
_SPEC_OPTIONAL = ("rules_file", "idle")


def _spec_from(value: object, path: str) -> dict[str, object]:
    """How the selection was given: rebuilt by apply, so every field is checked here."""
    spec = _mapping(value, "rules.spec", path)
    unknown = sorted(set(spec) - set(_SPEC_LISTS) - set(_SPEC_OPTIONAL))
    if unknown:
        raise PlanFileError(path, f"rules.spec: unknown field {unknown[0]!r}")
    for key in _SPEC_LISTS:
        items = spec.get(key, [])
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise PlanFileError(path, f"rules.spec.{key}: expected a list of strings")
    for key in _SPEC_OPTIONAL:
        _optional_str(spec, key, path, "rules.spec")
    return dict(spec)


def _check_unique(plan: Plan, path: str) -> None:
    names = [h.name for h in plan.hosts]
    if len(set(names)) != len(names):
        raise PlanFileError(path, "hosts: a host appears twice")
    for index, host in enumerate(plan.hosts):
        ids = [p.session.id for p in host.sessions]
        if len(set(ids)) != len(ids):
            raise PlanFileError(path, f"hosts[{index}].sessions: a session id appears twice")


def _host_from(value: object, where: str, path: str) -> HostPlan:
    host = _mapping(value, where, path)
    window = _mapping(host.get("window"), f"{where}.window", path)
    sessions = host.get("sessions")
    if not isinstance(sessions, list):
        raise PlanFileError(path, f"{where}.sessions: expected a list")
    status = _str(host, "status", path, where)
    if status not in ("ok", "unreachable", "auth_failed", "error"):
        raise PlanFileError(path, f"{where}.status: unknown status {status!r}")
    facts = host.get("facts")
    try:
        read_facts = facts_from_document(facts, f"{where}.facts") if facts is not None else None
    except DocumentError as exc:
        raise PlanFileError(path, str(exc)) from exc
    planned = tuple(
        _planned_from(s, f"{where}.sessions[{i}]", path) for i, s in enumerate(sessions)
    )
    _check_targets(host, sessions, where, path)
    return HostPlan(
        name=_str(host, "name", path, where),
        address=_str(host, "address", path, where),
        status=status,  # type: ignore[arg-type]  # checked against the Literal just above
        error=_optional_str(host, "error", path, where),
        raw=_optional_str(host, "raw", path, where) or "",
        sessions=planned,
        window=_window_from(window, f"{where}.window", path),
        facts=read_facts,
    )


def _check_targets(host: Mapping[str, Any], sessions: list[Any], where: str, path: str) -> None:
    """`targets` repeats the sessions whose action is target: a reviewer reads it, apply
    acts on `sessions`, so the two must say the same."""
    targets = host.get("targets")
    if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
        raise PlanFileError(path, f"{where}.targets: expected a list of objects")
    listed = [t.get("id") for t in targets]
    acted = [s.get("id") for s in sessions if isinstance(s, dict) and s.get("action") == "target"]
    if listed != acted:
        raise PlanFileError(path, f"{where}.targets: not the sessions whose action is target")


def _window_from(window: Mapping[str, Any], where: str, path: str) -> WindowStatus:
    flags = {}
    for key in ("open", "fits"):
        flag = window.get(key)
        if not isinstance(flag, bool):
            raise PlanFileError(path, f"{where}.{key}: expected true or false")
        flags[key] = flag
    return WindowStatus(
        is_open=flags["open"],
        fits=flags["fits"],
        closes_at=_optional_instant(window.get("closes_at"), f"{where}.closes_at", path),
        opens_at=_optional_instant(window.get("opens_at"), f"{where}.opens_at", path),
        text=_str(window, "text", path, where),
    )


def _planned_from(value: object, where: str, path: str) -> PlannedSession:
    doc = _mapping(value, where, path)
    action = _str(doc, "action", path, where)
    if action not in ("target", "protected", "keep"):
        raise PlanFileError(path, f"{where}.action: unknown action {action!r}")
    return PlannedSession(
        session=_session_from(doc, where, path),
        action=action,  # type: ignore[arg-type]  # checked against the Literal just above
        rule=_optional_str(doc, "rule", path, where),
        reason=_str(doc, "reason", path, where),
        kept_from=_kept_from(doc.get("kept_from", []), f"{where}.kept_from", path),
    )


def _kept_from(value: object, where: str, path: str) -> tuple[KeptFrom, ...]:
    if not isinstance(value, list):
        raise PlanFileError(path, f"{where}: expected a list")
    kept = []
    for index, item in enumerate(value):
        entry = _mapping(item, f"{where}[{index}]", path)
        kept.append(
            KeptFrom(
                _str(entry, "rule", path, f"{where}[{index}]"),
                _str(entry, "reason", path, f"{where}[{index}]"),
            )
        )
    return tuple(kept)


def _session_from(doc: Mapping[str, Any], where: str, path: str) -> Session:
    try:
        return session_from_document(doc, where)
    except DocumentError as exc:
        raise PlanFileError(path, str(exc)) from exc


def _mapping(value: object, where: str, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PlanFileError(path, f"{where}: expected an object")
    return value


def _str(doc: Mapping[str, Any], key: str, path: str, where: str = "") -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise PlanFileError(path, f"{_join(where, key)}: expected a string")
    return value


def _optional_str(doc: Mapping[str, Any], key: str, path: str, where: str = "") -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise PlanFileError(path, f"{_join(where, key)}: expected a string or null")
    return value


def _instant(value: object, where: str, path: str) -> datetime:
    parsed = _optional_instant(value, where, path)
    if parsed is None:
        raise PlanFileError(path, f"{where}: missing timestamp")
    return parsed


def _optional_datetime(value: object, where: str, path: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PlanFileError(path, f"{where}: expected an ISO timestamp")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise PlanFileError(path, f"{where}: bad timestamp {value[:40]!r}") from exc


def _optional_instant(value: object, where: str, path: str) -> datetime | None:
    """An aware timestamp: the plan's own times are instants (UTC); a naive one could be
    read in any zone, so it is refused. (Logon times are host wall times, and naive.)"""
    parsed = _optional_datetime(value, where, path)
    if parsed is not None and parsed.utcoffset() is None:
        raise PlanFileError(path, f"{where}: timestamp {str(value)[:40]!r} has no time zone")
    return parsed


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
