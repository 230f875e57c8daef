"""What a host told about its dates and its clock, kept with its sessions and in the plan,
so that apply reads the host exactly as plan did."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from fleetlogoff.parsers.dates import DateOrder
from fleetlogoff.parsers.formats import DateFormat
from fleetlogoff.parsers.timezone import HostClock

DatesSource = Literal["host", "inventory", "output"]


@dataclass(frozen=True, slots=True)
class HostDates:
    """How a host's logon times are read.

    Attributes:
        source: "host" (its own pictures, read from its registry), "inventory"
            (fleetlogoff_date_order), or "output" (the rows themselves: each date read
            alone, or day/month order settled by a row that shows it).
        order: the day/month order in force ("auto" when the rows settled nothing).
        format: the host's own pictures, for a "host" source.
        note: why the host's own pictures are not used (the probe's failure, as printed).
        shapes: the shapes of the logon times the host printed (digits and words
            collapsed: "9/9/9 9:9 a"), so a later read can tell the format changed.
    """

    source: DatesSource
    order: DateOrder = "auto"
    format: DateFormat | None = None
    note: str = ""
    shapes: tuple[str, ...] = ()

    def describe(self) -> str:
        """A line for plans: "dd/MM/yyyy HH:mm (the host's own format)"."""
        if self.format is not None:
            return f"{self.format.describe()} (the host's own format)"
        if self.source == "inventory":
            return f"{self.order} (fleetlogoff_date_order)"
        settled = (
            f"{self.order}, settled by the rows" if self.order != "auto" else "read row by row"
        )
        return f"{settled}{': ' + self.note if self.note else ''}"


_DIGITS = re.compile(r"\d+")
_LETTERS = re.compile(r"[^\W\d_]+")


def logon_shape(text: str) -> str:
    """A printed logon time with its digits and words collapsed: what stays the same for
    every time one format prints ("01/12/2026 7:05 PM" and "13/02/2023 11:40 AM" are both
    "9/9/9 9:9 a") and changes with the format ("2026-12-01 19:05" is "9-9-9 9:9")."""
    return " ".join(_LETTERS.sub("a", _DIGITS.sub("9", text)).split())


@dataclass(frozen=True, slots=True)
class HostFacts:
    """A host's dates and clock, as learned when its sessions were read.

    Attributes:
        dates: how its logon times are read.
        clock: where its wall clock stands against UTC.
    """

    dates: HostDates
    clock: HostClock
