"""The ASCII fast path of the column geometry gives what the character-by-character path
gives, for every ASCII character and for lines made of them."""

from __future__ import annotations

import random

from fleetlogoff.parsers.columns import (
    display_width,
    find_tokens,
    find_tokens_by_char,
    measure_char,
)

ASCII = [chr(code) for code in range(128)]


def test_every_ascii_character_takes_one_column() -> None:
    assert {measure_char(char) for char in ASCII} == {1}
    assert all(display_width(char) == 1 for char in ASCII)


def test_ascii_lines_split_as_character_by_character() -> None:
    rng = random.Random(11)  # fixed: the same lines every run
    pool = [*ASCII, " ", " ", "  ", "\t", "bench.user", "12/1/2026", "rdp-tcp#3"]
    for _ in range(3000):
        line = "".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
        shift = rng.randint(0, 3)
        assert find_tokens(line, shift) == find_tokens_by_char(line, shift), repr(line)
        assert display_width(line) == sum(measure_char(c) for c in line)


def test_wide_text_still_goes_by_character() -> None:
    line = " 管理员  rdp-tcp#0   2  运行中"
    tokens = find_tokens(line)
    assert tokens == find_tokens_by_char(line)
    assert tokens[0].text == "管理员" and tokens[0].end - tokens[0].start == 6
