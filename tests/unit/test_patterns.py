"""Ansible host patterns over a small fixed inventory."""

from __future__ import annotations

import pytest

from fleetlogoff.errors import UsageError
from fleetlogoff.inventory.patterns import select_names, split_pattern

HOSTS = ["rds01", "rds02", "rds03", "web1.corp", "web2.corp", "fe80::1"]
GROUPS = {
    "all": HOSTS,
    "rds": ["rds01", "rds02", "rds03"],
    "staging": ["rds03", "web2.corp"],
    "web": ["web1.corp", "web2.corp"],
    "ungrouped": ["fe80::1"],
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (None, HOSTS),
        ("", HOSTS),
        ("all", HOSTS),
        ("*", HOSTS),
        ("rds", ["rds01", "rds02", "rds03"]),
        ("rds02", ["rds02"]),
        ("web:rds01", ["rds01", "web1.corp", "web2.corp"]),
        ("web,rds01", ["rds01", "web1.corp", "web2.corp"]),
        ("rds:&staging", ["rds03"]),
        ("rds:!staging", ["rds01", "rds02"]),
        ("!staging", ["rds01", "rds02", "web1.corp", "fe80::1"]),
        ("&staging", ["rds03", "web2.corp"]),
        # exclusions apply after unions whatever their order in the pattern
        ("!rds01,rds", ["rds02", "rds03"]),
        ("rds0*", ["rds01", "rds02", "rds03"]),
        ("*.corp", ["web1.corp", "web2.corp"]),
        ("rds0[!3]", ["rds01", "rds02"]),
        ("~web\\d", ["web1.corp", "web2.corp"]),
        ("~(rds01|web2)", ["rds01", "web2.corp"]),
        ("st*", ["rds03", "web2.corp"]),
        ("rds[0]", ["rds01"]),
        ("rds[-1]", ["rds03"]),
        ("rds[0:1]", ["rds01", "rds02"]),
        ("rds[1:]", ["rds02", "rds03"]),
        ("fe80::1", ["fe80::1"]),
        ("ungrouped", ["fe80::1"]),
    ],
)
def test_select_names(pattern: str | None, expected: list[str]) -> None:
    assert list(select_names(pattern, HOSTS, GROUPS)) == expected


@pytest.mark.parametrize(
    ("pattern", "parts"),
    [
        ("a:&b:!c", ["a", "&b", "!c"]),
        ("a, b ,,c", ["a", "b", "c"]),
        ("g[0:2]:h", ["g[0:2]", "h"]),
        ("~x:y", ["~x:y"]),
    ],
)
def test_split_pattern(pattern: str, parts: list[str]) -> None:
    assert split_pattern(pattern) == parts


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        ("nosuch", "'nosuch'"),
        ("rds:!typo", "'typo'"),
        ("rds:&nothing*", "'nothing*'"),
        ("rds[7]", "out of range"),
        ("~(", "invalid regular expression"),
        ("rds:!", "empty part"),
        ("Rds01", "'Rds01'"),
        # Ansible reads a trailing [n] as a slice, never as a glob character class
        ("rds0[12]", "index 12 is out of range"),
    ],
)
def test_bad_patterns_name_the_culprit(pattern: str, named: str) -> None:
    with pytest.raises(UsageError, match=named.replace("(", r"\(").replace("*", r"\*")):
        select_names(pattern, HOSTS, GROUPS)
