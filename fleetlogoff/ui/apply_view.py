"""apply on screen. On a terminal: one live display (the phase, a bar per phase with counts
by outcome and an ETA, the countdown to the logoff with the next reminder), problems
printed above it as they happen. Without one: plain, unwrapped lines for logs (phases,
progress every tenth, the countdown every minute, problems). Per-session lines only at -v.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from fleetlogoff.durations import format_duration
from fleetlogoff.events import Event
from fleetlogoff.ui.apply_tally import (
    OUTCOME_KINDS,
    PHASE_TITLES,
    PROBLEM_KINDS,
    ApplyTally,
    PhaseProgress,
    event_detail,
)
from fleetlogoff.ui.progress import BAR_WIDTH, bar_text
from fleetlogoff.visible import visible

Clock = Callable[[], datetime]

_STYLE = {
    "warned": "cyan",
    "logged_off": "green",
    "spared": "blue",
    "skipped": "yellow",
    "stuck": "bold red",
    "failed": "bold red",
    "not_warned": "red",
    "not_attempted": "yellow",
    "warn_failed": "red",
    "host_unreachable": "red",
    "internal_error": "bold red",
    "host_skipped": "yellow",
    "cancel_notice": "cyan",
    "reminded": "cyan",
}
# Bookkeeping a person does not need to read, even at -v (the audit log has it all).
_SILENT_KINDS = frozenset(
    {"host_started", "host_done", "run_started", "run_ended", "logoff_sent", "phase_started"}
)
_PLAIN_COUNTDOWN_STEP_S = 60
_PLAIN_PROGRESS_STEPS = 10  # a progress line every tenth of a phase...
_PLAIN_PROGRESS_MIN_S = 5.0  # ...at most every 5 s of the run (and always at its end)
_BAR_PHASES = ("warning", "logging_off", "cancelling")
_BAR_LABELS = {"warning": "Warning", "logging_off": "Logoff", "cancelling": "Cancel"}
_PHASE_COUNTS = {
    "warning": ("warned", "warn_failed", "not_warned", "skipped", "spared"),
    "logging_off": OUTCOME_KINDS,
    "cancelling": ("cancel_notice",),
}


def event_line(event: Event) -> Text:
    """One event as one line; host texts made visible, never read as markup."""
    who = ""
    if event.session_id is not None:
        user = f" ({visible(event.username)})" if event.username else ""
        who = f" session {event.session_id}{user}"
    host = visible(event.host) if event.host else "run"
    line = Text(f"{host}{who}: ")
    kind = event.kind.value
    line.append(kind.replace("_", " "), style=_STYLE.get(kind, ""))
    detail = event_detail(event)
    if detail:
        line.append(f": {visible(detail)}")
    return line


def clock_text(moment: datetime) -> str:
    """A moment on this machine's clock: 14:05:12."""
    return moment.astimezone().strftime("%H:%M:%S")


def span_text(seconds: float) -> str:
    return format_duration(int(seconds)) if seconds >= 1 else "0s"


