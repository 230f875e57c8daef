"""Every quser/qwinsta corpus sample against its hand-written expectation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetlogoff.errors import HostCommandError, ParseError
from fleetlogoff.parsers import parse_quser, parse_qwinsta, sessions_to_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = FIXTURES / "corpus"
EXPECTED = FIXTURES / "expected"
SAMPLES = sorted(path.stem for path in CORPUS.glob("q*.txt"))


def has_sessions(name: str) -> bool:
    path = EXPECTED / f"{name}.json"
    return path.exists() and bool(json.loads(path.read_text(encoding="utf-8")).get("sessions"))


LISTINGS = [name for name in SAMPLES if has_sessions(name)]


def read_sample(name: str) -> str:
    """Return a corpus sample without its `#` header (up to and including `# ---`)."""
    text = (CORPUS / f"{name}.txt").read_text(encoding="utf-8")
    return text.split("# ---\n", 1)[1]


def run_parser(name: str, text: str) -> list[dict[str, object]]:
    if name.startswith("quser"):
        return sessions_to_json(parse_quser(text))
    return sessions_to_json(parse_qwinsta(text))


def test_every_listing_sample_has_an_expectation() -> None:
    assert len(SAMPLES) >= 43  # the shared corpus's 42, plus those found since
    assert len(LISTINGS) >= 34
    missing = [name for name in SAMPLES if not (EXPECTED / f"{name}.json").exists()]
    assert missing == []


@pytest.mark.parametrize("name", SAMPLES)
def test_corpus_sample(name: str) -> None:
    expected = json.loads((EXPECTED / f"{name}.json").read_text(encoding="utf-8"))
    text = read_sample(name)
    error = expected.get("error")
    if error == "ParseError":
        with pytest.raises(ParseError) as parse_error:
            run_parser(name, text)
        assert parse_error.value.line_number == expected["line"]
        assert parse_error.value.raw == text
    elif error == "HostCommandError":
        with pytest.raises(HostCommandError) as host_error:
            run_parser(name, text)
        assert host_error.value.code == expected["code"]
        if "reason" in expected:
            assert host_error.value.reason == expected["reason"]
    else:
        assert run_parser(name, text) == expected["sessions"]


@pytest.mark.parametrize("name", LISTINGS)
def test_corpus_sample_with_crlf_and_trailing_blanks(name: str) -> None:
    """Windows writes CRLF and sometimes pads lines; neither may change the result."""
    expected = json.loads((EXPECTED / f"{name}.json").read_text(encoding="utf-8"))
    text = "\r\n".join(line + "   " for line in read_sample(name).split("\n"))
    assert run_parser(name, text) == expected["sessions"]
