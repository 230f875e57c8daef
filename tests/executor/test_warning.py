"""Warned means warned: a target whose warning was not delivered is never logged off, the
wait runs to the latest promise, transient errors are retried within the host's deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fleetlogoff.events import Kind
from fleetlogoff.executor import ApplySettings
from fleetlogoff.lab.contract import CommandRequest, CommandResult
from fleetlogoff.lab.host import SimHost
from fleetlogoff.transport import CommandOutput
from tests.cliutil import is_guarded_message

from .fakes import FakeTime, Fault, Run, assert_warned_before_every_logoff, busy, lab_host, stale

WARN = ApplySettings(warn=timedelta(minutes=5), forks=1)
ACCESS_DENIED = CommandOutput(b"", b"Error [5]:Access is denied.\r\n", 1)


def two_hosts(time: FakeTime) -> list[SimHost]:
    return [
        lab_host("rds-a", time, stale(2, "ann", time), busy(3, "bob", time)),
        lab_host("rds-b", time, stale(2, "cyd", time), stale(4, "dan", time)),
    ]


def test_warned_users_are_logged_off_after_their_own_deadline() -> None:
    time = FakeTime()
    run = Run(two_hosts(time), time, WARN).execute()
    assert set(run.outcomes().values()) == {Kind.LOGGED_OFF}
    assert_warned_before_every_logoff(run)
    assert [m["user"] for m in run.messages("rds-a")] == ["ann"]
    assert "in 5 minutes" in run.messages("rds-a")[0]["text"]
    phases = [e.reason for e in run.of(Kind.PHASE_STARTED)]
    assert phases == ["warning", "waiting", "logging_off", "confirming"]


def test_a_failed_msg_means_no_logoff_and_says_why() -> None:
    time = FakeTime()
    fault = Fault("rds-b", "msg", nth=1, kind=None, output=ACCESS_DENIED)
    run = Run(two_hosts(time), time, WARN, faults=[fault]).execute()
    outcomes = run.outcomes()
    assert outcomes[("rds-b", 2)] == Kind.NOT_WARNED
    assert outcomes[("rds-b", 4)] == Kind.LOGGED_OFF
    not_warned = run.of(Kind.NOT_WARNED)[0]
    assert "Access is denied" in not_warned.reason
    assert not_warned.error is not None and not_warned.error.code == 5
    assert [lo["user"] for lo in run.logoffs("rds-b")] == ["dan"]
    assert_warned_before_every_logoff(run)


@pytest.mark.parametrize("after", [False, True], ids=["before-msg-ran", "answer-lost"])
def test_a_reset_during_the_warning_is_retried(after: bool) -> None:
    time = FakeTime()
    fault = Fault("rds-a", "msg", nth=1, kind="reset", after=after)
    run = Run(two_hosts(time), time, WARN, faults=[fault]).execute()
    assert run.outcomes()[("rds-a", 2)] == Kind.LOGGED_OFF
    assert run.connector.opened["rds-a"] >= 3  # warning twice, then the logoff phase
    # A lost answer may mean two messages; the logoff honours the later promise.
    assert len(run.messages("rds-a")) == (2 if after else 1)
    last_message = run.messages("rds-a")[-1]["time"]
    assert run.logoffs("rds-a")[0]["time"] - last_message >= WARN.warn.total_seconds()


def test_a_host_that_keeps_resetting_gets_no_logoff() -> None:
    time = FakeTime()
    resets = Fault("rds-a", "msg", nth=0, kind="reset")
    run = Run(two_hosts(time), time, WARN, faults=[resets]).execute()
    assert run.outcomes()[("rds-a", 2)] == Kind.NOT_WARNED
    assert run.logoffs("rds-a") == []
    lost = [e for e in run.of(Kind.HOST_UNREACHABLE) if e.host == "rds-a"]
    assert len(lost) == 1 and lost[0].error is not None and lost[0].error.kind == "reset"
    assert run.connector.opened["rds-a"] == WARN.retries + 1  # every attempt, then no more
    assert run.outcomes()[("rds-b", 2)] == Kind.LOGGED_OFF


def test_retries_stop_at_the_hosts_deadline() -> None:
    time = FakeTime()
    settings = ApplySettings(warn=timedelta(minutes=5), forks=1, host_timeout_s=1.2)
    resets = Fault("rds-a", "msg", nth=0, kind="reset")
    run = Run(two_hosts(time), time, settings, faults=[resets]).execute()
    assert run.outcomes()[("rds-a", 2)] == Kind.NOT_WARNED
    assert run.connector.opened["rds-a"] == 3  # 0.5 s pauses: 0, 0.5, 1.0, then past 1.2 s


def test_nobody_warned_means_no_wait_and_no_logoff() -> None:
    time = FakeTime()
    down = [Fault(name, "open", nth=0, kind="unreachable") for name in ("rds-a", "rds-b")]
    start = time.clock()
    run = Run(two_hosts(time), time, WARN, faults=down).execute()
    assert set(run.outcomes().values()) == {Kind.NOT_WARNED}
    assert Kind.WAIT_STARTED not in run.kinds() and Kind.LOGOFF_SENT not in run.kinds()
    assert time.clock() - start < WARN.warn


def test_the_wait_runs_to_the_latest_promise() -> None:
    time = FakeTime()

    def slow_msg() -> None:  # the second host's warning goes out 40 s after the first
        time.advance(40)

    hosts = two_hosts(time)
    run = Run(hosts, time, WARN)
    run.make_plan()
    original = hosts[1].run

    def delayed(request: CommandRequest) -> CommandResult:
        if is_guarded_message(request.command_line, request.stdin):
            slow_msg()
        return original(request)

    hosts[1].run = delayed  # type: ignore[method-assign]  # a slow host, for this test
    run.execute()
    wait = run.of(Kind.WAIT_STARTED)[0]
    promises = [e.data["deadline"] for e in run.of(Kind.WARNED)]
    assert wait.data["deadline"] == max(promises)  # type: ignore[type-var]  # ISO strings
    # The slow host's users read "in 5 minutes" 40 s into the phase: the wait honours that.
    began = next(e.time for e in run.of(Kind.PHASE_STARTED) if e.reason == "warning")
    waited_to = datetime.fromisoformat(str(wait.data["deadline"]))
    assert waited_to - began >= WARN.warn + timedelta(seconds=40)
    assert_warned_before_every_logoff(run)


def test_a_user_who_was_not_warned_stays_even_when_selected_later() -> None:
    """Active at warning time (spared, so not warned), idle again at logoff time: the
    rules would select them now, but nobody told them, so they stay."""
    time = FakeTime()
    hosts = [lab_host("rds-a", time, stale(2, "ann", time), stale(3, "eve", time))]
    run = Run(hosts, time, WARN)
    run.make_plan()
    store = hosts[0].store
    store.touch(3, time.epoch())  # eve moves her mouse before the warning
    run.execute()
    assert run.outcomes()[("rds-a", 3)] == Kind.SPARED
    assert [m["user"] for m in run.messages("rds-a")] == ["ann"]
    assert [lo["user"] for lo in run.logoffs("rds-a")] == ["ann"]


def test_warn_zero_logs_off_without_any_message() -> None:
    time = FakeTime()
    settings = ApplySettings(warn=timedelta(0), forks=1)
    run = Run(two_hosts(time), time, settings).execute()
    assert set(run.outcomes().values()) == {Kind.LOGGED_OFF}
    assert run.messages("rds-a") == [] and run.messages("rds-b") == []
    assert Kind.WAIT_STARTED not in run.kinds()


def test_reminders_reach_warned_users_before_the_deadline() -> None:
    time = FakeTime()
    settings = ApplySettings(warn=timedelta(minutes=5), forks=1, reminders=(timedelta(minutes=1),))
    run = Run(two_hosts(time), time, settings).execute()
    texts = [m["text"] for m in run.messages("rds-a")]
    assert len(texts) == 2 and texts[1].startswith("Reminder:") and "1 minute" in texts[1]
    reminded = run.of(Kind.REMINDED)
    assert len(reminded) == 3 and all(e.data["delivered"] is True for e in reminded)
    assert set(run.outcomes().values()) == {Kind.LOGGED_OFF}
