"""Plain, fast lines for large outputs: aligned columns without rich's table engine, and one
sink that writes them as bare text (files, pipes, logs) or styled (a terminal).

Rendering a plan of 1,000 hosts through rich tables cost more CPU than reading the fleet
(issue 10/11: 55% of the process); these lines cost a few milliseconds. Nothing here wraps:
without a terminal a line is as long as its content; on a terminal the caller gives a
width and the widest shrinkable columns are cut with an ellipsis instead of folded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Literal, Protocol

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.text import Text

Segment = tuple[str, str]  # text, rich style ("" for none)
Cell = str | Segment
ELLIPSIS = "…"
GAP = "  "


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a `Grid`.

    Attributes:
        title: header text.
        align: left or right (numbers).
        shrink: 0 never shrinks; higher numbers shrink first when a terminal is too narrow.
        minimum: the narrowest a shrinking column gets.
    """

    title: str
    align: Literal["left", "right"] = "left"
    shrink: int = 0
    minimum: int = 6


def _text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]


def _style(cell: Cell) -> str:
    return "" if isinstance(cell, str) else cell[1]


def text_width(text: str) -> int:
    """Cells `text` takes on a terminal: rich's cell_len, without its call for the common
    case of printable ASCII (one cell a character)."""
    return len(text) if text.isascii() and text.isprintable() else cell_len(text)


def column_widths(
    columns: Sequence[Column], sizes: Sequence[Sequence[int]], indent: int, width: int | None
) -> list[int]:
    """Each column as wide as its widest cell (`sizes`: each cell's width, row by row);
    narrowed to fit `width` when one is given."""
    widths = [text_width(c.title) for c in columns]
    for row in sizes:
        for index, size in enumerate(row):
            if size > widths[index]:
                widths[index] = size
    if width is None:
        return widths
    excess = indent + sum(widths) + len(GAP) * (len(columns) - 1) - width
    for index in sorted(
        (i for i, c in enumerate(columns) if c.shrink), key=lambda i: -columns[i].shrink
    ):
        if excess <= 0:
            break
        floor = max(columns[index].minimum, text_width(columns[index].title))
        cut = min(excess, max(0, widths[index] - floor))
        widths[index] -= cut
        excess -= cut
    return widths


def _fit(text: str, size: int, width: int, align: str) -> str:
    """`text` (`size` cells wide) padded or cut to `width` cells."""
    if size > width:
        return set_cell_size(text, max(0, width - 1)) + ELLIPSIS if width else ""
    pad = " " * (width - size)
    return pad + text if align == "right" else text + pad


def grid_lines(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    indent: int = 2,
    width: int | None = None,
    header_style: str = "bold",
) -> list[list[Segment]]:
    """A header and one line per row, columns aligned, no trailing spaces."""
    header: list[Cell] = [(c.title, header_style) for c in columns]
    texts = [[_text(cell) for cell in row] for row in [header, *rows]]
    sizes = [[text_width(text) for text in row] for row in texts]  # measured once
    widths = column_widths(columns, sizes[1:], indent, width)
    aligns = [c.align for c in columns]
    return [
        _line(row, texts[i], sizes[i], aligns, widths, indent)
        for i, row in enumerate([header, *rows])
    ]


def _line(
    row: Sequence[Cell],
    texts: Sequence[str],
    sizes: Sequence[int],
    aligns: Sequence[str],
    widths: Sequence[int],
    indent: int,
) -> list[Segment]:
    segments: list[Segment] = [(" " * indent, "")] if indent else []
    last = len(row) - 1
    for index, cell in enumerate(row):
        text = _fit(texts[index], sizes[index], widths[index], aligns[index])
        if index == last:
            text = text.rstrip()
        segments.append((text, _style(cell)))
        if index != last:
            segments.append((GAP, ""))
    return segments


class Sink(Protocol):
    """Where lines go."""

    width: int | None  # None: no limit (not a terminal)

    def line(self, *segments: Segment | str) -> None:
        """Write one line made of segments."""
        ...

    def flush(self) -> None:
        """Write out the lines held back (the views call it when they end)."""
        ...


class PlainSink:
    """Bare text: no styles, no wrapping, no trailing spaces."""

    width: int | None = None

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def line(self, *segments: Segment | str) -> None:
        text = "".join([s if isinstance(s, str) else s[0] for s in segments])
        self._stream.write(text.rstrip() + "\n")

    def flush(self) -> None:
        """Nothing held back: the stream buffers (a file or a pipe, not a terminal)."""


