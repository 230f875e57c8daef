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
        ("a, b ,c,", ["a", "b", "c"]),
        ("g[0:2]:h", ["g[0:2]", "h"]),
        # Ansible splits a regex on ':' too when there is no comma (write ~x:y,)
        ("~x:y", ["~x", "y"]),
        ("~x:y,", ["~x:y"]),
        ("fe80::1", ["fe80::1"]),
        ("[fe80::1]:5986", ["[fe80::1]:5986"]),
        ("rds[0:2]", ["rds[0:2]"]),
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
        ("rds:!", "names nothing after"),
        ("Rds01", "'Rds01'"),
        # Ansible reads a trailing [n] as a slice, never as a glob character class
        ("rds0[12]", "'rds0\\[12\\]' matches no host"),
    ],
)
def test_bad_patterns_name_the_culprit(pattern: str, named: str) -> None:
    with pytest.raises(UsageError, match=named.replace("(", r"\(").replace("*", r"\*")):
        select_names(pattern, HOSTS, GROUPS)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "the host pattern is empty"),
        ("   ", "the host pattern is empty"),
        (",", "empty part between commas"),
        (",,", "empty part between commas"),
        ("rds,,web", "empty part between commas"),
        (" , rds", "empty part between commas"),
        ("rds]", "malformed"),
        ("rds[", "malformed"),
        ("rds[0:1", "malformed"),
        ("rds],web", "malformed"),
        ("::", "matches no host"),  # the IPv6 address ::, as Ansible reads it
        ("&", "names nothing"),
        ("rds,!", "names nothing"),
    ],
)
def test_empty_or_malformed_patterns_never_widen(pattern: str, reason: str) -> None:
    # Ansible reads '', ' ' and ',' as "no limit" and 'rds]' as 'rds': every host
    with pytest.raises(UsageError, match=reason):
        select_names(pattern, HOSTS, GROUPS)


def test_one_trailing_comma_is_allowed() -> None:
    assert select_names("rds01,", HOSTS, GROUPS) == ("rds01",)


def test_a_pattern_that_leaves_no_host_is_an_error_as_in_ansible() -> None:
    with pytest.raises(UsageError, match="leaves no host"):
        select_names("rds:&web", HOSTS, GROUPS)
    with pytest.raises(UsageError, match="the inventory has no hosts"):
        select_names(None, [], {"all": []})


def test_parts_from_a_limit_file_are_not_split_again() -> None:
    assert select_names(["rds01", "!rds02", "web"], HOSTS, GROUPS) == (
        "rds01",
        "web1.corp",
        "web2.corp",
    )
    with pytest.raises(UsageError, match="'a,b' matches no host"):
        select_names(["a,b"], HOSTS, GROUPS)


# Ansible's order for a group: its own hosts, then its children's (Group.get_hosts), and
# `all` as the order of the result.
ORDERED_HOSTS = ["child1", "own1", "own2", "other"]
ORDERED_GROUPS = {
    "all": ORDERED_HOSTS,
    "parent": ["own1", "own2", "child1"],
    "kid": ["child1"],
    "p2": ["own2", "other"],
    "child1": ["own1"],  # a group named like a host
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("parent[0]", ["own1"]),
        ("parent[2]", ["child1"]),
        ("parent[1:]", ["child1", "own2"]),  # the group's order picks, `all` orders
        ("parent[-1]", ["child1"]),
        ("parent[1:0]", ["own2"]),  # Ansible reads an end of 0 as a single index
        ("p*[0:1]", ["own1", "own2"]),  # duplicates of both groups count in the slice
        ("p*[2:3]", ["child1", "own2"]),
        ("child1", ["child1"]),  # a plain name is the host, even with a group so named
        ("&child1", ["own1"]),  # & and ! mean the group
        ("all:!child1", ["child1", "own2", "other"]),
        ("parent[5:9]", "matches no host"),
    ],
)
def test_slices_and_names_follow_ansibles_order_and_rules(
    pattern: str, expected: list[str] | str
) -> None:
    if isinstance(expected, str):
        with pytest.raises(UsageError, match=expected):
            select_names(pattern, ORDERED_HOSTS, ORDERED_GROUPS)
    else:
        assert list(select_names(pattern, ORDERED_HOSTS, ORDERED_GROUPS)) == expected


def test_a_regex_python_warns_about_is_read_as_written() -> None:
    """'[[' in a set draws a FutureWarning from re (an error under this suite's warning
    filters, found by the fuzzer): the pattern means what it says today, quietly."""
    assert select_names("~[[r]ds0[12]", HOSTS, GROUPS) == ("rds01", "rds02")
    with pytest.raises(UsageError, match="invalid regular expression"):
        select_names("~[[,", HOSTS, GROUPS)
