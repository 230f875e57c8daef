"""Warning texts: placeholders are checked before anyone is warned, durations read well."""

from __future__ import annotations

import pytest

from fleetlogoff.errors import UsageError
from fleetlogoff.messages import DEFAULT_MESSAGE, check_message, spoken_duration


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [
        (0.2, "0 seconds"),
        (5, "5 seconds"),
        (299.999, "5 minutes"),
        (60, "1 minute"),
        (119, "1 minute"),
        (300, "5 minutes"),
        (3600, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (7200, "2 hours"),
    ],
)
def test_spoken_durations_never_promise_more_time(seconds: float, spoken: str) -> None:
    assert spoken_duration(seconds) == spoken


def test_the_default_message_is_valid() -> None:
    check_message(DEFAULT_MESSAGE)


@pytest.mark.parametrize(
    ("template", "needle"),
    [
        ("bye {usr}", "{usr}"),
        ("bye {user", "--message"),
        ("{0}", "{0}"),
        ("", "blank"),
        (" \t\n", "blank"),
    ],
)
def test_bad_templates_are_refused(template: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle.replace("{", r"\{").replace("}", r"\}")):
        check_message(template)


def test_literal_braces_are_allowed() -> None:
    check_message("keep {{this}} as is, {host}")
