"""benchmarks/host_cpu.py times named functions of the tool: every name it wraps must
still exist (else the benchmark would stop at its first round), and its clock must charge
each layer only what its wrapped callees did not take."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "host_cpu.py"


@pytest.fixture(scope="module")
def host_cpu() -> ModuleType:
    spec = importlib.util.spec_from_file_location("host_cpu_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_layer_names_a_function_of_the_tool(host_cpu: ModuleType) -> None:
    for module_name, path, label in host_cpu.LAYERS:
        owner, name, function = host_cpu.resolve(module_name, path)
        assert getattr(owner, name) is function, label


def test_a_missing_name_is_an_error(host_cpu: ModuleType) -> None:
    with pytest.raises(AttributeError):
        host_cpu.resolve("fleetlogoff.transport.http11", "HttpConnection.no_such_method")


class _Clock:
    """A CPU clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds


def test_each_layer_is_charged_without_its_wrapped_callees(host_cpu: ModuleType) -> None:
    cpu = _Clock()
    clock = host_cpu.LayerClock(cpu)
    inner = clock.wrap(lambda: cpu.spend(3.0), "inner")

    def outer_work() -> None:
        cpu.spend(1.0)
        inner()
        cpu.spend(0.5)

    outer = clock.wrap(outer_work, "outer")
    outer()
    outer()
    assert clock.spent == {"inner": 6.0, "outer": 3.0}


def test_wrapping_is_undone(host_cpu: ModuleType) -> None:
    module_name, path, _ = host_cpu.LAYERS[0]
    before = host_cpu.resolve(module_name, path)[2]
    with host_cpu.layers_timed(host_cpu.LayerClock()):
        assert host_cpu.resolve(module_name, path)[2] is not before
    assert host_cpu.resolve(module_name, path)[2] is before


def test_a_layer_nobody_called_is_named(host_cpu: ModuleType) -> None:
    clock = host_cpu.LayerClock(_Clock())
    labels = [label for _, _, label in host_cpu.LAYERS]
    clock.spent.update(dict.fromkeys(labels[1:], 0.001))
    assert host_cpu.never_called(clock) == labels[:1]


def test_every_layer_has_a_kind(host_cpu: ModuleType) -> None:
    labels = {label for _, _, label in host_cpu.LAYERS}
    assert set(host_cpu.KIND_OF_LAYER) == labels
    assert set(host_cpu.KIND_OF_LAYER.values()) == {"http", "winrm", "reading", "glue"}


def test_kind_totals_sum_per_host_read(host_cpu: ModuleType) -> None:
    clock = host_cpu.LayerClock(_Clock())
    clock.spent.update({"TCP connect": 0.2, "HTTP answer (receive, parse)": 0.4})
    clock.spent.update({"unframe and unseal": 0.1, "read_host (rest)": 0.3})
    totals = host_cpu.kind_totals(clock, reads=100)
    assert totals == pytest.approx({"http": 6.0, "winrm": 1.0, "reading": 0.0, "glue": 3.0})
