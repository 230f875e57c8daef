"""Sessions that stay, counted by why: thousands of protected and kept rows become a few
lines a person can read, one per reason, each with its count.

Reasons are the planner's own sentences; they often quote the row they are about
("built-in administrator Administrator", "ambiguous date 12/1/2026"). To count alike
reasons together without interpreting them, the row's own values (user, session name,
logon and idle texts) are masked before grouping. A group whose rows all gave the same
sentence shows that sentence; otherwise it shows the masked one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from fleetlogoff.model import Session
from fleetlogoff.planner import PlannedSession

_PROTECTED_PREFIX = "protected: "


@dataclass(slots=True)
class ReasonGroup:
    """Rows that stay for one reason.

    Attributes:
        action: protected or keep.
        text: the reason to show.
        count: how many rows.
        hosts: on how many hosts.
    """

    action: str
    text: str
    count: int = 0
    host_names: set[str] = field(default_factory=set)
    _texts: set[str] = field(default_factory=set)

    @property
    def hosts(self) -> int:
        return len(self.host_names)


def reason_text(planned: PlannedSession) -> str:
    """The reason without the action it repeats ("protected: listener" → "listener")."""
    reason = planned.reason
    return reason[len(_PROTECTED_PREFIX) :] if reason.startswith(_PROTECTED_PREFIX) else reason


def reason_shape(planned: PlannedSession) -> str:
    """The reason with this row's own values masked, so alike reasons compare equal."""
    text = reason_text(planned)
    masks = [(value, mask) for value, mask in _row_masks(planned.session) if value in text]
    # Longest first; `in` again: an earlier, longer value may have replaced it. Most rows
    # quote nothing ("no rule matched") and skip the sort.
    for value, mask in sorted(masks, key=lambda m: -len(m[0])):
        if value in text:
            text = text.replace(value, mask)
    return text


def _row_masks(session: Session) -> Iterator[tuple[str, str]]:
    """The row's own values a reason may quote, with what masks them."""
    fields = (
        (session.logon_text, "<logon>"),
        (session.username, "<user>"),
        (session.session_name, "<session>"),
        (session.idle_text, "<idle>"),
    )
    for value, mask in fields:
        if len(value.strip()) >= 2:
            yield value, mask
    # Parts of the logon text too ("12/1/2026" of "12/1/2026 8:28 AM"): a date part
    # quoted alone must mask the same way.
    for part in session.logon_text.split():
        if len(part) >= 3:
            yield part, "<logon>"


def group_reasons(rows: Iterable[tuple[str, PlannedSession]]) -> list[ReasonGroup]:
    """Group (host, row) pairs by action and reason; protected first, larger groups first."""
    groups: dict[tuple[str, str], ReasonGroup] = {}
    for host, planned in rows:
        key = (planned.action, reason_shape(planned))
        group = groups.get(key)
        if group is None:
            group = groups[key] = ReasonGroup(planned.action, key[1])
        group.count += 1
        group.host_names.add(host)
        if len(group._texts) < 2:
            group._texts.add(reason_text(planned))
    for group in groups.values():
        if len(group._texts) == 1:
            group.text = next(iter(group._texts))
    order = {"protected": 0, "keep": 1}
    return sorted(groups.values(), key=lambda g: (order.get(g.action, 2), -g.count, g.text))
