"""Host keys as Ansible reads them: ports, bracketed IPv6, and bounded, linear ranges."""

from __future__ import annotations

import pytest

from fleetlogoff.inventory.addresses import (
    MAX_RANGE_HOSTS,
    expand_host_range,
    host_and_port,
    parse_address,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rds01", ("rds01", None)),
        ("rds01.corp.example:5986", ("rds01.corp.example", 5986)),
        ("192.0.2.1:5985", ("192.0.2.1", 5985)),
        ("[2001:db8::10]:5986", ("2001:db8::10", 5986)),
        ("[192.0.2.9]:5985", ("192.0.2.9", 5985)),
        ("[rds01]:5985", ("rds01", 5985)),
        ("2001:db8::11", ("2001:db8::11", None)),
        ("fe80::1", ("fe80::1", None)),
        ("::ffff:192.0.2.1", ("::ffff:192.0.2.1", None)),
        ("rds[01:20].corp:5986", ("rds[01:20].corp", 5986)),
        ("2001:db8::[a:c]", ("2001:db8::[a:c]", None)),
        ("192.0.2.[1:9]", ("192.0.2.[1:9]", None)),
        ("zürich-rds", ("zürich-rds", None)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["rds-", "rds_", "a..b", "rds01.", "[fe80::1]", "a b", ":5986"])
def test_what_is_no_address_stays_a_whole_name(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)
    # as Ansible's inventory plugins do: the whole text is the name, there is no port
    assert host_and_port(text) == (text, None)


@pytest.mark.parametrize(
    ("pattern", "first", "last", "count"),
    [
        ("rds[01:20]", "rds01", "rds20", 20),
        ("rds[1:20]", "rds1", "rds20", 20),
        ("www[01:50:2].example.com", "www01.example.com", "www49.example.com", 25),
        ("db-[a:f]", "db-a", "db-f", 6),
        ("db-[a:f:2]", "db-a", "db-e", 3),
        ("x[y:B]", "xy", "xB", 4),
        ("r[1:2]-[a:b]", "r1-a", "r2-b", 4),
        ("r[:3]", "r0", "r3", 4),
        ("r[001:100]", "r001", "r100", 100),
        ("plain", "plain", "plain", 1),
    ],
)
def test_ranges_expand_as_in_ansible(pattern: str, first: str, last: str, count: int) -> None:
    names = expand_host_range(pattern)
    assert (names[0], names[-1], len(names)) == (first, last, count)
    assert len(set(names)) == count


def test_several_ranges_multiply_in_order() -> None:
    assert expand_host_range("r[1:2]-[a:b]") == ["r1-a", "r1-b", "r2-a", "r2-b"]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("rds[9:1]", "counts backwards; Ansible would expand it to no host"),
        ("rds[f:a]", "must not be after"),
        ("rds[01:100]", "same width"),
        ("rds[1:]", "has no end"),
        ("rds[1:5:0]", "step must be a whole number above 0"),
        ("rds[1:5:-1]", "step must be"),
        ("rds[1:a]", "two numbers or two single letters"),
        ("rds[ab:cd]", "two numbers or two single letters"),
        ("rds[1:2:3:4]", "[begin:end] or [begin:end:step]"),
        ("rds[1:5", "closing bracket"),
        ("rds[1|3]", "closing bracket"),
        ("rds[\u0661:\u0663]", "two numbers"),
    ],
)
def test_bad_ranges_say_why(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        expand_host_range(pattern)


def test_ranges_are_bounded_before_anything_is_built() -> None:
    assert len(expand_host_range(f"r[1:{MAX_RANGE_HOSTS}]")) == MAX_RANGE_HOSTS
    with pytest.raises(ValueError, match="9,999,999 hosts"):
        expand_host_range("rds[1:9999999]")
    # each range alone is fine, together they name 100,000,000 hosts
    with pytest.raises(ValueError, match="more than 65,536 hosts"):
        expand_host_range("r[1:10000]-[1:10000]")
    with pytest.raises(ValueError, match="hosts"):
        expand_host_range("r[0:" + "9" * 17 + "]")
