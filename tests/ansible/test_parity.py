"""fleetlogoff reads every inventory of the parity corpus as ansible-core does: the same
hosts in the same order, the same groups, the same merged variables, the same hosts for
each --limit pattern, the same connection; or it differs on purpose, as the case says.

Without ansible-core the comparison is with what ansible-core printed when the case was
recorded (ansible.json); with it (`pip install .[bench]`), also with ansible-core live,
which must still print what was recorded."""

from __future__ import annotations

import pytest

from tests.ansible.parity import (
    Case,
    ansible_view,
    cases,
    differences,
    have_ansible,
    our_view,
    recorded_view,
)

CASES = cases()


def _id(case: Case) -> str:
    return case.name


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_reads_as_ansible_core_recorded(case: Case) -> None:
    if case.needs_ansible and not have_ansible():
        # a script or plugin source: without ansible-core, one line says what to install
        error = our_view(case).error
        assert error is not None and "ansible-core is not installed" in error
        return
    diff = differences(our_view(case), recorded_view(case))
    if case.deliberate:
        assert diff, f"{case.name} is said to differ on purpose ({case.deliberate}) but does not"
        # a refusal with a reason, or a file ansible-core reads no host from (it warns and
        # goes on with none) that fleetlogoff reads
        ours = our_view(case)
        assert ours.error or (ours.order and not recorded_view(case).order), case.name
    else:
        assert diff == []


@pytest.mark.ansible
@pytest.mark.slow
@pytest.mark.skipif(not have_ansible(), reason="needs ansible-core (pip install .[bench])")
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_reads_as_ansible_core_live(case: Case) -> None:
    live = ansible_view(case)
    assert differences(recorded_view(case), live) == [], "ansible.json is out of date"
    diff = differences(our_view(case), live)
    assert bool(diff) == bool(case.deliberate), diff
