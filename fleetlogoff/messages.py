"""What users read and what Windows answers: warning texts with their placeholders, and
the error a msg or logoff printed. Pure: no I/O, the clock is an argument."""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import UTC, datetime

from fleetlogoff.errors import UsageError
from fleetlogoff.inventory.settings import UTF8_CODEPAGE
from fleetlogoff.model import Host
from fleetlogoff.parsers import decode_output
from fleetlogoff.parsers.timezone import HostClock
from fleetlogoff.planner import host_clock

MESSAGE_FIELDS = frozenset({"user", "host", "minutes", "time_left", "deadline"})
DEFAULT_MESSAGE = (
    "Your session on {host} will be logged off in {time_left}, at {deadline}, "
    "for maintenance. Please save your work now."
)
CANCEL_MESSAGE = "The logoff announced for your session on {host} is cancelled."
REMINDER_MESSAGE = (
    "Reminder: your session on {host} will be logged off in {time_left}, "
    "at {deadline}. Please save your work now."
)
# How long a cancellation notice stays on screen (msg's own default, FORMATS.md §4).
NOTICE_DISPLAY_S = 60


def check_message(template: str) -> None:
    """Refuse a message template with unknown or broken placeholders, or one that says
    nothing (a blank popup would be audited as a warning), before anyone is warned."""
    if not template.strip():
        raise UsageError(
            "--message is blank: users would read nothing (leave it out for the default text)"
        )
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise UsageError(f"--message: {exc} (write {{{{ and }}}} for literal braces)") from None
    unknown = fields - MESSAGE_FIELDS
    if unknown:
        known = ", ".join(sorted("{" + f + "}" for f in MESSAGE_FIELDS))
        raise UsageError(f"--message: unknown placeholder {{{sorted(unknown)[0]}}}; use {known}")


def render_message(template: str, values: Mapping[str, str]) -> str:
    return template.format_map(dict(values))


def spoken_duration(seconds: float) -> str:
    """A duration as a user reads it in a message: "45 seconds", "5 minutes", "1 hour 30
    minutes". Rounded to the second, then down to the minute: a message never promises
    more time than there is."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} second{'s' if whole != 1 else ''}"
    hours, minutes = divmod(whole // 60, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def clock_minute(host: Host, moment: datetime, clock: HostClock | None = None) -> str:
    """HH:MM on the host's clock, rounded down: a user told 10:04 is logged off at
    10:04:19 at the earliest, never before.

    Args:
        host: the inventory host.
        moment: the instant (aware).
        clock: the host's clock as read with its sessions (the plan records it); else
            fleetlogoff_timezone. A host whose zone is unknown is told the time in UTC,
            marked so, rather than a time in a zone that may not be its own.
    """
    local = (clock or host_clock(host)).local_now(moment)
    if local is None:
        return moment.astimezone(UTC).strftime("%H:%M UTC")
    return local.strftime("%H:%M")


def command_failure(
    stdout: bytes, stderr: bytes, exit_code: int | None, codepage: int = UTF8_CODEPAGE
) -> str | None:
    """The error a logoff or msg reported, or None when it succeeded.

    Success prints nothing (FORMATS.md §3; msg /V is not used); exit codes of these tools
    are unreliable, so any text on stderr is a failure, with its words kept.
    """
    text = decode_output(stderr, codepage).strip()
    if not text and exit_code not in (0, None):
        text = decode_output(stdout, codepage).strip() or f"exit code {exit_code}"
    return " ".join(text.split())[:300] or None
