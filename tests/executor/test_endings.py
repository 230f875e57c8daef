"""Every way a run can end: each target's outcome is reported exactly once, and every warned
user whose logoff was never sent is told it is cancelled (and nobody else is)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from fleetlogoff.events import Event, Kind, RecordError
from fleetlogoff.executor import ApplySettings
from fleetlogoff.lab.commands import LogoffBehaviour
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.sessions import Session as LabSession
from fleetlogoff.transport import CommandOutput

from .fakes import FakeTime, Fault, Run, assert_warned_before_every_logoff, busy, lab_host, stale

WARN = ApplySettings(warn=timedelta(minutes=5), forks=1, confirm_pause_s=1.0)


def fleet(time: FakeTime, count: int = 3, **kwargs: object) -> list[SimHost]:
    return [
        lab_host(f"rds-{i}", time, stale(2, f"u{i}a", time), stale(3, f"u{i}b", time), **kwargs)
        for i in range(count)
    ]


def cancelled_users(run: Run) -> set[str]:
    return {
        m["user"]
        for name in run.connector.hosts
        for m in run.messages(name)
        if "cancelled" in m["text"]
    }


def logged_off_users(run: Run) -> set[str]:
    return {lo["user"] for name in run.connector.hosts for lo in run.logoffs(name)}


def test_stop_during_the_warnings() -> None:
    time = FakeTime()
    run = Run(fleet(time), time, WARN, stop_when=lambda r: len(r.of(Kind.WARNED)) >= 3)
    run.execute()
    outcomes = run.outcomes()
    assert logged_off_users(run) == set()
    assert cancelled_users(run) == {e.username for e in run.of(Kind.WARNED)}
    assert sum(1 for k in outcomes.values() if k == Kind.NOT_ATTEMPTED) == 6
    assert [e.reason for e in run.of(Kind.INTERRUPTED)] == [
        "during the warnings: nothing logged off"
    ]


def test_stop_during_the_wait() -> None:
    time = FakeTime()
    run = Run(fleet(time), time, WARN, stop_when=lambda r: Kind.WAIT_STARTED in r.kinds())
    run.execute()
    assert logged_off_users(run) == set()
    assert cancelled_users(run) == {f"u{i}{s}" for i in range(3) for s in "ab"}
    assert set(run.outcomes().values()) == {Kind.NOT_ATTEMPTED}
    assert all(e.data["delivered"] for e in run.of(Kind.CANCEL_NOTICE))


def test_stop_during_the_logoffs_tells_those_not_reached() -> None:
    time = FakeTime()
    run = Run(fleet(time), time, WARN, stop_when=lambda r: len(r.of(Kind.LOGGED_OFF)) >= 2)
    run.execute()
    done = logged_off_users(run)
    assert done == {"u0a", "u0b"}
    assert cancelled_users(run) == {f"u{i}{s}" for i in (1, 2) for s in "ab"}
    skipped = {e.host for e in run.of(Kind.HOST_SKIPPED)}
    assert skipped == {"rds-1", "rds-2"}
    outcomes = run.outcomes()
    assert [outcomes[("rds-0", i)] for i in (2, 3)] == [Kind.LOGGED_OFF] * 2
    assert_warned_before_every_logoff(run)


def test_the_failure_limit_stops_batches_and_tells_their_users() -> None:
    time = FakeTime()
    hosts = [
        lab_host("rds-bad", time, stale(2, "x", time), logoff=LogoffBehaviour(error_code=5)),
        *fleet(time, 2),
    ]
    settings = ApplySettings(
        warn=timedelta(minutes=5), forks=1, batch_size=1, max_fail_percentage=0
    )
    run = Run(hosts, time, settings).execute()
    outcomes = run.outcomes()
    assert outcomes[("rds-bad", 2)] == Kind.FAILED
    assert {outcomes[(f"rds-{i}", s)] for i in (0, 1) for s in (2, 3)} == {Kind.NOT_ATTEMPTED}
    assert all("failure limit" in e.reason for e in run.of(Kind.HOST_SKIPPED))
    # The failed logoff was sent: its user is not told it is cancelled (it may still end).
    assert cancelled_users(run) == {f"u{i}{s}" for i in (0, 1) for s in "ab"}


def test_a_window_that_closes_during_the_wait() -> None:
    """09:00, a window to 09:11 fits the 5 min warning and 5 min margin; but the warnings
    take 3 minutes, so at the deadline (09:08) the window no longer has 5 minutes left."""
    time = FakeTime()
    window = ", fleetlogoff_window: [{days: mon-sun, start: '08:00', end: '09:11', tz: UTC}]"
    slow_warning = Fault("rds-0", "msg", nth=1, kind=None, delay_s=180)
    run = Run(fleet(time, 1), time, WARN, host_vars=window, faults=[slow_warning]).execute()
    assert set(run.outcomes().values()) == {Kind.NOT_ATTEMPTED}
    assert "maintenance window" in run.of(Kind.HOST_SKIPPED)[0].reason
    assert cancelled_users(run) == {"u0a", "u0b"} and logged_off_users(run) == set()


def test_a_closed_window_at_the_start_warns_nobody() -> None:
    time = FakeTime()
    window = ", fleetlogoff_window: [{days: mon-sun, start: '22:00', end: '23:00', tz: UTC}]"
    run = Run(fleet(time, 1), time, WARN, host_vars=window).execute()
    assert run.result is not None and run.result.hosts_in_window == 0
    assert run.messages("rds-0") == [] and set(run.outcomes().values()) == {Kind.NOT_ATTEMPTED}


def test_a_failing_reread_after_confirmed_logoffs_reports_each_once() -> None:
    """One logoff confirmed, the other still there, then the host is lost: the first stays
    logged_off, the second alone is failed (issue 13: it used to be reported twice)."""
    time = FakeTime()
    hosts = [lab_host("rds-0", time, stale(2, "ann", time), stale(3, "bob", time))]
    run = Run(hosts, time, ApplySettings(warn=timedelta(0), forks=1))
    run.make_plan()
    store = hosts[0].store
    original = hosts[0].log_off

    def bob_lingers(session: LabSession, now: float) -> None:
        if session.user != "bob":
            original(session, now)

    hosts[0].log_off = bob_lingers  # type: ignore[method-assign]  # a slow logoff for bob
    # quser: warn phase none; logoff phase 1 read, confirm read 1, confirm read 2 fails
    run.connector.faults.append(Fault("rds-0", "quser", nth=3, kind="unreachable"))
    run.execute()
    outcomes = run.outcomes()
    assert outcomes == {("rds-0", 2): Kind.LOGGED_OFF, ("rds-0", 3): Kind.FAILED}
    failed = run.of(Kind.FAILED)[0]
    assert "result unknown" in failed.reason and failed.error is not None
    assert failed.error.kind == "unreachable"
    assert store.get(3) is not None


def test_a_connection_lost_during_a_logoff_is_confirmed_on_a_new_one() -> None:
    time = FakeTime()
    hosts = [lab_host("rds-0", time, stale(2, "ann", time), stale(3, "bob", time))]
    fault = Fault("rds-0", "logoff", nth=1, kind="reset", after=True)
    run = Run(hosts, time, ApplySettings(warn=timedelta(0), forks=1), faults=[fault]).execute()
    assert run.outcomes() == {("rds-0", 2): Kind.LOGGED_OFF, ("rds-0", 3): Kind.LOGGED_OFF}
    assert run.connector.opened["rds-0"] >= 2


def test_a_logoff_lost_before_it_ran_is_sent_again_after_a_fresh_check() -> None:
    time = FakeTime()
    hosts = [lab_host("rds-0", time, stale(2, "ann", time))]
    fault = Fault("rds-0", "logoff", nth=1, kind="reset", after=False)
    run = Run(hosts, time, ApplySettings(warn=timedelta(0), forks=1), faults=[fault]).execute()
    assert run.outcomes() == {("rds-0", 2): Kind.LOGGED_OFF}
    assert len(run.of(Kind.LOGOFF_SENT)) == 2  # the record says both attempts
    assert run.connector.commands["rds-0"].count("logoff 2") == 1  # the lost one never ran


def test_a_logoff_that_never_gets_through_is_not_claimed() -> None:
    time = FakeTime()
    hosts = [lab_host("rds-0", time, stale(2, "ann", time))]
    fault = Fault("rds-0", "logoff", nth=0, kind="reset", after=False)
    run = Run(hosts, time, ApplySettings(warn=timedelta(0), forks=1), faults=[fault]).execute()
    assert run.outcomes() == {("rds-0", 2): Kind.FAILED}
    assert "still there" in run.of(Kind.FAILED)[0].reason
    assert len(run.of(Kind.LOGOFF_SENT)) == ApplySettings().retries + 1


def test_stuck_and_hung_logoffs() -> None:
    time = FakeTime()
    hosts = [
        lab_host("rds-stuck", time, stale(2, "s", time), logoff=LogoffBehaviour(stuck=True)),
        lab_host("rds-hung", time, stale(2, "h", time), logoff=LogoffBehaviour(hang=True)),
    ]
    run = Run(hosts, time, ApplySettings(warn=timedelta(0), forks=1)).execute()
    assert run.outcomes() == {("rds-stuck", 2): Kind.STUCK, ("rds-hung", 2): Kind.FAILED}
    assert "in time" in run.of(Kind.FAILED)[0].reason


def test_a_bug_in_one_hosts_work_is_an_internal_error_with_its_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="fleetlogoff")
    time = FakeTime()
    bug = Fault("rds-0", "quser", nth=1, error=ValueError("boom"))
    run = Run(fleet(time, 2), time, WARN, faults=[bug]).execute()
    internal = run.of(Kind.INTERNAL_ERROR)
    assert len(internal) == 1 and internal[0].host == "rds-0"
    assert internal[0].error is not None and internal[0].error.type == "internal"
    assert "ValueError: boom" in internal[0].reason
    assert Kind.HOST_UNREACHABLE not in run.kinds("rds-0")
    outcomes = run.outcomes()
    assert {outcomes[("rds-0", s)] for s in (2, 3)} == {Kind.NOT_WARNED}
    assert {outcomes[("rds-1", s)] for s in (2, 3)} == {Kind.LOGGED_OFF}
    with_traceback = [r for r in caplog.records if r.exc_info]
    assert with_traceback and all(r.levelno == logging.DEBUG for r in with_traceback)


def test_no_logoff_when_its_record_cannot_be_written() -> None:
    time = FakeTime()

    def full_disk(event: Event) -> None:
        if event.kind == Kind.LOGOFF_SENT and event.username == "u0b":
            run.stop.set()  # what the run's record does when the audit log fails
            raise RecordError("audit log: write failed: No space left on device")

    run = Run(fleet(time, 2), time, WARN, emit_hook=full_disk)
    run.execute()
    assert logged_off_users(run) == {"u0a"}
    outcomes = run.outcomes()
    assert outcomes[("rds-0", 3)] == Kind.NOT_ATTEMPTED
    assert {outcomes[("rds-1", s)] for s in (2, 3)} == {Kind.NOT_ATTEMPTED}
    assert cancelled_users(run) == {"u0b", "u1a", "u1b"}


def test_a_reused_id_is_skipped_and_its_new_user_never_messaged() -> None:
    time = FakeTime()
    hosts = [lab_host("rds-0", time, stale(2, "ann", time))]
    run = Run(hosts, time, WARN)
    run.make_plan()
    store = hosts[0].store
    store.remove(2)
    store.put(busy(2, "newcomer", time))
    run.execute()
    assert run.outcomes() == {("rds-0", 2): Kind.SKIPPED}
    assert run.messages("rds-0") == [] and run.logoffs("rds-0") == []


def test_a_warned_user_who_comes_back_is_spared_and_told() -> None:
    time = FakeTime()
    hosts = [lab_host("rds-0", time, stale(2, "ann", time))]

    def ann_returns(event: Event) -> None:
        if event.kind == Kind.WAIT_STARTED:
            hosts[0].store.reconnect(2, time.epoch())

    run = Run(hosts, time, WARN, emit_hook=ann_returns).execute()
    assert run.outcomes() == {("rds-0", 2): Kind.SPARED}
    assert cancelled_users(run) == {"ann"} and run.logoffs("rds-0") == []


def test_a_notice_that_cannot_be_delivered_is_recorded_as_such() -> None:
    time = FakeTime()
    denied = CommandOutput(b"", b"Error [5]:Access is denied.\r\n", 1)
    # msg: the two warnings go out; the first cancel notice is refused by the host.
    fault = Fault("rds-0", "msg", nth=3, kind=None, output=denied)
    run = Run(
        fleet(time, 1),
        time,
        WARN,
        faults=[fault],
        stop_when=lambda r: Kind.WAIT_STARTED in r.kinds(),
    ).execute()
    notices = run.of(Kind.CANCEL_NOTICE)
    assert [n.data["delivered"] for n in notices] == [False, True]
    assert notices[0].error is not None and notices[0].error.code == 5
    assert "not delivered" in notices[0].reason


def test_batches_by_percentage_stop_at_the_failure_limit() -> None:
    time = FakeTime()
    bad = lab_host("rds-bad", time, stale(2, "x", time), logoff=LogoffBehaviour(error_code=1460))
    settings = ApplySettings(warn=timedelta(0), forks=1, batch_percent=50, max_fail_percentage=40)
    run = Run([bad, *fleet(time, 3)], time, settings).execute()
    outcomes = run.outcomes()
    assert outcomes[("rds-bad", 2)] == Kind.FAILED
    assert {outcomes[("rds-0", s)] for s in (2, 3)} == {Kind.LOGGED_OFF}  # same batch
    assert {e.host for e in run.of(Kind.HOST_SKIPPED)} == {"rds-1", "rds-2"}
    error = run.of(Kind.FAILED)[0].error
    assert error is not None and error.code == 1460
