"""The recap tallies outcomes per host and builds the report with the run's facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleetlogoff.events import ErrorInfo, Event, Kind
from fleetlogoff.recap import Recap, RunInfo

T0 = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def ev(kind: Kind, host: str | None = "rds1", session: int | None = 2, **kw: object) -> Event:
    return Event(kind, T0, host=host, session_id=session, username="u", **kw)  # type: ignore[arg-type]  # keyword table


def test_counts_per_host_and_totals() -> None:
    recap = Recap(["rds1", "rds2"])
    for event in (
        ev(Kind.WARNED),
        ev(Kind.LOGGED_OFF),
        ev(Kind.NOT_WARNED, "rds2", 3, reason="warning not delivered: Error [5]"),
        ev(Kind.HOST_UNREACHABLE, "rds2", None, reason="warning: reset"),
    ):
        recap.add(event)
    assert recap.hosts["rds1"].counts["logged_off"] == 1
    assert recap.hosts["rds2"].unreachable == "warning: reset"
    totals = recap.totals()
    assert totals["warned"] == 1 and totals["not_warned"] == 1 and totals["hosts_unreachable"] == 1
    assert recap.problems


def test_no_problem_when_everything_went_as_planned() -> None:
    recap = Recap(["rds1"])
    recap.add(ev(Kind.LOGGED_OFF))
    recap.add(ev(Kind.SPARED, session=3))
    recap.add(ev(Kind.NOT_ATTEMPTED, session=4, reason="maintenance window: closed"))
    assert not recap.problems


def test_internal_errors_are_problems() -> None:
    recap = Recap(["rds1"])
    error = ErrorInfo.from_exception(ValueError("boom"))
    recap.add(ev(Kind.INTERNAL_ERROR, session=None, reason="internal error", error=error))
    assert recap.problems and recap.hosts["rds1"].internal_error == "internal error"


def test_the_report_carries_the_run_and_structured_errors() -> None:
    recap = Recap(["rds1"])
    recap.add(ev(Kind.INTERRUPTED, None, None, reason="during the wait"))
    error = ErrorInfo("TransportError", "reset", "connection lost")
    recap.add(ev(Kind.FAILED, reason="logoff sent; result unknown", error=error))
    run = RunInfo("abc", T0, T0 + timedelta(minutes=6), "sha256:x", 130, "/var/a.jsonl")
    report = recap.document(run)
    assert report["run"] == "abc" and report["exit_code"] == 130
    assert report["started"] == "2026-03-20T12:00:00.000+00:00"
    assert report["plan_digest"] == "sha256:x" and report["interrupted"] is True
    events = report["events"]
    assert isinstance(events, list)
    assert events[1]["error"] == {
        "type": "TransportError",
        "kind": "reset",
        "reason": "connection lost",
        "code": None,
    }
