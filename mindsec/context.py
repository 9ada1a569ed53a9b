"""Device target and execution mode: the one place mindsec configures MindSpore.

    >>> from mindsec import context
    >>> context.set_device("auto")          # best available: Ascend, then GPU, then CPU
    'CPU'

Uses MindSpore 2.x's ``mindspore.set_device`` (not the deprecated
``set_context(device_target=...)``). A target this MindSpore build or machine cannot run
raises :class:`~mindsec.errors.DeviceError` with one line naming the available targets.
"""
from contextlib import contextmanager

import mindspore as ms

from .checks import check_count
from .errors import DeviceError, InputError

TARGETS = ("Ascend", "GPU", "CPU")            # "auto" picks the first available, in order
_MODES = {"graph": ms.GRAPH_MODE, "pynative": ms.PYNATIVE_MODE}
_state = {"device": None, "threads": None}


def _canonical(device):
    names = {t.lower(): t for t in TARGETS}
    names["auto"] = "auto"
    key = str(device).strip().lower()
    if key not in names:
        raise InputError(f"device must be one of CPU, GPU, Ascend or auto, got {device!r}")
    return names[key]


def is_available(target):
    """Whether this MindSpore build can run ``target`` here, without MindSpore's warnings."""
    target = _canonical(target)
    if target == "CPU":
        return True
    try:
        from mindspore._c_expression import MSContext  # pylint: disable=import-outside-toplevel
        if not MSContext.get_instance().is_pkg_support_device(target):
            return False
    except (ImportError, AttributeError):  # older builds: fall back to the public probe
        module = getattr(ms.device_context, target.lower(), None)
        if module is None or not module.device.is_available():
            return False
    module = getattr(ms.device_context, target.lower())
    try:
        return module.device_count() > 0
    except Exception:  # pylint: disable=broad-except
        return False   # the plugin loaded but no device is visible


def available_targets():
    """The targets usable on this machine, best first."""
    return [t for t in TARGETS if is_available(t)]


def set_device(device="auto", mode="graph", device_id=None, threads=None):
    """Select the device target and execution mode for this process.

    Args:
        device (str): ``"CPU"``, ``"GPU"``, ``"Ascend"`` or ``"auto"`` (case-insensitive).
        mode (str): ``"graph"`` (default; compiled, fast) or ``"pynative"``.
        device_id (int): which card, for GPU/Ascend. Default: MindSpore's choice.
        threads (int): CPU kernel threads. Default: MindSpore's own (measured: no slower
            than one thread per core for LeNet5 on 2 cores).

    Returns:
        str: the target in use.

    MindSpore fixes the target once per process; calling again with the same target only
    changes the mode, and asking for a different one raises ``DeviceError``.
    """
    target = _canonical(device)
    if mode not in _MODES:
        raise InputError(f"mode must be 'graph' or 'pynative', got {mode!r}")
    if target == "auto":
        target = available_targets()[0]
    elif not is_available(target):
        raise DeviceError(
            f"device {target} is not available with this MindSpore build on this machine; "
            f"available: {', '.join(available_targets())}")
    if _state["device"] is None:
        if device_id is None:
            ms.set_device(target)
        else:
            ms.set_device(target, int(device_id))
        _state["device"] = target
        if target == "CPU" and threads is not None:
            _set_cpu_threads(threads)
    elif _state["device"] != target:
        raise DeviceError(f"device is already set to {_state['device']} in this process; "
                          f"start a new process to use {target}")
    ms.set_context(mode=_MODES[mode])
    return target


def _set_cpu_threads(threads):
    check_count("threads", threads)
    try:
        ms.device_context.cpu.op_tuning.threads_num(int(threads))
        _state["threads"] = int(threads)
    except RuntimeError:   # already configured by the user in this process: keep theirs
        pass


def current():
    """(target, mode) in force, e.g. ``("CPU", "graph")``."""
    mode = "graph" if ms.get_context("mode") == ms.GRAPH_MODE else "pynative"
    return ms.get_context("device_target"), mode


@contextmanager
def in_mode(mode):
    """Run the block in MindSpore's ``mode`` (``"graph"`` or ``"pynative"``), the previous
    mode restored after (a training loop needs GRAPH; forward hooks run only in PYNATIVE)."""
    previous = ms.get_context("mode")
    wanted = _MODES[mode]
    if previous != wanted:
        ms.set_context(mode=wanted)
    try:
        yield
    finally:
        if previous != wanted:
            ms.set_context(mode=previous)
