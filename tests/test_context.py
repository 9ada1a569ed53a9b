import pytest

import mindspore as ms

from mindsec import context
from mindsec.errors import DeviceError, InputError
from conftest import error_lines, run_script


def test_cpu_is_selected_and_available():
    assert context.set_device("CPU", "graph") == "CPU"
    assert context.current() == ("CPU", "graph")
    assert "CPU" in context.available_targets()


def test_auto_picks_an_available_target():
    assert context.set_device("auto") in context.available_targets()


def test_mode_switches():
    context.set_device("cpu", "pynative")
    assert ms.get_context("mode") == ms.PYNATIVE_MODE
    context.set_device("CPU", "graph")
    assert ms.get_context("mode") == ms.GRAPH_MODE


@pytest.mark.parametrize("target", ["GPU", "Ascend"])
def test_unavailable_target_names_what_is_available(target):
    if context.is_available(target):  # pragma: no cover - only on accelerator machines
        pytest.skip(f"{target} exists on this machine")
    with pytest.raises(DeviceError, match=rf"device {target} is not available.*available: CPU"):
        context.set_device(target)


def test_unknown_target_and_mode():
    with pytest.raises(InputError, match="device must be one of"):
        context.set_device("TPU")
    with pytest.raises(InputError, match="mode must be"):
        context.set_device("CPU", mode="eager")


def test_script_reports_unavailable_device_in_one_line():
    proc = run_script("-m", "mindsec.cli", "train", "--device", "GPU", "--epochs", "1")
    assert proc.returncode == 2
    lines = error_lines(proc.stderr)
    assert lines == ["error: device GPU is not available with this MindSpore build on this "
                     "machine; available: CPU"], proc.stderr
    assert "Traceback" not in proc.stderr