class ConsoleSink:
    """Styled lines on a rich console. The grids are fitted to its width; a line still
    wider (a table too wide at its narrowest, a long summary) is rich's to fold.

    A line that fits is written straight to the console's file, each style's escape
    codes taken once from rich itself (a probe printed through it), so the bytes are
    rich's own: going through rich's renderer costs about 0.13 ms a line, a third of a
    second for a 2,600-line plan on a terminal, after the fleet was read (benchmarks/
    README.md, wave 5). Anything else goes through rich: a line wider than the console,
    trailing spaces (rich strips them), a character that is not printable, a console
    that records or has a live display above which rich must print.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self.width: int | None = console.width
        self._codes: dict[str, tuple[str, str] | None] = {}
        # Direct lines wait here and go out together: a terminal's stream is line
        # buffered, so a write per line would be a system call per line (a 2,600-line
        # plan on a pseudo-terminal: about 6 ms of system time, measured).
        self._held: list[str] = []
        self._held_chars = 0

    def line(self, *segments: Segment | str) -> None:
        text = self._direct_line(segments) if writes_plainly(self._console) else None
        if text is not None:
            self._held.append(text)
            self._held_chars += len(text)
            if self._held_chars >= _HOLD_CHARS:
                self.flush()
            return
        self.flush()  # rich's line comes after the held ones
        assembled = Text.assemble(*segments, no_wrap=True, overflow="ellipsis")
        assembled.rstrip()
        self._console.print(assembled, soft_wrap=False, crop=True)

    def flush(self) -> None:
        if self._held:
            text = "".join(self._held)
            self._held.clear()
            self._held_chars = 0
            self._console.file.write(text)
            self._console.file.flush()

    def _direct_line(self, segments: Sequence[Segment | str]) -> str | None:
        """The line as rich would write it, or None when rich must write it."""
        parts: list[str] = []
        plain: list[str] = []
        for segment in segments:
            text, style = (segment, "") if isinstance(segment, str) else segment
            if not text:
                continue
            plain.append(text)
            if style:
                codes = self._codes_for(style)
                if codes is None:
                    return None
                parts.append(f"{codes[0]}{text}{codes[1]}")
            else:
                parts.append(text)
        whole = "".join(plain)  # measured once: a plan line has about fifteen segments
        if not whole.isprintable() or whole[-1:].isspace():
            return None
        # The width the lines were fitted to, taken once: rich would ask the terminal again
        # for every line (about 5 us each), and a resize in the instant a plan prints
        # only wraps a line on screen.
        if self.width is not None and text_width(whole) > self.width:
            return None
        parts.append("\n")
        return "".join(parts)

    def _codes_for(self, style: str) -> tuple[str, str] | None:
        if style not in self._codes:
            self._codes[style] = style_codes(self._console, style)
        return self._codes[style]


_HOLD_CHARS = 64 * 1024  # written out at least this often, whatever the view's length
_PROBE = "X"  # not a character of the SGR sequences rich writes for a style


def style_codes(console: Console, style: str) -> tuple[str, str] | None:
    """What rich writes before and after a text in `style` on this console (nothing
    without colours, SGR codes on a terminal), learnt by capturing a printed probe; None
    when the probe does not come back exactly once (then rich writes those lines)."""
    with console.capture() as capture:
        console.print(Text(_PROBE, style=style), end="", soft_wrap=True)
    written = capture.get()
    if written.count(_PROBE) != 1:
        return None
    before, _, after = written.partition(_PROBE)
    return before, after


def writes_plainly(console: Console) -> bool:
    """Whether lines may bypass rich's renderer on this console: not recording, no
    legacy Windows console calls, no base style (rich would add it to every segment),
    no live display or other render hook, and not inside a `with console:` buffer (rich
    would write its buffer after ours)."""
    hooks = getattr(console, "_render_hooks", None)
    buffered = getattr(console, "_buffer_index", None)
    return (
        not console.record
        and console.style is None
        and not console.legacy_windows
        and not console.is_jupyter
        and hooks == []
        and buffered == 0
    )


@contextmanager
def sink_for(console: Console, sink: Sink | None = None) -> Iterator[Sink]:
    """`sink`, else the console's (_make_sink); what it holds back is written out when the
    block ends, whatever ends it."""
    out = sink if sink is not None else _make_sink(console)
    try:
        yield out
    finally:
        out.flush()


def _make_sink(console: Console) -> Sink:
    """Styled lines on a terminal, bare text (straight to its stream) everywhere else."""
    return ConsoleSink(console) if console.is_terminal else PlainSink(console.file)
