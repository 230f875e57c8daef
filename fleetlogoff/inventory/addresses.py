"""Host names as an inventory writes them: `name:port`, `[ipv6]:port`, and ranges such as
`rds[01:20]`, `db-[a:f]`, `web[1:9:2]`, read with the rules of Ansible's parse_address and
expand_hostname_range (ansible-core 2.19, lib/ansible/parsing/utils/addresses.py and
lib/ansible/plugins/inventory/__init__.py).

Two deliberate differences, both errors where Ansible is silent: a numeric range that counts
backwards (`rds[9:1]`), which Ansible expands to no host at all, and a range larger than
MAX_RANGE_HOSTS, which Ansible would expand until memory runs out.
"""

from __future__ import annotations

import re
import string

# One pattern (`rds[0:9999999]`) may name at most this many hosts. The largest RDS farms
# run to a few thousand hosts; 65,536 leaves room for any real inventory and keeps a typo
# from expanding for minutes.
MAX_RANGE_HOSTS = 65_536

# A range inside a host name: numeric `[01:20]`, alphabetic `[a:f]` (one letter each end),
# optionally with a `:step`. Inside an IPv6 address, hexadecimal bounds are allowed too.
_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_HEX_RANGE = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_RANGE})(?:[\w-]|{_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.IGNORECASE)
_OCTET = r"(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|\[[0-9]+:[0-9]+(?::[0-9]+)?\])"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
_HEXTET = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
_IPV6 = re.compile(
    "|".join(
        (
            rf"(?:{_HEXTET}:){{7}}{_HEXTET}",
            rf"(?:{_HEXTET}:){{1,6}}:",
            *(rf"(?:{_HEXTET}:){{{n}}}(?::{_HEXTET}){{1,{7 - n}}}" for n in range(1, 7)),
            rf":(?::{_HEXTET}){{1,6}}",
            rf"{_HEXTET}?::",
            rf"(?:0:){{6}}(?:{_HEXTET}\.){{3}}{_HEXTET}",
            rf"::(?:ffff:)?(?:{_HEXTET}\.){{3}}{_HEXTET}",
            rf"(?:0:){{5}}ffff:(?:{_HEXTET}\.){{3}}{_HEXTET}",
        )
    ),
    re.IGNORECASE,
)
# `[anything]:port`, then `host:port` where the host has no colon outside brackets.
_BRACKETED_PORT = re.compile(r"\[(.+)\]:([0-9]+)")
_HOST_PORT = re.compile(r"((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)")


def parse_address(text: str) -> tuple[str, int | None]:
    """Split `host:port`, `[v6addr]:port` or `[name]:port` into host and port.

    Ansible's parse_address with ranges allowed: the host must then be an IPv4 or IPv6
    address or a host name (ranges allowed in any of them).

    Raises:
        ValueError: the text is not a host name, address or range with an optional port.
    """
    host, port = text, None
    # Ansible tries both forms in turn: `[h]:1` becomes `h`, which may not match again.
    for form in (_BRACKETED_PORT, _HOST_PORT):
        match = form.fullmatch(host)
        if match is not None:
            host, port = match.group(1), int(match.group(2))
    if not any(shape.fullmatch(host) for shape in (_IPV4, _IPV6, _HOSTNAME)):
        raise ValueError(f"not a host name or address: {text!r}")
    return host, port


def host_and_port(text: str) -> tuple[str, int | None]:
    """The name part and port of an inventory host key, as Ansible's inventory plugins read
    it: when the text is no valid address, all of it is the name (and no port)."""
    try:
        return parse_address(text)
    except ValueError:
        return text, None


def expand_host_range(pattern: str) -> list[str]:
    """Every host name a pattern with ranges names, in order: `rds[01:03]` → rds01..rds03.

    Several ranges multiply (`r[1:2]-[a:b]` → r1-a, r1-b, r2-a, r2-b). The work is linear in
    the number of names produced, and that number is bounded by MAX_RANGE_HOSTS.

    Raises:
        ValueError: a malformed range (Ansible's rules: begin:end or begin:end:step,
            zero-padded bounds of equal width, single letters for alphabetic ranges), a
            range counting backwards, or more than MAX_RANGE_HOSTS names.
    """
    pieces: list[list[str]] = []
    rest = pattern
    total = 1
    while "[" in rest:
        head, spec, rest = _split_first_range(rest)
        items = _range_items(spec)
        total *= len(items)
        if total > MAX_RANGE_HOSTS:
            raise ValueError(
                f"it names more than {MAX_RANGE_HOSTS:,} hosts; fleetlogoff reads at most "
                f"{MAX_RANGE_HOSTS:,} from one pattern"
            )
        pieces.append([head])
        pieces.append(items)
    pieces.append([rest])
    names = [""]
    for choices in pieces:
        names = [name + choice for name in names for choice in choices]
    return names


def _split_first_range(text: str) -> tuple[str, str, str]:
    """`head[spec]tail` split at the first `[` and the first `]` (Ansible's rule)."""
    head, _, after = text.partition("[")
    spec, bracket, tail = after.partition("]")
    if not bracket or "|" in text:
        raise ValueError("a range needs [begin:end] with its closing bracket")
    return head, spec, tail


def _range_items(spec: str) -> list[str]:
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError("a range is [begin:end] or [begin:end:step]")
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise ValueError("the range has no end")
    if not _is_number(step_text) or int(step_text) == 0:
        raise ValueError("the step must be a whole number above 0")
    step = int(step_text)
    letters = string.ascii_letters
    if len(begin) == 1 and len(end) == 1 and begin in letters and end in letters:
        first, last = letters.index(begin), letters.index(end)
        if first > last:
            raise ValueError("the begin must not be after the end")
        return list(letters[first : last + 1 : step])
    if not (_is_number(begin) and _is_number(end)):
        raise ValueError("the bounds must be two numbers or two single letters")
    if len(begin) > 1 and begin.startswith("0") and len(begin) != len(end):
        raise ValueError("zero-padded bounds must have the same width")
    low, high = int(begin), int(end)
    if low > high:
        raise ValueError(
            f"it counts backwards; Ansible would expand it to no host at all "
            f"(write [{end}:{begin}])"
        )
    count = (high - low) // step + 1
    if count > MAX_RANGE_HOSTS:
        raise ValueError(
            f"it names {count:,} hosts; fleetlogoff reads at most {MAX_RANGE_HOSTS:,} "
            "from one pattern"
        )
    width = len(begin) if len(begin) > 1 and begin.startswith("0") else 0
    return [str(number).zfill(width) for number in range(low, high + 1, step)]


def _is_number(text: str) -> bool:
    # ASCII digits only: str.isdigit() also accepts '²' and other digits int() refuses.
    return text.isascii() and text.isdigit() and len(text) <= 18