class ApplyView:
    """Thread-safe sink for events: a live display on a terminal, plain lines otherwise.

    Args:
        console: where to draw.
        targets: the session ids planned on each host acted on.
        clock: now, for the countdown and ETAs.
        verbose: 1 and more prints a line per session.
        quiet: problems only, no progress.
        reminders: how long before the deadline users are reminded.
    """

    def __init__(
        self,
        console: Console,
        targets: Mapping[str, Sequence[int]],
        *,
        clock: Clock,
        verbose: int = 0,
        quiet: bool = False,
        reminders: Sequence[timedelta] = (),
    ) -> None:
        self.tally = ApplyTally(targets)
        self._console = console
        self._clock = clock
        self._verbose = verbose
        self._quiet = quiet
        self._reminders = sorted(reminders, reverse=True)
        self._live_enabled = console.is_terminal and not quiet
        self._live: Live | None = None
        self._lock = threading.Lock()
        self._printed_steps: dict[str, tuple[int, datetime]] = {}  # phase: tenth, when
        self._printed_done: dict[str, int] = {}  # phase: the count its last line showed
        self._last_countdown: float | None = None
        self._last_reminded = 0
        self._phase_shown: str | None = None

    def __enter__(self) -> ApplyView:
        if self._live_enabled:
            self._live = Live(
                get_renderable=self.render_live,
                console=self._console,
                refresh_per_second=4,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if not self._quiet:
            with self._lock:
                self._phase_done(self._phase_shown)

    # -- events -------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        started = self.tally.add(event)
        kind = event.kind.value
        with self._lock:
            if started is not None and not self._quiet:
                self._phase_change(started)
            if kind in PROBLEM_KINDS or (self._verbose and kind not in _SILENT_KINDS):
                self._print(event_line(event))
            if not self._live_enabled and not self._quiet:
                self._plain_progress(event.time)

    def countdown(self, remaining_s: float) -> None:
        """Called about once a second during the shared wait. The time shown is to the
        logoff (the deadline every warned user was promised), not to the next reminder."""
        with self.tally.lock:
            deadline = self.tally.deadline
        if deadline is not None:
            remaining_s = max(0.0, (deadline - self._clock()).total_seconds())
        with self._lock:
            if self._live_enabled or self._quiet:
                return
            due = self._last_countdown is None or (
                self._last_countdown - remaining_s >= _PLAIN_COUNTDOWN_STEP_S
            )
            if due or (remaining_s <= 0 and self._last_countdown != 0):
                self._last_countdown = remaining_s
                self._print(Text(self.countdown_text(remaining_s)))
            self._plain_reminders()

    def countdown_text(self, remaining_s: float) -> str:
        with self.tally.lock:
            deadline = self.tally.deadline
        text = f"Logoff in {span_text(remaining_s)}"
        if deadline is not None:
            text += f", at {clock_text(deadline)}"
        upcoming = [r for r in self._reminders if r.total_seconds() < remaining_s]
        if upcoming and deadline is not None:
            text += f"; next reminder at {clock_text(deadline - upcoming[0])}"
        return text

    def _phase_change(self, started: str) -> None:
        """On a terminal the live display names the phase, and the one that ended leaves
        its last count above it; in a log each phase starts with its title."""
        self._phase_done(self._phase_shown)
        if not self._live_enabled:
            self._print(Text(PHASE_TITLES.get(started, started), style="bold"))
        self._phase_shown = started

    def _phase_done(self, phase: str | None) -> None:
        """The last count of a phase that ended, unless a log already has that line."""
        with self.tally.lock:
            progress = self.tally.phases.get(phase or "")
            if progress is None or phase not in _BAR_PHASES:
                return
            if self._printed_done.get(phase) == progress.done:
                return
            self._printed_done[phase] = progress.done
            line = self.progress_text(progress)
        self._print(Text(line))

    def _print(self, text: Text) -> None:
        self._console.print(text, soft_wrap=not self._console.is_terminal)

    # -- plain lines --------------------------------------------------------------------

    def _plain_progress(self, now: datetime) -> None:
        """A line each tenth of a phase, at most every few seconds, and at its end."""
        with self.tally.lock:
            phase = self.tally.phase
            progress = self.tally.phases.get(phase or "")
            if progress is None or phase not in _BAR_PHASES or progress.total == 0:
                return
            step = progress.done * _PLAIN_PROGRESS_STEPS // progress.total
            last_step, last_time = self._printed_steps.get(phase, (0, progress.started))
            finished = progress.done >= progress.total
            recent = (now - last_time).total_seconds() < _PLAIN_PROGRESS_MIN_S
            if step <= last_step or (recent and not finished):
                return
            self._printed_steps[phase] = (step, now)
            self._printed_done[phase] = progress.done
            line = self.progress_text(progress)
        self._print(Text(line))

    def _plain_reminders(self) -> None:
        with self.tally.lock:
            reminded = self.tally.counts["reminded"]
        if reminded > self._last_reminded:
            self._print(Text(f"Reminded {reminded} user(s)"))
            self._last_reminded = reminded

    def progress_text(self, progress: PhaseProgress) -> str:
        """ "Logging off: 1200/2174 sessions (55%): 1190 logged off, 3 stuck; ETA 8s"."""
        counts = self.counts_text(progress.name)
        percent = 100 * progress.done // max(1, progress.total)
        text = f"{PHASE_TITLES.get(progress.name, progress.name)}: "
        text += f"{progress.done}/{progress.total} sessions ({percent}%)"
        if counts:
            text += f": {counts}"
        eta = self.eta(progress)
        if eta is not None and eta >= 1:
            text += f"; ETA {span_text(eta)}"
        return text

    def counts_text(self, phase: str) -> str:
        with self.tally.lock:
            counts = [(k, self.tally.counts[k]) for k in _PHASE_COUNTS.get(phase, ())]
            lost = self.tally.lost_hosts
        parts = [f"{n} {k.replace('_', ' ')}" for k, n in counts if n]
        if lost and phase != "cancelling":
            parts.append(f"{lost} host(s) lost")
        return ", ".join(parts)

    def eta(self, progress: PhaseProgress) -> float | None:
        """Time left at the pace so far; None before the first settled target."""
        if not progress.done or progress.done >= progress.total:
            return None
        elapsed = (self._clock() - progress.started).total_seconds()
        if elapsed <= 0:
            return None
        return (progress.total - progress.done) * elapsed / progress.done

    # -- the live display ---------------------------------------------------------------

    def render_live(self) -> RenderableType:
        """The phase, then a bar per phase begun, and the wait's bar while waiting."""
        with self.tally.lock:
            phase = self.tally.phase
            phases = [self.tally.phases[p] for p in _BAR_PHASES if p in self.tally.phases]
        bars = Table.grid(padding=(0, 1))
        bars.add_column(no_wrap=True)
        bars.add_column(width=BAR_WIDTH, no_wrap=True)
        bars.add_column(no_wrap=True, overflow="ellipsis")
        for progress in phases:
            bars.add_row(*self._phase_row(progress))
            if progress.name == "warning" and phase == "waiting":
                bars.add_row(*self._wait_row())
        title = PHASE_TITLES.get(phase or "", phase or "Starting")
        return Group(Text(title, style="bold"), bars)

    def _phase_row(self, progress: PhaseProgress) -> tuple[str, Text, str]:
        bar = bar_text(progress.done, progress.total)
        detail = f"{progress.done}/{progress.total}"
        counts = self.counts_text(progress.name)
        if counts:
            detail += f"  {counts}"
        eta = self.eta(progress)
        if eta is not None and eta >= 1:
            detail += f"  ETA {span_text(eta)}"
        return _BAR_LABELS.get(progress.name, progress.name), bar, detail

    def _wait_row(self) -> tuple[str, Text, str]:
        """The shared wait as a bar filling up to the logoff, the countdown beside it."""
        with self.tally.lock:
            deadline, started = self.tally.deadline, self.tally.wait_started
            reminded = self.tally.counts["reminded"]
        now = self._clock()
        if deadline is None or started is None:
            return "Wait", bar_text(0, 1), "until every warning's deadline"
        total = max(1.0, (deadline - started).total_seconds())
        left = max(0.0, (deadline - now).total_seconds())
        bar = bar_text(total - left, total)
        detail = self.countdown_text(left) + (f"  ({reminded} reminded)" if reminded else "")
        return "Wait", bar, detail
