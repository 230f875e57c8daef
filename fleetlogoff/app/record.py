"""Where a run's events go: the audit log first (a fact is on disk before it is shown), then
the recap and the live view. And the stop request that signals and a failed audit log share.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

from fleetlogoff.audit import AuditError, AuditLog
from fleetlogoff.events import PRE_RECORDS, Event
from fleetlogoff.recap import Recap

log = logging.getLogger(__name__)
T = TypeVar("T")


class StopRequest:
    """Asks a run to stop: no new act starts, acts in flight finish, warned users are told.

    Called from a signal handler (Ctrl-C, SIGTERM, SIGHUP). Before anything is acted on
    (while apply plans, and at its y/N prompt) the request also interrupts what the main
    thread is doing: the run ends at once instead of finishing work that would be thrown
    away.
    """

    def __init__(self, event: threading.Event | None = None) -> None:
        self.event = event if event is not None else threading.Event()
        self._interruptible = False

    def __call__(self, *_signal: object) -> None:
        self.event.set()
        if self._interruptible:
            raise KeyboardInterrupt  # raised in the main thread, where handlers run

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """While inside, a stop request raises KeyboardInterrupt (nothing is acted on)."""
        if self.event.is_set():
            raise KeyboardInterrupt
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False


@contextmanager
def on_screen(display: AbstractContextManager[T]) -> Iterator[T]:
    """Run inside a live display; a terminal that is gone when the display closes (SIGHUP
    after a dropped SSH session) is not an error of the run."""
    shown = display.__enter__()
    try:
        yield shown
    finally:
        try:
            display.__exit__(None, None, None)
        except OSError:
            log.debug("the screen is gone; the display is not closed on it", exc_info=True)


class RunRecord:
    """The event sink of one run (thread-safe).

    When the audit log cannot take a line, the run is asked to stop and nothing more is
    acted on: a pre-record (logoff_sent) that cannot be written raises, so its act does not
    happen; other events still reach the recap and the screen, so the operator sees what
    was done. A screen that goes away (a dropped SSH session closes the terminal) stops
    being drawn on; nothing else changes.
    """

    def __init__(
        self, audit: AuditLog, recap: Recap, show: Callable[[Event], None], stop: threading.Event
    ) -> None:
        self._audit = audit
        self._recap = recap
        self._show = show
        self._stop = stop
        self._lock = threading.Lock()
        self.failure: AuditError | None = None
        self._screen_ok = True

    def emit(self, event: Event) -> None:
        """Record one event.

        Raises:
            AuditError: for a pre-record, once the audit log has failed.
        """
        self.emit_many([event])

    def emit_many(self, events: Sequence[Event]) -> None:
        """Record events together: their audit lines with one write and one fsync, then
        the recap and the screen.

        Raises:
            AuditError: when a pre-record is among them and they could not be written.
        """
        written = False
        if self.failure is None:
            try:
                self._audit.write_many(events)
                written = True
            except AuditError as exc:
                with self._lock:
                    self.failure = self.failure or exc
                self._stop.set()
        refused = False
        for event in events:
            if not written and event.kind in PRE_RECORDS:
                refused = True  # no record, no act: it did not happen, so it is not shown
                continue
            self._recap.add(event)
            self._draw(self._show, event)
        if refused and self.failure is not None:
            raise AuditError(self.failure.path, self.failure.reason)

    def countdown(self, show: Callable[[float], None]) -> Callable[[float], None]:
        """`show` for the countdown, drawn while the screen is there."""
        return lambda remaining_s: self._draw(show, remaining_s)

    def _draw(self, show: Callable[[T], None], value: T) -> None:
        if not self._screen_ok:
            return
        try:
            show(value)
        except OSError:  # the terminal went away (SIGHUP): the run goes on, recorded
            self._screen_ok = False
            log.debug("the screen is gone; the audit log goes on", exc_info=True)
