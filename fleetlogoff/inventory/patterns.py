"""Ansible host patterns for --limit: `all`, `*`, names, globs, `~regex`, groups,
`a,b` / `a:b` unions, `&` intersections, `!` exclusions, `group[0]` / `group[0:2]` slices.

Semantics follow Ansible's InventoryManager: the pattern is split on `,` (or on `:` when it
has no comma), unions are applied first, then intersections, then exclusions; a pattern of
only `&`/`!` parts starts from `all`. Names and globs are case-sensitive, as in Ansible;
`~regex` is matched from the start of the name (re.match). Slices are inclusive at both ends
(Ansible's `_apply_subscript`). Unlike Ansible, which only warns, every part must match
at least one host: a mistyped `!host` would otherwise silently target that host.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence

from fleetlogoff.errors import UsageError

_GLOB_CHARS = ("*", "?", "[", ".")
# `name[3]`, `name[-1]`, `name[0:2]`, `name[1:]` (Ansible also accepts `-` for `:`).
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
# Split on ':' but keep bracketed expressions (`g[0:2]`) whole (Ansible split_host_pattern).
_IPV6 = re.compile(r"[0-9a-fA-F:.]+(%\w+)?")
_COLON_PARTS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


def split_pattern(pattern: str) -> list[str]:
    """Split a host pattern into its parts (`a,&b,!c` or `a:&b:!c`)."""
    if "," in pattern:
        parts = pattern.split(",")
    elif pattern.strip().startswith("~") or _is_single_address(pattern):
        parts = [pattern]
    else:
        parts = _COLON_PARTS.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


def _is_single_address(pattern: str) -> bool:
    # An IPv6 address (fe80::1) is one name, not parts split on ':' (Ansible parse_address).
    return pattern.count(":") >= 2 and _IPV6.fullmatch(pattern.strip()) is not None


def select_names(
    pattern: str | None,
    hosts: Sequence[str],
    groups: Mapping[str, Sequence[str]],
) -> tuple[str, ...]:
    """Evaluate a host pattern.

    Args:
        pattern: the --limit text; None or empty means all hosts.
        hosts: every host name, in inventory order.
        groups: group name → host names (children's hosts included).

    Returns:
        Matching host names in inventory order.

    Raises:
        UsageError: a part of the pattern matches nothing, or a regex/slice is malformed.
    """
    if pattern is None or not pattern.strip():
        return tuple(hosts)
    parts = split_pattern(pattern)
    unions = [p for p in parts if p[0] not in "&!"]
    intersections = [p[1:] for p in parts if p[0] == "&"]
    exclusions = [p[1:] for p in parts if p[0] == "!"]
    if not unions:
        unions = ["all"]
    chosen: set[str] = set()
    for part in unions:
        chosen.update(_match_part(part, hosts, groups))
    for part in intersections:
        chosen.intersection_update(_match_part(part, hosts, groups))
    for part in exclusions:
        chosen.difference_update(_match_part(part, hosts, groups))
    return tuple(h for h in hosts if h in chosen)


def _match_part(part: str, hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> list[str]:
    if not part:
        raise UsageError("host pattern has an empty part after '&' or '!'")
    base, subscript = _split_subscript(part)
    found = _enumerate(base, hosts, groups)
    if subscript is not None:
        found = _apply_subscript(part, found, subscript)
    if not found:
        raise UsageError(f"host pattern {part!r} matches no host or group")
    return found


def _split_subscript(part: str) -> tuple[str, tuple[int, int | None] | None]:
    if part.startswith("~"):
        return part, None
    match = _SUBSCRIPT.match(part)
    if match is None:
        return part, None
    base, index, start, _sep, end = match.groups()
    if index is not None:
        return base, (int(index), int(index))
    return base, (int(start), int(end) if end else None)


def _apply_subscript(part: str, found: list[str], subscript: tuple[int, int | None]) -> list[str]:
    start, end = subscript
    if start == end:
        if not -len(found) <= start < len(found):
            raise UsageError(f"host pattern {part!r}: index {start} is out of range")
        return [found[start]]
    return found[start:] if end is None else found[start : end + 1]


def _enumerate(base: str, hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> list[str]:
    """Hosts named by one pattern part, in inventory order (Ansible _enumerate_matches)."""
    if base in ("all", "*"):
        return list(hosts)
    matcher = _compile(base)
    matched_groups = [g for g in groups if matcher(g)]
    result: set[str] = set()
    for group in matched_groups:
        result.update(groups[group])
    # Ansible also looks at host names when no group matched or the part is a glob/regex.
    if not matched_groups or base.startswith("~") or any(c in base for c in _GLOB_CHARS):
        result.update(h for h in hosts if matcher(h))
    return [h for h in hosts if h in result]


def _compile(base: str) -> Callable[[str], bool]:
    if base.startswith("~"):
        try:
            regex = re.compile(base[1:])
        except re.error as exc:
            raise UsageError(f"host pattern {base!r}: invalid regular expression: {exc}") from None
    else:
        regex = re.compile(fnmatch.translate(base))
    return lambda name: regex.match(name) is not None
