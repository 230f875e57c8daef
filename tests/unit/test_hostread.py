"""Reading one host: quser with its clock and its date format in one command, the format
used only when a logon time cannot be read with certainty, a clear fallback when that read
fails, the format asked for alone when the answer lacks it, and
apply reading the host exactly as plan did. Lab hosts answer as Windows does; every lab
locale is read on the days that break date parsers, in zones from UTC-12 to UTC+14."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from fleetlogoff.errors import HostCommandError, TransportError
from fleetlogoff.hostread import (
    FORMAT_MARK,
    INTERNATIONAL_QUERY,
    QUSER,
    QUSER_AND_FORMAT,
    QUSER_AND_ZONE,
    QUSER_ZONE_AND_FORMAT,
    ZONE_MARK,
    read_host,
)
from fleetlogoff.lab.contract import CommandRequest
from fleetlogoff.lab.host import SimHost
from fleetlogoff.lab.locales import LOCALES
from fleetlogoff.lab.locales import SessionState as LabState
from fleetlogoff.lab.sessions import Session as LabSession
from fleetlogoff.model import Connection, Host
from fleetlogoff.parsers import decode_output
from fleetlogoff.parsers.facts import HostDates, HostFacts
from fleetlogoff.parsers.formats import DateFormat
from fleetlogoff.parsers.timezone import HostClock
from fleetlogoff.planner import logon_age
from tests.clocks import DAYS, LOGON_AGES, ZONES, moments

HEADER = " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME"
AMBIGUOUS = (
    HEADER
    + "\r\n anna                                      2  Disc           28  01/12/2026 07:36\r\n"
)
CLEAR = (
    HEADER
    + "\r\n anna                                      2  Disc           28  13/11/2026 07:36\r\n"
)
ZONE = (
    "\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\TimeZoneInformation\r\n"
    "    Bias    REG_DWORD    0x0\r\n    ActiveTimeBias    REG_DWORD    0x0\r\n"
    "    StandardStart    REG_BINARY    00000000000000000000000000000000\r\n"
    "    DaylightStart    REG_BINARY    00000000000000000000000000000000\r\n"
)
INTERNATIONAL = (
    "\r\nHKEY_CURRENT_USER\\Control Panel\\International\r\n"
    "    s1159    REG_SZ    AM\r\n    s2359    REG_SZ    PM\r\n"
    "    sTimeFormat    REG_SZ    HH:mm:ss\r\n    sShortDate    REG_SZ    dd/MM/yyyy\r\n"
)


def host(**settings: object) -> Host:
    return Host("rds1", ("all",), Connection("127.0.0.1", 5985, username="svc"), settings)


class FakeRunner:
    """Answers each command line from a table and records what ran."""

    def __init__(self, answers: dict[str, str | Exception]) -> None:
        self.answers = answers
        self.ran: list[str] = []

    def __call__(self, command_line: str) -> str:
        self.ran.append(command_line)
        answer = self.answers[command_line]
        if isinstance(answer, Exception):
            raise answer
        return answer


def combined(quser: str, zone: str = ZONE) -> str:
    """What QUSER_AND_ZONE prints."""
    return f"{quser}{ZONE_MARK}\r\n{zone}"


def answered(quser: str, zone: str = ZONE, international: str = INTERNATIONAL) -> str:
    """What QUSER_ZONE_AND_FORMAT prints."""
    return f"{combined(quser, zone)}{FORMAT_MARK}\r\n{international}"


def test_clear_dates_need_one_command_and_record_the_order_they_show() -> None:
    run = FakeRunner({QUSER_ZONE_AND_FORMAT: answered(CLEAR)})
    read = read_host(run, host())
    assert run.ran == [QUSER_ZONE_AND_FORMAT]
    assert read.facts.dates == HostDates("output", "dmy", shapes=("9/9/9 9:9",))
    assert read.facts.clock.source == "host" and read.facts.clock.windows is not None
    (session,) = read.sessions
    assert session.logon_time == datetime(2026, 11, 13, 7, 36) and session.doubts == ()
    assert read.text == CLEAR


UK_FORMAT = DateFormat("dd/MM/yyyy", ("HH:mm",), "AM", "PM")


def test_ambiguous_dates_are_read_with_the_format_the_same_command_printed() -> None:
    run = FakeRunner({QUSER_ZONE_AND_FORMAT: answered(AMBIGUOUS)})
    read = read_host(run, host())
    assert run.ran == [QUSER_ZONE_AND_FORMAT]
    assert read.facts.dates == HostDates("host", "auto", UK_FORMAT, shapes=("9/9/9 9:9",))
    (session,) = read.sessions
    assert (session.logon_time, session.doubts) == (datetime(2026, 12, 1, 7, 36), ())
    assert read.text == AMBIGUOUS


@pytest.mark.parametrize("cut", ["", "\r\n", f"{FORMAT_MARK}-not\r\n"])
def test_an_answer_without_the_format_marker_asks_for_the_format_alone(cut: str) -> None:
    run = FakeRunner(
        {QUSER_ZONE_AND_FORMAT: combined(AMBIGUOUS) + cut, INTERNATIONAL_QUERY: INTERNATIONAL}
    )
    read = read_host(run, host())
    assert run.ran == [QUSER_ZONE_AND_FORMAT, INTERNATIONAL_QUERY]
    assert read.facts.dates.format == UK_FORMAT and read.facts.clock.source == "host"
    assert read.sessions[0].logon_time == datetime(2026, 12, 1, 7, 36)


def test_clear_dates_never_ask_again_even_without_the_format_marker() -> None:
    run = FakeRunner({QUSER_ZONE_AND_FORMAT: combined(CLEAR)})
    read = read_host(run, host())
    assert run.ran == [QUSER_ZONE_AND_FORMAT] and read.facts.dates.order == "dmy"


REG_FAILURES = [
    "ERROR: Access is denied.\r\n",
    "FEHLER: Der angegebene Registrierungsschlüssel bzw. Wert wurde nicht gefunden.\r\n",
    "错误: 系统找不到指定的注册表项或值。\r\n",
    "'reg' is not recognized as an internal or external command,\r\n",
]
# reg.exe's failures printed within the read command, or answering the format asked alone;
# a transport failure can only end a command asked alone (it would end the read command).
FORMAT_FAILURES: list[tuple[str | Exception, bool]] = [
    *((failure, alone) for failure in REG_FAILURES for alone in (False, True)),
    (TransportError("rds1", "timeout", "command did not finish in 30 s"), True),
]


@pytest.mark.parametrize(("answer", "asked_alone"), FORMAT_FAILURES)
def test_a_failed_format_read_falls_back_with_a_note_quoting_the_host(
    answer: str | Exception, asked_alone: bool
) -> None:
    answers: dict[str, str | Exception]
    if asked_alone:
        answers = {QUSER_ZONE_AND_FORMAT: combined(AMBIGUOUS), INTERNATIONAL_QUERY: answer}
    else:
        answers = {QUSER_ZONE_AND_FORMAT: answered(AMBIGUOUS, international=str(answer))}
    read = read_host(FakeRunner(answers), host())
    assert read.facts.dates.source == "output" and read.facts.dates.format is None
    said = answer.reason if isinstance(answer, TransportError) else str(answer).strip()
    assert said in read.facts.dates.note
    (session,) = read.sessions
    doubt = session.doubt_about("logon")
    assert session.logon_time is None and doubt is not None
    assert "fleetlogoff_date_order" in doubt.reason and "01/12/2026 07:36" in doubt.reason


def test_the_inventory_order_wins_and_asks_nothing() -> None:
    run = FakeRunner({QUSER_AND_ZONE: combined(AMBIGUOUS)})
    read = read_host(run, host(fleetlogoff_date_order="mdy"))
    assert run.ran == [QUSER_AND_ZONE]
    assert read.facts.dates == HostDates("inventory", "mdy", shapes=("9/9/9 9:9",))
    assert read.sessions[0].logon_time == datetime(2026, 1, 12, 7, 36)


def test_the_inventory_zone_wins_and_only_the_format_is_asked_with_quser() -> None:
    run = FakeRunner({QUSER_AND_FORMAT: f"{AMBIGUOUS}{FORMAT_MARK}\r\n{INTERNATIONAL}"})
    read = read_host(run, host(fleetlogoff_timezone="Europe/Zurich"))
    assert run.ran == [QUSER_AND_FORMAT]
    assert read.facts.clock == HostClock("inventory", "Europe/Zurich")
    assert read.facts.dates.format == UK_FORMAT and read.text == AMBIGUOUS


def test_zone_and_order_both_in_the_inventory_run_quser_alone() -> None:
    run = FakeRunner({QUSER: AMBIGUOUS})
    read = read_host(run, host(fleetlogoff_timezone="Europe/Zurich", fleetlogoff_date_order="dmy"))
    assert run.ran == [QUSER] and read.text == AMBIGUOUS
    assert read.facts.clock == HostClock("inventory", "Europe/Zurich")
    assert read.sessions[0].logon_time == datetime(2026, 12, 1, 7, 36)


@pytest.mark.parametrize(
    ("output", "words"),
    [
        (CLEAR + "\r\n", "no marker line"),
        (f"{CLEAR}{FORMAT_MARK}\r\n{INTERNATIONAL}", "no marker line"),
        (answered(CLEAR, "ERROR: Access is denied.\r\n"), "Access is denied"),
        (answered(CLEAR, ""), "no output"),
    ],
)
def test_an_unreadable_clock_is_unknown_with_the_reason(output: str, words: str) -> None:
    read = read_host(FakeRunner({QUSER_ZONE_AND_FORMAT: output}), host())
    assert read.facts.clock.source == "unknown" and words in read.facts.clock.note
    assert read.sessions[0].doubts == ()


def test_quser_errors_are_still_host_errors_behind_the_clock_query() -> None:
    error = "Error 0x00000005 enumerating sessionnames\r\nError [5]:Access is denied.\r\n"
    with pytest.raises(HostCommandError) as raised:
        read_host(FakeRunner({QUSER_ZONE_AND_FORMAT: answered(error)}), host())
    assert raised.value.code == 5


def test_apply_reads_as_plan_did_without_asking_again() -> None:
    known = HostFacts(
        HostDates("host", "auto", DateFormat("dd/MM/yyyy", ("HH:mm",))), HostClock("unknown")
    )
    run = FakeRunner({QUSER: AMBIGUOUS})
    read = read_host(run, host(), known)
    assert run.ran == [QUSER] and read.facts is known
    assert read.sessions[0].logon_time == datetime(2026, 12, 1, 7, 36)


@pytest.mark.parametrize(
    "dates",
    [
        HostDates("output", "dmy", shapes=("9-9-9 9:9",)),  # another shape than planned
        HostDates("output", "mdy"),  # 01/12 reads as mdy, but 13/11 cannot
        HostDates("inventory", "ymd"),
    ],
)
def test_a_host_printing_dates_the_plan_cannot_read_is_refused(dates: HostDates) -> None:
    known = HostFacts(dates, HostClock("unknown"))
    output = (
        AMBIGUOUS
        + " bob                                       3  Disc           28  13/11/2026 07:36\r\n"
    )
    with pytest.raises(HostCommandError, match="date format changed since the plan"):
        read_host(FakeRunner({QUSER: output}), host(), known)


def test_new_rows_in_the_planned_shape_are_read_as_planned() -> None:
    known = HostFacts(HostDates("output", "dmy", shapes=("9/9/9 9:9",)), HostClock("unknown"))
    read = read_host(FakeRunner({QUSER: AMBIGUOUS}), host(), known)
    assert read.sessions[0].logon_time == datetime(2026, 12, 1, 7, 36)


def test_a_host_whose_format_changed_since_the_plan_is_refused() -> None:
    known = HostFacts(
        HostDates("host", "auto", DateFormat("M/d/yyyy", ("h:mm tt",))), HostClock("unknown")
    )
    with pytest.raises(HostCommandError, match="date format changed since the plan"):
        read_host(FakeRunner({QUSER: AMBIGUOUS}), host(), known)


# -- every lab locale, every test day, zones from UTC-12 to UTC+14 --------------------------


def lab_host(
    locale: str,
    zone: str,
    now: datetime,
    international: dict[str, str | None] | None = None,
    time_zone_access: str = "ok",
) -> SimHost:
    epoch = now.timestamp()
    sessions = [LabSession(0, "Services", "", LabState.DISCONNECTED)]
    for index, age in enumerate(LOGON_AGES):
        state = LabState.DISCONNECTED if index % 2 else LabState.ACTIVE
        name = "" if state is LabState.DISCONNECTED else f"RDP-Tcp#{index}"
        logon = epoch - age.total_seconds()
        sessions.append(LabSession(index + 2, name, f"user{index}", state, logon, epoch - 60))
    return SimHost(
        "rds1",
        locale=locale,
        sessions=sessions,
        clock=lambda: epoch,
        time_zone=zone,
        international=international,
        time_zone_access=time_zone_access,
    )


def runner(lab: SimHost) -> Callable[[str], str]:
    def run(command_line: str) -> str:
        out = lab.run(CommandRequest(command_line, 65001, "Administrator"))
        return decode_output(out.stdout or out.stderr, 65001)

    return run


def check_read(lab: SimHost, now: datetime) -> HostFacts:
    read = read_host(runner(lab), host())
    assert read.facts.clock.source == "host"
    assert read.facts.clock.offset_now(now) == lab.zone.offset_at(now.timestamp())
    for session in read.sessions:
        assert session.doubts == (), (session.logon_text, session.doubts)
        logon_epoch = now - LOGON_AGES[session.id - 2]
        wall = lab.zone.local(logon_epoch.timestamp()).replace(tzinfo=None)
        assert session.logon_time == wall, session.logon_text
        age = logon_age(read.facts.clock.checked(now), session, now)
        true_age = int(LOGON_AGES[session.id - 2].total_seconds())
        assert age is not None and age.low <= true_age <= age.high, (session.logon_text, age)
        assert age.low == age.high or age.high - age.low == 3600  # exact, or a repeated hour
    return read.facts


@pytest.mark.parametrize("locale", sorted(LOCALES))
@pytest.mark.parametrize("day", sorted(DAYS))
def test_every_lab_locale_reads_without_doubt_on_every_day(locale: str, day: str) -> None:
    now = DAYS[day]
    zone = LOCALES[locale].time_zone
    facts = check_read(lab_host(locale, zone, now), now)
    assert facts.dates.source in ("output", "host")


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("locale", ["en-US", "en-GB", "de-DE", "es-MX", "zh-CN"])
def test_zones_from_utc_minus_12_to_plus_14_across_their_clock_changes(
    zone: str, locale: str
) -> None:
    for name, now in moments(zone).items():
        assert check_read(lab_host(locale, zone, now), now), name


def test_a_user_customised_format_disagreeing_with_the_language_is_learned() -> None:
    now = DAYS["1st"]
    custom: dict[str, str | None] = {
        "sShortDate": "dd-MM-yy",
        "sTimeFormat": "hh:mm:ss tt",
        "s1159": "vm",
        "s2359": "nm",
    }
    lab = lab_host("en-US", "America/New_York", now, international=custom)
    facts = check_read(lab, now)
    assert facts.dates.format == DateFormat("dd-MM-yy", ("hh:mm tt", "h:mm tt"), "vm", "nm")


@pytest.mark.parametrize("access", ["missing", "denied"])
def test_lab_hosts_that_refuse_their_format_fall_back_with_the_translated_message(
    access: str,
) -> None:
    now = DAYS["1st"] + timedelta(hours=3)
    lab = SimHost(
        "rds1",
        locale="fr-FR",
        sessions=[LabSession(2, "", "anna", LabState.DISCONNECTED, now.timestamp() - 600, None)],
        clock=now.timestamp,
        time_zone="Europe/Paris",
        international_access=access,
    )
    read = read_host(runner(lab), host())
    assert ("ERREUR :" in read.facts.dates.note) and read.facts.dates.format is None
    (session,) = read.sessions
    assert session.logon_time is None and session.doubt_about("logon") is not None
    assert session.identity_doubts == ()


def test_lab_clock_query_refused_leaves_the_clock_unknown() -> None:
    now = DAYS["13th"]
    lab = lab_host("ja-JP", "Asia/Tokyo", now, time_zone_access="denied")
    read = read_host(runner(lab), host())
    assert read.facts.clock.source == "unknown"
    assert "エラー: アクセスが拒否されました。" in read.facts.clock.note
    assert all(s.doubts == () for s in read.sessions)
    assert now.tzinfo is UTC
