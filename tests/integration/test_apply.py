"""apply against the lab, through real pypsrp: the lab's own records prove what was done."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlogoff.app.apply import ApplyOptions, run_apply
from fleetlogoff.app.fleet import FleetOptions, SelectOptions
from fleetlogoff.app.status import ExitStatus
from fleetlogoff.env import Environment
from fleetlogoff.executor import ApplySettings
from fleetlogoff.hostread import INTERNATIONAL_QUERY, QUSER_ZONE_AND_FORMAT
from fleetlogoff.lab.commands import LogoffBehaviour
from fleetlogoff.lab.contract import CommandRequest, NetworkBehaviour
from fleetlogoff.lab.dynamics import DynamicRule, Trigger
from fleetlogoff.lab.host import SimHost
from fleetlogoff.model import Host
from fleetlogoff.transport import CommandOutput, HostSession
from fleetlogoff.transport.winrm import WinRMConnector
from tests.cliutil import CLOCK, is_guarded_message, run_cli

from .conftest import active, disconnected, lab, services_and_console, sim_host

STALE = ["--state", "disconnected", "--idle", ">= 2h"]
FAST = ["--yes", "--timeout", "5s"]


def _stale_host(name: str, locale: str = "en-US", **kwargs: Any) -> SimHost:
    sessions = [
        *services_and_console(),
        disconnected(2, "stale.user", idle_h=5),
        active(3, "busy.user", idle_min=2),
    ]
    return sim_host(name, locale=locale, sessions=sessions, **kwargs)


def _audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _user_ids(host: SimHost) -> set[tuple[int, str]]:
    return {(s.id, s.user) for s in host.sessions() if s.user}


def _apply(source: Path, tmp_path: Path, *extra: str) -> Any:
    """apply from an inventory (with the STALE selection) or from a saved plan."""
    selection = [] if source.suffix == ".json" else STALE
    no_warning = [] if "--warn" in extra else ["--warn", "0"]
    return run_cli(
        [
            "apply",
            str(source),
            *selection,
            *FAST,
            "--audit-log",
            str(tmp_path / "audit.jsonl"),
            "--report",
            str(tmp_path / "report.json"),
            *no_warning,
            *extra,
        ]
    )


def test_warned_then_logged_off_on_a_multi_locale_fleet(tmp_path: Path) -> None:
    hosts = [_stale_host(f"rds-{n}", loc) for n, loc in enumerate(("en-US", "de-DE", "ru-RU"))]
    with lab(hosts, tmp_path) as (_, inventory):
        result = _apply(inventory, tmp_path, "--warn", "1s")
        assert result.status == ExitStatus.OK, result.stderr + result.stdout
        for host in hosts:
            assert _user_ids(host) == {(3, "busy.user")}
            state = host.state()
            assert [m["session_id"] for m in state["messages"]] == [2]
            # every user gets at least the --warn promised, counted from their own message
            warned_at, logged_off_at = state["messages"][0]["time"], state["logoffs"][0]["time"]
            assert logged_off_at - warned_at >= 1.0
    events = [e["event"] for e in _audit(tmp_path / "audit.jsonl")]
    assert events.count("warned") == 3 and events.count("logged_off") == 3
    assert events[0] == "run_started" and events[-1] == "run_ended"
    assert "RECAP" in result.stdout


def test_a_json_inventory_is_applied_not_refused_as_a_plan(tmp_path: Path) -> None:
    """The YAML inventory plugin reads JSON too; apply must plan from it, not take it for a
    broken plan file because it starts with "{"."""
    host = _stale_host("rds-json")
    with lab([host], tmp_path) as (_, inventory):
        as_json = tmp_path / "inventory.json"
        as_json.write_text(json.dumps(yaml.safe_load(inventory.read_text(encoding="utf-8"))))
        result = run_cli(["apply", str(as_json), *STALE, *FAST, "--warn", "0"])
        assert result.status == ExitStatus.OK, result.stderr + result.stdout
        assert _user_ids(host) == {(3, "busy.user")}


def test_a_user_active_after_the_warning_is_spared(tmp_path: Path) -> None:
    wakes = DynamicRule(Trigger.ACTIVE_AFTER_MESSAGE, after_s=0.2, user="stale.user")
    host = _stale_host("rds-wake", dynamics=[wakes])
    with lab([host], tmp_path) as (_, inventory):
        result = _apply(inventory, tmp_path, "--warn", "2s")
        assert result.status == ExitStatus.OK, result.stderr + result.stdout
        assert (2, "stale.user") in _user_ids(host)
    spared = [e for e in _audit(tmp_path / "audit.jsonl") if e["event"] == "spared"]
    assert [(e["session_id"], e["username"]) for e in spared] == [(2, "stale.user")]


def _log_off_behind_our_back(host: SimHost, session_id: int) -> None:
    """Somebody (another admin, the user) ends the session after the plan was made."""
    host.run(CommandRequest(f"logoff {session_id}", None, "Administrator"))


def test_a_reused_session_id_is_never_logged_off(tmp_path: Path) -> None:
    reuse = DynamicRule(Trigger.REUSE_FREED_ID, after_s=0, user="new.person")
    host = _stale_host("rds-reuse", dynamics=[reuse])
    with lab([host], tmp_path) as (_, inventory):
        plan = tmp_path / "plan.json"
        assert run_cli(["plan", str(inventory), *STALE, "-o", str(plan)]).status == ExitStatus.OK
        _log_off_behind_our_back(host, 2)  # id 2 is free, and new.person takes it at once
        result = _apply(plan, tmp_path, "--warn", "1s")
        assert result.status == ExitStatus.OK, result.stderr + result.stdout
        assert (2, "new.person") in _user_ids(host)
        assert len(host.state()["logoffs"]) == 1  # ours, before the run; none by the run
        assert host.state()["messages"] == []  # never a message to a stranger
    skipped = [e for e in _audit(tmp_path / "audit.jsonl") if e["event"] == "skipped"]
    assert len(skipped) == 1 and "changed since plan" in skipped[0]["reason"]


def test_a_user_who_left_is_reported_not_logged_off(tmp_path: Path) -> None:
    host = _stale_host("rds-leaves")
    with lab([host], tmp_path) as (_, inventory):
        plan = tmp_path / "plan.json"
        assert run_cli(["plan", str(inventory), *STALE, "-o", str(plan)]).status == ExitStatus.OK
        _log_off_behind_our_back(host, 2)
        result = _apply(plan, tmp_path, "--warn", "1s")
    assert result.status == ExitStatus.OK, result.stderr + result.stdout
    skipped = [e for e in _audit(tmp_path / "audit.jsonl") if e["event"] == "skipped"]
    assert "gone" in skipped[0]["reason"]


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [(LogoffBehaviour(error_code=5), "logoff failed"), (LogoffBehaviour(hang=True), "in time")],
)
def test_failing_or_hanging_logoff_is_reported(
    tmp_path: Path, behaviour: LogoffBehaviour, expected: str
) -> None:
    host = _stale_host("rds-bad", logoff=behaviour)
    with lab([host], tmp_path) as (_, inventory):
        result = _apply(inventory, tmp_path, "--timeout", "2s")
        assert (2, "stale.user") in _user_ids(host)
    assert result.status == ExitStatus.ERROR
    failed = [e for e in _audit(tmp_path / "audit.jsonl") if e["event"] == "failed"]
    assert len(failed) == 1 and expected in failed[0]["reason"]


class DownOnceWarned:
    """A connector that takes a lab host down right after its warning went out: between
    its warning and its logoff, at the same point of the run every time."""

    def __init__(self, host: SimHost) -> None:
        self._host = host
        self._inner = WinRMConnector()

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        session = self._inner.open(host, deadline_s=deadline_s)
        if host.name != self._host.name:
            return session
        lab_host = self._host

        class Watched:
            def run(
                self, command_line: str, *, stdin: bytes | None = None, timeout: float
            ) -> CommandOutput:
                output = session.run(command_line, stdin=stdin, timeout=timeout)
                if is_guarded_message(command_line, stdin):
                    lab_host.set_network(NetworkBehaviour(down=True))
                return output

            def close(self) -> None:
                session.close()

        return Watched()


def test_a_host_that_goes_down_mid_run_is_counted_apart(tmp_path: Path) -> None:
    up, going = _stale_host("rds-up"), _stale_host("rds-going")
    with lab([up, going], tmp_path) as (_, inventory):
        plan = tmp_path / "plan.json"
        assert run_cli(["plan", str(inventory), *STALE, "-o", str(plan)]).status == ExitStatus.OK
        result = run_cli(
            [
                "apply",
                str(plan),
                *FAST,
                "--warn",
                "1s",
                "--audit-log",
                str(tmp_path / "audit.jsonl"),
                "--report",
                str(tmp_path / "report.json"),
            ],
            connector=DownOnceWarned(going),
        )
        assert _user_ids(up) == {(3, "busy.user")}
        assert (2, "stale.user") in _user_ids(going)
    assert result.status == ExitStatus.ERROR
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["hosts"]["rds-up"]["logged_off"] == 1
    assert report["hosts"]["rds-going"]["warned"] == 1
    assert report["hosts"]["rds-going"]["logged_off"] == 0
    assert report["hosts"]["rds-going"]["not_attempted"] == 1
    assert report["hosts"]["rds-going"]["unreachable"]


class StopAtTheWait(threading.Event):
    """Set as soon as apply starts its shared wait (the only phase that waits on it)."""

    def wait(self, timeout: float | None = None) -> bool:
        self.set()
        return True


def _env() -> Environment:
    return Environment(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        stdin_isatty=False,
        stdout_isatty=False,
        environ={},
        clock=CLOCK.now,
    )


def test_interrupt_during_the_wait_logs_nobody_off(tmp_path: Path) -> None:
    host = _stale_host("rds-int")
    with lab([host], tmp_path) as (_, inventory):
        options = ApplyOptions(
            source=str(inventory),
            fleet=FleetOptions(inventory=str(inventory), quiet=True),
            select=SelectOptions(states=("disconnected",), idle=">= 2h"),
            settings=ApplySettings(warn=timedelta(seconds=30)),
            yes=True,
            audit_log=str(tmp_path / "audit.jsonl"),
        )
        status = run_apply(options, _env(), WinRMConnector(), StopAtTheWait())
        state = host.state()
    assert status == ExitStatus.INTERRUPTED
    assert state["logoffs"] == []
    texts = [m["text"] for m in state["messages"]]
    assert len(texts) == 2 and "cancelled" in texts[1]
    events = [e["event"] for e in _audit(tmp_path / "audit.jsonl")]
    assert events[-1] == "run_ended" and "interrupted" in events


def test_closed_window_does_nothing(tmp_path: Path) -> None:
    host = _stale_host("rds-closed")
    never_now = [{"days": "mon-sun", "start": "00:00", "end": "00:01", "tz": "UTC"}]
    with lab([host], tmp_path, {"fleetlogoff_window": never_now}) as (_, inventory):
        result = _apply(inventory, tmp_path, "--warn", "10m")
        assert host.state()["messages"] == [] and host.state()["logoffs"] == []
    assert result.status == ExitStatus.REFUSED


HOSTILE = (Path(__file__).parents[1] / "fixtures/corpus/hostile-messages.txt").read_text(
    encoding="utf-8"
)


# The command lines fleetlogoff itself runs to read a host (quser with its clock, its date
# format); every other line must run nothing but quser, msg and logoff.
READ_LINES = {QUSER_ZONE_AND_FORMAT, INTERNATIONAL_QUERY}


def test_hostile_messages_are_delivered_verbatim_and_run_nothing(tmp_path: Path) -> None:
    messages = [
        line.replace("\\n", "\n")
        for line in HOSTILE.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    hosts = [
        sim_host(f"rds-h{i}", sessions=[*services_and_console(), disconnected(2, "u", idle_h=5)])
        for i in range(len(messages))
    ]
    with lab(hosts, tmp_path) as (_, inventory):
        for i, text in enumerate(messages):
            template = text.replace("{", "{{").replace("}", "}}")
            result = _apply(
                inventory, tmp_path, "--limit", f"rds-h{i}", "--warn", "1s", "--message", template
            )
            assert result.status == ExitStatus.OK, result.stderr
        states = [h.state() for h in hosts]
    for text, state in zip(messages, states, strict=True):
        assert [m["text"] for m in state["messages"]] == [text]
        ran = [
            record["program"].lower()
            for command in state["commands"]
            if command["command_line"] not in READ_LINES  # the tool's own host reads
            for record in command["subcommands"]
        ]
        # powershell.exe runs only the guarded logoff (quser.exe, logoff.exe inside it)
        assert {r.removesuffix(".exe") for r in ran} <= {"quser", "msg", "logoff", "powershell"}


def test_stale_changed_or_unconfirmed_plans_are_refused(tmp_path: Path) -> None:
    host = _stale_host("rds-refuse")
    with lab([host], tmp_path) as (_, inventory):
        plan = tmp_path / "plan.json"
        assert run_cli(["plan", str(inventory), *STALE, "-o", str(plan)]).status == ExitStatus.OK
        audit = ["--audit-log", str(tmp_path / "audit.jsonl")]
        no_yes = run_cli(["apply", str(plan), *audit])
        stale = run_cli(["apply", str(plan), "--yes", "--max-plan-age", "0s", *audit])
        flags = run_cli(["apply", str(plan), "--yes", *STALE, *audit])
        inventory.write_text(inventory.read_text() + "\n# edited\n")
        changed = run_cli(["apply", str(plan), "--yes", *audit])
        assert host.state()["messages"] == [] and host.state()["logoffs"] == []
    assert no_yes.status == ExitStatus.REFUSED and "--yes" in no_yes.stderr
    assert stale.status == ExitStatus.REFUSED and "old" in stale.stderr
    assert flags.status == ExitStatus.USAGE and "saved plan carries its own rules" in flags.stderr
    assert changed.status == ExitStatus.REFUSED and "changed since the plan" in changed.stderr


def test_reminders_reach_the_same_sessions_before_the_deadline(tmp_path: Path) -> None:
    host = _stale_host("rds-remind")
    with lab([host], tmp_path) as (_, inventory):
        result = _apply(inventory, tmp_path, "--warn", "3s", "--remind", "1s")
        assert result.status == ExitStatus.OK, result.stderr + result.stdout
        messages = host.state()["messages"]
    assert [m["session_id"] for m in messages] == [2, 2]
    assert messages[1]["text"].startswith("Reminder: your session on rds-remind")
    assert messages[1]["time"] - messages[0]["time"] >= 1.5
    reminded = [e for e in _audit(tmp_path / "audit.jsonl") if e["event"] == "reminded"]
    assert len(reminded) == 1


def test_a_reminder_as_long_as_the_warning_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(["apply", str(tmp_path / "p.json"), "--warn", "1m", "--remind", "1m"])
    assert result.status == ExitStatus.USAGE and "--remind" in result.stderr


def test_an_oem_code_page_and_pypsrps_transport_carry_umlauts_both_ways(tmp_path: Path) -> None:
    host = sim_host(
        "rds-oem",
        locale="de-DE",
        sessions=[*services_and_console(), disconnected(2, "jürgen.weiß", idle_h=5)],
    )
    settings = {"fleetlogoff_codepage": 850, "fleetlogoff_http_transport": "pypsrp"}
    text = "Bitte speichern: Änderungen gehen verloren, Jürgen!"
    with lab([host], tmp_path, settings) as (_, inventory):
        result = _apply(inventory, tmp_path, "--warn", "1s", "--message", text)
        assert result.status == ExitStatus.OK, result.stderr + result.stdout
        state = host.state()
    assert [m["text"] for m in state["messages"]] == [text]
    assert {c["codepage"] for c in state["commands"]} == {850}
    assert [lo["user"] for lo in state["logoffs"]] == ["jürgen.weiß"]


class StopOnceLoggedOff(threading.Event):
    """A Ctrl-C that comes as soon as the lab has seen one logoff (asked at every check)."""

    def __init__(self, hosts: list[SimHost]) -> None:
        super().__init__()
        self._hosts = hosts

    def is_set(self) -> bool:
        if not super().is_set() and any(h.state()["logoffs"] for h in self._hosts):
            self.set()
        return super().is_set()


def test_interrupt_during_logoffs_finishes_those_in_flight_and_starts_no_more(
    tmp_path: Path,
) -> None:
    hosts = [_stale_host(f"rds-s{i}", logoff=LogoffBehaviour(delay_s=0.4)) for i in range(5)]
    stop = StopOnceLoggedOff(hosts)
    audit = tmp_path / "audit.jsonl"
    with lab(hosts, tmp_path) as (_, inventory):
        options = ApplyOptions(
            source=str(inventory),
            fleet=FleetOptions(inventory=str(inventory), quiet=True),
            select=SelectOptions(states=("disconnected",), idle=">= 2h"),
            settings=ApplySettings(warn=timedelta(0), forks=1, confirm_pause_s=0.1),
            yes=True,
            audit_log=str(audit),
        )
        status = run_apply(options, _env(), WinRMConnector(), stop)
        done = [h.name for h in hosts if h.state()["logoffs"]]
    events = _audit(audit)
    assert status == ExitStatus.INTERRUPTED
    assert 1 <= len(done) < len(hosts)
    sent = {e["host"] for e in events if e["event"] == "logoff_sent"}
    confirmed = {e["host"] for e in events if e["event"] == "logged_off"}
    assert sent == confirmed == set(done)  # nothing left half-done or unreported
    # Every other host says why nothing happened there: not started at all, or started
    # just before the interrupt and its logoff not begun.
    untouched = {e["host"] for e in events if e["event"] == "not_attempted"}
    assert all("interrupted" in e["reason"] for e in events if e["event"] == "not_attempted")
    assert untouched == {h.name for h in hosts} - set(done)


def test_no_audit_trail_means_no_logoffs(tmp_path: Path) -> None:
    host = _stale_host("rds-noaudit")
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the audit directory should be")
    with lab([host], tmp_path) as (_, inventory):
        result = run_cli(
            ["apply", str(inventory), *STALE, "--yes", "--audit-log", str(blocked / "a.jsonl")]
        )
        assert host.state()["logoffs"] == [] and host.state()["messages"] == []
    assert result.status == ExitStatus.REFUSED and "no audit trail" in result.stderr


def test_a_session_that_stays_after_logoff_is_stuck_not_done(tmp_path: Path) -> None:
    host = _stale_host("rds-stuck", logoff=LogoffBehaviour(stuck=True))
    with lab([host], tmp_path) as (_, inventory):
        result = _apply(inventory, tmp_path)
    assert result.status == ExitStatus.ERROR
    kinds = [e["event"] for e in _audit(tmp_path / "audit.jsonl")]
    assert "stuck" in kinds and "logged_off" not in kinds
    assert json.loads((tmp_path / "report.json").read_text())["hosts"]["rds-stuck"]["stuck"] == 1


def test_rolling_batches_stop_past_the_failure_limit(tmp_path: Path) -> None:
    failing = [_stale_host(f"rds-b{i}", logoff=LogoffBehaviour(error_code=5)) for i in range(2)]
    healthy = [_stale_host(f"rds-b{i}") for i in range(2, 6)]
    with lab([*failing, *healthy], tmp_path) as (_, inventory):
        result = _apply(
            inventory, tmp_path, "--serial", "2", "--max-fail-percentage", "10", "--forks", "2"
        )
        untouched = [h.name for h in healthy if not h.state()["logoffs"]]
    assert result.status == ExitStatus.ERROR
    events = _audit(tmp_path / "audit.jsonl")
    not_started = {e["host"] for e in events if e["event"] == "host_skipped"}
    assert not_started == set(untouched) == {h.name for h in healthy}
    assert all("failure limit" in e["reason"] for e in events if e["event"] == "host_skipped")


def test_ignore_windows_is_an_explicit_override(tmp_path: Path) -> None:
    host = _stale_host("rds-override")
    never_now = [{"days": "mon-sun", "start": "00:00", "end": "00:01", "tz": "UTC"}]
    with lab([host], tmp_path, {"fleetlogoff_window": never_now}) as (_, inventory):
        plan = run_cli(["plan", str(inventory), *STALE, "--format", "json"])
        result = _apply(inventory, tmp_path, "--ignore-windows")
        assert [lo["session_id"] for lo in host.state()["logoffs"]] == [2]
    assert plan.json()["hosts"][0]["window"]["open"] is False
    assert "closed, opens in" in plan.json()["hosts"][0]["window"]["text"]
    assert result.status == ExitStatus.OK, result.stderr


def test_a_plan_whose_rules_file_changed_is_refused(tmp_path: Path) -> None:
    host = _stale_host("rds-rules")
    rules = tmp_path / "rules.yml"
    rules.write_text("- name: stale\n  states: [disc]\n  idle: '>= 2h'\n", encoding="utf-8")
    with lab([host], tmp_path) as (_, inventory):
        plan = tmp_path / "plan.json"
        made = run_cli(["plan", str(inventory), "--rules", str(rules), "-o", str(plan)])
        rules.write_text("- name: stale\n  states: [disc]\n  idle: '>= 1m'\n", encoding="utf-8")
        result = _apply(plan, tmp_path)
        assert host.state()["logoffs"] == []
    assert made.status == ExitStatus.OK, made.stderr
    assert result.status == ExitStatus.REFUSED and "rules" in result.stderr


def test_check_shows_the_plan_and_acts_on_nothing(tmp_path: Path) -> None:
    host = _stale_host("rds-check")
    with lab([host], tmp_path) as (_, inventory):
        result = _apply(inventory, tmp_path, "--check")
        detailed = _apply(inventory, tmp_path, "--check", "--detailed-exitcode")
        state = host.state()
    assert result.status == ExitStatus.OK, result.stderr
    assert "stale.user" in result.stdout and "Check mode: nothing was done" in result.stdout
    assert detailed.status == ExitStatus.CHANGES
    assert state["messages"] == [] and state["logoffs"] == []
    assert not (tmp_path / "audit.jsonl").exists()


def test_a_saved_plan_is_read_once_for_the_lock_and_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fleetlogoff.app.apply as apply_module
    import fleetlogoff.app.apply_plan as apply_plan_module
    from fleetlogoff.plan_file import read_plan as real

    reads: list[str] = []

    def counted(path: str) -> Any:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(apply_module, "read_plan", counted)
    monkeypatch.setattr(apply_plan_module, "read_plan", counted)
    host = _stale_host("rds-once")
    with lab([host], tmp_path) as (_, inventory):
        plan = tmp_path / "plan.json"
        assert run_cli(["plan", str(inventory), *STALE, "-o", str(plan)]).status == ExitStatus.OK
        result = _apply(plan, tmp_path)
        assert result.status == ExitStatus.OK, result.stderr
        assert _user_ids(host) == {(3, "busy.user")}
    assert reads == [str(plan)]
