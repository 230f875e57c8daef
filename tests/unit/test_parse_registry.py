"""reg.exe outputs from the corpus (International, TimeZoneInformation, translated errors)
against their hand-written expectations, and reg.exe's layout rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetlogoff.parsers.formats import read_logon
from fleetlogoff.parsers.registry import (
    INTERNATIONAL_KEY,
    TIME_ZONE_KEY,
    RegistryReadError,
    parse_reg_query,
    read_dword,
    read_international,
)
from fleetlogoff.parsers.timezone import HostClock, WindowsZone, read_time_zone

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = sorted(path.stem for path in (FIXTURES / "corpus").glob("reg-*.txt"))


def sample(name: str) -> str:
    text = (FIXTURES / "corpus" / f"{name}.txt").read_text(encoding="utf-8")
    return text.split("# ---\n", 1)[1]


def expected(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "expected" / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]  # a JSON object by construction


def zone_fields(zone: WindowsZone) -> dict[str, object]:
    def change(t: Any) -> list[int]:
        return [t.year, t.month, t.weekday, t.day, t.hour, t.minute, t.second]

    return {
        "name": zone.name,
        "bias": zone.bias,
        "standard_bias": zone.standard_bias,
        "daylight_bias": zone.daylight_bias,
        "standard_start": change(zone.standard_start),
        "daylight_start": change(zone.daylight_start),
        "active_bias": zone.active_bias,
        "adjusts": zone.adjusts,
    }


def test_every_reg_sample_has_an_expectation() -> None:
    assert len(SAMPLES) >= 10
    assert all((FIXTURES / "expected" / f"{name}.json").exists() for name in SAMPLES)


@pytest.mark.parametrize("name", [n for n in SAMPLES if "international" in n])
def test_international_samples(name: str) -> None:
    want = expected(name)
    text = sample(name)
    if want.get("key_line_supplied"):
        text = f"\r\n{INTERNATIONAL_KEY}\r\n{text}"
    date_format = read_international(text)
    assert {
        "short_date": date_format.short_date,
        "time_formats": list(date_format.time_formats),
        "am": date_format.am,
        "pm": date_format.pm,
    } == want["format"]
    for printed, local in want["reads"].items():
        value = read_logon(printed, date_format)
        assert (value.isoformat(timespec="minutes") if value else None) == local, printed


@pytest.mark.parametrize("name", [n for n in SAMPLES if "timezone" in n])
def test_time_zone_samples(name: str) -> None:
    want = expected(name)
    zone = read_time_zone(sample(name))
    assert zone_fields(zone) == want["zone"]
    for local, offsets in want["offsets_at"].items():
        assert list(zone.offsets_at(datetime.fromisoformat(local))) == offsets, local
    clock = HostClock("host", zone.name, zone)
    for instant, disagrees in want["disagrees_now"].items():
        now = datetime.fromisoformat(instant.replace("Z", "+00:00"))
        assert bool(clock.checked(now).note) is disagrees, instant


@pytest.mark.parametrize("name", [n for n in SAMPLES if "error" in n])
def test_translated_errors_are_failures_quoting_the_host(name: str) -> None:
    with pytest.raises(RegistryReadError) as error:
        read_international(sample(name))
    assert expected(name)["says"] in error.value.reason
    with pytest.raises(RegistryReadError):
        read_time_zone(sample(name))


def test_key_line_is_matched_whatever_its_case_and_subkeys_end_the_values() -> None:
    text = (
        "\r\nhkey_current_user\\control panel\\INTERNATIONAL\r\n"
        "    sShortDate    REG_SZ    dd.MM.yyyy\r\n\r\n"
        f"{INTERNATIONAL_KEY}\\Geo\r\n    Nation    REG_SZ    223\r\n"
    )
    key = parse_reg_query(text, INTERNATIONAL_KEY)
    assert key.get("SSHORTDATE") == "dd.MM.yyyy"
    assert key.get("Nation") is None


@pytest.mark.parametrize(
    ("data", "value"),
    [("0xfffffe20", -480), ("0x1e0", 480), ("0x0", 0), ("0xffffffc4", -60), ("12", 12)],
)
def test_dwords_are_signed(data: str, value: int) -> None:
    key = parse_reg_query(f"\n{TIME_ZONE_KEY}\n    Bias    REG_DWORD    {data}\n", TIME_ZONE_KEY)
    assert read_dword(key, "Bias") == value


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ("    sTimeFormat    REG_SZ    HH:mm:ss\r\n", "no sShortDate"),
        ("    sShortDate    REG_SZ\r\n    sTimeFormat    REG_SZ    HH:mm:ss\r\n", "no sShortDate"),
        ("    sShortDate    REG_SZ    dd.MM.yyyy\r\n", "no sTimeFormat"),
        (
            "    sShortDate    REG_SZ    dd.MM.yyyy\r\n    sTimeFormat    REG_SZ    ss\r\n",
            "no sTime",
        ),
    ],
)
def test_an_international_key_without_usable_pictures_is_refused(values: str, words: str) -> None:
    with pytest.raises(RegistryReadError, match=words):
        read_international(f"\r\n{INTERNATIONAL_KEY}\r\n{values}")


def test_nothing_printed_is_a_failure_too() -> None:
    with pytest.raises(RegistryReadError, match="no output"):
        read_time_zone("")


def test_a_clock_that_agrees_with_its_rules_has_no_note() -> None:
    zone = read_time_zone(sample("reg-timezone-zh-cn-01"))
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert HostClock("host", zone.name, zone).checked(now).note == ""
