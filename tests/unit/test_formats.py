"""Windows date and time pictures: seconds stripped as GetTimeFormat(TIME_NOSECONDS) does,
logon times read with a host's own pictures, and nothing read that does not fit them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fleetlogoff.parsers import parse_quser
from fleetlogoff.parsers.formats import DateFormat, date_order, read_logon, strip_seconds


@pytest.mark.parametrize(
    ("picture", "stripped"),
    [
        ("h:mm:ss tt", "h:mm tt"),
        ("HH:mm:ss", "HH:mm"),
        ("H:mm:ss", "H:mm"),
        ("hh:mm:ss tt", "hh:mm tt"),
        ("tt h:mm:ss", "tt h:mm"),
        ("HH.mm.ss", "HH.mm"),
        # fr-CA: what precedes the seconds goes; the label after them too (= its sShortTime).
        ("HH' h 'mm' min 'ss' s'", "HH' h 'mm"),
        ("HH:mm", "HH:mm"),
    ],
)
def test_strip_seconds(picture: str, stripped: str) -> None:
    assert strip_seconds(picture) == stripped


@pytest.mark.parametrize(
    ("picture", "order"),
    [
        ("M/d/yyyy", "mdy"),
        ("dd.MM.yyyy", "dmy"),
        ("yyyy-MM-dd", "ymd"),
        ("yyyy/M/d", "ymd"),
        ("ddd dd/MM/yy", "dmy"),
        ("dd-MMM-yy", "dmy"),
        ("yyyy. MM. dd.", "ymd"),
        ("MMMM yyyy", None),
    ],
)
def test_date_order(picture: str, order: str | None) -> None:
    assert date_order(picture) == order


US = DateFormat("M/d/yyyy", ("h:mm tt",), "AM", "PM")
GB = DateFormat("dd/MM/yyyy", ("HH:mm",), "AM", "PM")
MX = DateFormat("dd/MM/yyyy", ("hh:mm tt",), "a. m.", "p. m.")
CN = DateFormat("yyyy/M/d", ("H:mm", "tt h:mm"), "上午", "下午")
KO = DateFormat("yyyy-MM-dd", ("tt h:mm",), "오전", "오후")
CA = DateFormat("yyyy-MM-dd", ("h:mm tt",), "AM", "PM")
FI = DateFormat("d.M.yyyy", ("H.mm",), "ap.", "ip.")
DMY2 = DateFormat("dd-MMM-yy", ("HH:mm",))
DAYNAME = DateFormat("ddd dd/MM/yyyy", ("HH:mm",))
ERA = DateFormat("gg yyyy/MM/dd", ("H:mm",))


@pytest.mark.parametrize(
    ("text", "date_format", "value"),
    [
        ("12/1/2026 9:05 AM", US, datetime(2026, 12, 1, 9, 5)),
        ("1/12/2026 12:00 AM", US, datetime(2026, 1, 12, 0, 0)),
        ("01/12/2026 09:05", GB, datetime(2026, 12, 1, 9, 5)),
        ("31/12/2026 23:59", GB, datetime(2026, 12, 31, 23, 59)),
        ("16/10/2024 03:00 p. m.", MX, datetime(2024, 10, 16, 15, 0)),
        ("16/10/2024 12:30 a. m.", MX, datetime(2024, 10, 16, 0, 30)),
        ("2023/11/7 13:19", CN, datetime(2023, 11, 7, 13, 19)),
        ("2023/11/7 下午 1:19", CN, datetime(2023, 11, 7, 13, 19)),
        ("2026-12-01 오후 3:04", KO, datetime(2026, 12, 1, 15, 4)),
        ("2021-05-13 7:15 PM", CA, datetime(2021, 5, 13, 19, 15)),
        ("1.12.2026 9.05", FI, datetime(2026, 12, 1, 9, 5)),
        ("01-Dec-26 09:05", DMY2, datetime(2026, 12, 1, 9, 5)),
        ("01-Dec-49 09:05", DMY2, datetime(2049, 12, 1, 9, 5)),
        ("01-Dec-50 09:05", DMY2, datetime(1950, 12, 1, 9, 5)),
        ("Tue 01/12/2026 09:05", DAYNAME, datetime(2026, 12, 1, 9, 5)),
        ("令和 2026/12/01 9:05", ERA, datetime(2026, 12, 1, 9, 5)),
        ("12/1/2026  9:05  AM", US, datetime(2026, 12, 1, 9, 5)),
    ],
)
def test_read_with_the_host_pictures(text: str, date_format: DateFormat, value: datetime) -> None:
    assert read_logon(text, date_format) == value


@pytest.mark.parametrize(
    ("text", "date_format"),
    [
        ("13/1/2026 9:05 AM", US),  # no 13th month
        ("12/1/2026 9:05", US),  # a 12-hour clock without its designator
        ("12/1/2026 13:05 PM", US),
        ("2026-12-01 09:05", GB),  # another host's format
        ("01/12/2026 9:05", GB),  # HH wants two digits
        ("01/12/26 09:05", GB),
        ("01-Dez-26 09:05", DMY2),  # a month name in a language not read
        ("30/02/2026 10:00", GB),
        ("16/10/2024 03:00 PM", MX),
        ("", GB),
    ],
)
def test_what_does_not_fit_the_host_pictures_is_not_read(
    text: str, date_format: DateFormat
) -> None:
    assert read_logon(text, date_format) is None


def test_a_picture_naming_a_field_twice_reads_nothing() -> None:
    assert read_logon("01/01/2026 09:05", DateFormat("dd/dd/yyyy", ("HH:mm",))) is None


def test_describe() -> None:
    assert GB.describe() == "dd/MM/yyyy HH:mm"


CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"


@pytest.mark.parametrize(
    ("name", "date_format", "values"),
    [
        (
            "quser-en-au-01",
            DateFormat("d/MM/yyyy", ("h:mm tt",), "AM", "PM"),
            [datetime(2023, 2, 3, 19, 36)],
        ),
        (
            "quser-en-us-05",
            DateFormat("M/d/yyyy", ("h:mm tt",), "AM", "PM"),
            [datetime(2020, 6, 5, 23, 3)],
        ),
        ("quser-fr-fr-01", DateFormat("dd/MM/yyyy", ("HH:mm",)), [datetime(2023, 2, 12, 7, 11)]),
        (
            "quser-it-it-01-comment",
            DateFormat("dd/MM/yyyy", ("HH:mm",)),
            [
                datetime(2024, 9, 2, 9, 47),
                datetime(2024, 9, 5, 12, 51),
                datetime(2024, 9, 5, 17, 8),
            ],
        ),
    ],
)
def test_real_outputs_that_read_two_ways_read_one_way_with_the_host_format(
    name: str, date_format: DateFormat, values: list[datetime]
) -> None:
    text = (CORPUS / f"{name}.txt").read_text(encoding="utf-8").split("# ---\n", 1)[1]
    assert all(s.doubt_about("logon") for s in parse_quser(text))  # alone: two ways
    sessions = parse_quser(text, date_format=date_format)
    assert [(s.logon_time, s.doubts) for s in sessions] == [(v, ()) for v in values]
