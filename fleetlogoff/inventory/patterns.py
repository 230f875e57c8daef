"""Ansible host patterns for --limit: `all`, `*`, names, globs, `~regex`, groups,
`a,b` / `a:b` unions, `&` intersections, `!` exclusions, `group[0]` / `group[0:2]` slices.

Semantics follow Ansible's InventoryManager (ansible-core 2.19, inventory/manager.py): the
pattern is split on `,` (or on `:` when it has no comma and is no single address), unions
are applied first, then intersections, then exclusions; a pattern of only `&`/`!` parts
starts from `all`. A part that is exactly a host's name means that host, even when a group
has the same name (`&name` and `!name` mean the group). Names and globs are case-sensitive;
`~regex` is matched from the start of the name. A slice takes the group's hosts in Ansible's
order (the group's own hosts first) and is inclusive at both ends. The hosts selected come
in the order of `all`, as Ansible's --limit gives them.

Stricter than Ansible, which widens or only warns (a limit decides whose sessions end):
an empty pattern (`''`, `' '`, `','`), an empty part (`a,,b`), a malformed one (`rds]`,
`rds[`), and a part that matches no host are errors. One trailing comma is allowed. A
pattern that leaves no host at all is an error, as in Ansible.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Callable, Mapping, Sequence

from fleetlogoff.errors import UsageError
from fleetlogoff.inventory.addresses import parse_address

_GLOB_CHARS = (".", "?", "*", "[")
# `name[3]`, `name[-1]`, `name[0:2]`, `name[1:]` (Ansible also accepts `-` for `:`).
_SUBSCRIPT = re.compile(r"(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]", re.DOTALL)
# Ansible's split on ':' keeps bracketed expressions (`g[0:2]`) whole.
_COLON_PART = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SEPARATORS = re.compile(r"[\s:]*")


def split_pattern(pattern: str) -> list[str]:
    """Split a host pattern into its parts (`a,&b,!c` or `a:&b:!c`).

    Raises:
        UsageError: empty, or a part is empty or malformed.
    """
    if not pattern.strip():
        raise UsageError("the host pattern is empty (write all for every host)")
    if "," in pattern:
        parts = [part.strip() for part in pattern.split(",")]
        if parts[-1] == "":
            parts.pop()  # `rds01,`: one trailing comma, an -i habit
        if not parts or "" in parts:
            raise UsageError(f"host pattern {pattern!r} has an empty part between commas")
    elif _is_single_address(pattern.strip()):
        parts = [pattern.strip()]
    else:
        parts = _COLON_PART.findall(pattern)
        if _SEPARATORS.fullmatch(_COLON_PART.sub("", pattern)) is None or not parts:
            raise UsageError(f"host pattern {pattern!r} is malformed (unbalanced [ or ]?)")
    for part in parts:
        _check_part(part)
    return parts


def _is_single_address(pattern: str) -> bool:
    """A name Ansible's parse_address reads (`fe80::1`, `rds[0:2]`) is one pattern."""
    try:
        parse_address(pattern)
    except ValueError:
        return False
    return True


def _check_part(part: str) -> None:
    base = part[1:] if part[:1] in ("&", "!") else part
    if not base.strip():
        raise UsageError(f"host pattern part {part!r} names nothing after '&' or '!'")
    if not base.startswith("~") and base.count("[") != base.count("]"):
        raise UsageError(f"host pattern part {part!r} is malformed (unbalanced [ or ])")


def select_names(
    pattern: str | Sequence[str] | None,
    hosts: Sequence[str],
    groups: Mapping[str, Sequence[str]],
) -> tuple[str, ...]:
    """Evaluate a host pattern.

    Args:
        pattern: the --limit text, its parts already split (a limit file's lines), or
            None for all hosts.
        hosts: every host name, in the order of `all`.
        groups: group name → host names (children's hosts included), Ansible's order.

    Returns:
        Matching host names in the order of `all`.

    Raises:
        UsageError: the pattern is malformed, or a part of it matches nothing.
    """
    if pattern is None:
        if not hosts:
            raise UsageError("the inventory has no hosts")
        return tuple(hosts)
    parts = split_pattern(pattern) if isinstance(pattern, str) else list(pattern)
    if not parts:
        raise UsageError("the host pattern is empty (write all for every host)")
    for part in parts:
        _check_part(part)
    unions = [p for p in parts if p[0] not in "&!"] or ["all"]
    known = set(hosts)
    chosen: set[str] = set()
    for part in unions:
        chosen.update([part] if part in known else _match_part(part, hosts, groups))
    for part in (p[1:] for p in parts if p[0] == "&"):
        chosen.intersection_update(_match_part(part, hosts, groups))
    for part in (p[1:] for p in parts if p[0] == "!"):
        chosen.difference_update(_match_part(part, hosts, groups))
    if not chosen:
        # Ansible stops here too ("leaves us with no hosts to target").
        raise UsageError(f"host pattern {_shown(pattern)} leaves no host")
    return tuple(h for h in hosts if h in chosen)


def _shown(pattern: str | Sequence[str]) -> str:
    return repr(pattern) if isinstance(pattern, str) else repr(",".join(pattern))


def _match_part(part: str, hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> list[str]:
    base, subscript = _split_subscript(part)
    found = _enumerate(base, hosts, groups)
    if subscript is not None and found:
        found = _apply_subscript(part, found, subscript)
    if not found:
        raise UsageError(f"host pattern {part!r} matches no host or group")
    return found


def _split_subscript(part: str) -> tuple[str, tuple[int, int | None] | None]:
    if part.startswith("~"):
        return part, None
    match = _SUBSCRIPT.fullmatch(part)
    if match is None:
        return part, None
    base, index, start, _sep, end = match.groups()
    if index is not None:
        return base, (int(index), None)
    return base, (int(start), int(end) if end else -1)


def _apply_subscript(part: str, found: list[str], subscript: tuple[int, int | None]) -> list[str]:
    """Ansible's _apply_subscript, quirks included: `[i]` is one host, `[i:]` to the end,
    `[i:j]` inclusive, and `[i:0]` the single host i (its end of 0 reads as "none")."""
    start, end = subscript
    if end:
        return found[start:] if end == -1 else found[start : end + 1]
    if not -len(found) <= start < len(found):
        raise UsageError(f"host pattern {part!r}: index {start} is out of range")
    return [found[start]]


def _enumerate(base: str, hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> list[str]:
    """Hosts one part names, in Ansible's order, duplicates kept (_enumerate_matches):
    every matching group's hosts, then matching hosts when no group matched or the part
    is a glob or regex."""
    matcher = _compile(base)
    matched_groups = [g for g in groups if matcher(g)]
    result = [host for group in matched_groups for host in groups[group]]
    if not matched_groups or base.startswith("~") or any(c in base for c in _GLOB_CHARS):
        result += [h for h in hosts if matcher(h)]
    return result


def _compile(base: str) -> Callable[[str], bool]:
    if base.startswith("~"):
        try:
            with warnings.catch_warnings():
                # '[[' or '--' in a set is legal and read as written today; Python warns
                # (FutureWarning) that it may change one day. A warning line is noise here.
                warnings.simplefilter("ignore", FutureWarning)
                regex = re.compile(base[1:])
        except (re.error, RecursionError, OverflowError) as exc:
            raise UsageError(f"host pattern {base!r}: invalid regular expression: {exc}") from None
    else:
        regex = re.compile(fnmatch.translate(base))
    return lambda name: regex.match(name) is not None
