"""The terminal sink writes exactly what rich writes, whichever path a line takes."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.live import Live
from rich.text import Text

from fleetlogoff.ui.lines import ConsoleSink, Segment, sink_for, style_codes, writes_plainly

STYLES = ["", "bold", "dim", "green", "bold red", "bold yellow", "yellow", "red", "bold green"]
COLOR_SYSTEMS = ["standard", "256", "truecolor", None]

# Mostly what plans hold (ASCII, accents, wide CJK, spaces, an ellipsis), sometimes
# anything at all (control characters and the like, which go through rich).
segment_texts = st.text(alphabet=st.sampled_from(list("ab Z1-…é王伟Д")), max_size=12) | st.text(
    max_size=4
)
segments = st.lists(st.tuples(segment_texts, st.sampled_from(STYLES)) | segment_texts, max_size=6)


def terminal(
    width: int, color_system: str | None, no_color: bool = False
) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(
        file=out,
        force_terminal=True,
        width=width,
        color_system=color_system,  # type: ignore[arg-type]  # rich's Literal of names
        no_color=no_color,
        highlight=False,
        emoji=False,
        markup=False,
    )
    return console, out


def through_rich(console: Console, line: list[Segment | str]) -> None:
    """What ConsoleSink wrote before it had a direct path: every line through rich."""
    text = Text.assemble(*line, no_wrap=True, overflow="ellipsis")
    text.rstrip()
    console.print(text, soft_wrap=False, crop=True)


@settings(max_examples=300)
@given(
    lines=st.lists(segments, min_size=1, max_size=5),
    width=st.integers(min_value=1, max_value=60),
    color_system=st.sampled_from(COLOR_SYSTEMS),
    no_color=st.booleans(),
)
def test_every_line_is_byte_for_byte_richs(
    lines: list[list[Segment | str]], width: int, color_system: str | None, no_color: bool
) -> None:
    ours, ours_out = terminal(width, color_system, no_color)
    richs, richs_out = terminal(width, color_system, no_color)
    sink = ConsoleSink(ours)
    for line in lines:
        sink.line(*line)
        through_rich(richs, line)
    sink.flush()
    assert ours_out.getvalue() == richs_out.getvalue()


def test_a_plain_terminal_takes_the_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """If a rich upgrade renamed what writes_plainly looks at, every line would quietly
    go through rich again (slow, not wrong): this says so."""
    console, out = terminal(80, "truecolor")
    assert writes_plainly(console)

    def no_print(*args: object, **kwargs: object) -> None:
        raise AssertionError("line went through rich's renderer")

    sink = ConsoleSink(console)
    sink.line("  ", ("HOST", "bold"), "  ", ("José", "bold red"))
    monkeypatch.setattr(console, "print", no_print)
    sink.line("  ", ("HOST", "bold"), "  ", ("José", "bold red"))
    sink.flush()
    assert out.getvalue().count("\x1b[1mHOST\x1b[0m  \x1b[1;31mJosé\x1b[0m\n") == 2


def test_a_line_too_wide_or_with_trailing_space_goes_through_rich() -> None:
    console, out = terminal(10, "standard")
    sink = ConsoleSink(console)
    sink.line(("x" * 15, "bold"))
    sink.line(("tail   ", "green"))
    sink.line(("王伟王伟王伟", "bold"))  # 6 characters, 12 cells
    assert out.getvalue() == (
        "\x1b[1mxxxxxxxxxx\x1b[0m\n\x1b[1mxxxxx\x1b[0m\n\x1b[32mtail\x1b[0m\n"
        "\x1b[1m王伟王伟王\x1b[0m\n\x1b[1m伟\x1b[0m\n"
    )


def test_a_live_display_keeps_rich_in_charge_of_the_screen() -> None:
    console, _ = terminal(80, "standard")
    with Live(Text("progress"), console=console, auto_refresh=False):
        assert not writes_plainly(console)
    assert writes_plainly(console)


def test_a_recording_console_goes_through_rich() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, record=True, width=40)
    ConsoleSink(console).line(("kept for export", "bold"))
    assert "kept for export" in console.export_text()


def test_a_console_with_a_base_style_goes_through_rich() -> None:
    ours, ours_out = terminal(40, "standard")
    richs, richs_out = terminal(40, "standard")
    ours.style = richs.style = "red"
    line: list[Segment | str] = ["  ", ("HOST", "bold"), "  plain"]
    ConsoleSink(ours).line(*line)
    through_rich(richs, line)
    assert not writes_plainly(ours)
    assert ours_out.getvalue() == richs_out.getvalue()


def test_a_style_whose_probe_does_not_come_back_once_goes_through_rich() -> None:
    """A hyperlink style may carry the probe's letter in its escape codes: no guessing."""
    console, out = terminal(80, "truecolor")
    assert style_codes(console, "link https://X.example") is None
    assert style_codes(console, "bold") == ("\x1b[1m", "\x1b[0m")
    richs, richs_out = terminal(80, "truecolor")
    line: list[Segment | str] = [("site", "link https://X.example"), " ", ("ok", "bold")]
    ConsoleSink(console).line(*line)
    through_rich(richs, line)
    assert _without_link_ids(out.getvalue()) == _without_link_ids(richs_out.getvalue())


def _without_link_ids(text: str) -> str:
    """rich numbers each hyperlink it writes: the same line twice differs in the id only."""
    return re.sub(r"id=[0-9]+;", "id=;", text)


class CountingStream(io.StringIO):
    """A terminal's stream that counts the writes of text reaching it (rich also writes
    an empty string after capturing a style's probe)."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += bool(text)
        return super().write(text)


def test_direct_lines_reach_the_terminal_in_one_write_after_the_held_ones() -> None:
    out = CountingStream()
    console = Console(file=out, force_terminal=True, width=40, color_system="standard")
    with sink_for(console) as sink:
        for number in range(500):
            sink.line(("row", "bold"), f" {number}")
        assert out.writes == 0
        sink.line(("x" * 50, "bold"))  # too wide: rich's, after the 500 held lines
        sink.line("last")
    lines = out.getvalue().splitlines()
    assert len(lines) == 503 and lines[499] == "\x1b[1mrow\x1b[0m 499"
    assert lines[500:] == [
        "\x1b[1m" + "x" * 40 + "\x1b[0m",
        "\x1b[1m" + "x" * 10 + "\x1b[0m",
        "last",
    ]
    assert out.writes <= 4


def test_held_lines_are_written_when_a_view_fails_midway() -> None:
    console, out = terminal(40, "standard")
    with pytest.raises(RuntimeError), sink_for(console) as sink:
        sink.line("shown before the failure")
        raise RuntimeError("a bug in a view")
    assert out.getvalue() == "shown before the failure\n"
