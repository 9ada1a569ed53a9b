"""Argument checks: every public function and class of mindsec checks its arguments
through these, so a bad argument always gets the same kind of one-line
:class:`~mindsec.errors.InputError` naming it and what was expected.

No MindSpore import here (the command line checks its options before MindSpore loads);
MindSpore tensors are recognised by their ``asnumpy`` method.
"""
import numbers
import warnings

import numpy as np

from .errors import InputError


def check_number(name, value, low=None, high=None, low_open=True, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise InputError(f"{name} must be <= {high}, got {value}")
    return value


def check_bounds(bounds):
    """``None`` or a (min, max) pair of finite numbers with min < max."""
    if bounds is None:
        return None
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise InputError(f"bounds must be a (min, max) pair, got {bounds!r}")
    low = check_number("bounds[0]", bounds[0])
    high = check_number("bounds[1]", bounds[1])
    if low >= high:
        raise InputError(f"bounds must satisfy min < max, got {tuple(bounds)}")
    return low, high


def check_box(box_min, box_max):
    """MindArmour's ``box_min``/``box_max`` pair: finite numbers with box_min < box_max."""
    box_min = check_number("box_min", box_min)
    box_max = check_number("box_max", box_max)
    if box_min >= box_max:
        raise InputError(f"box_min must be below box_max, got box_min={box_min}, "
                         f"box_max={box_max}")
    return box_min, box_max


def check_inputs(inputs, bounds, name="inputs"):
    """A float32 numpy array (N, ...) with finite values inside ``bounds``."""
    if hasattr(inputs, "asnumpy"):
        inputs = inputs.asnumpy()
    if not isinstance(inputs, np.ndarray):
        raise InputError(f"{name} must be a numpy array or Tensor, got {type(inputs).__name__}")
    if not np.issubdtype(inputs.dtype, np.floating):
        raise InputError(f"{name} must be a float array (scaled to bounds), got dtype "
                         f"{inputs.dtype}")
    if inputs.ndim < 2 or inputs.shape[0] == 0:
        raise InputError(f"{name} must have shape (N, ...) with N >= 1, got {inputs.shape}")
    inputs = np.ascontiguousarray(inputs, dtype=np.float32)
    low, high = float(inputs.min()), float(inputs.max())   # NaN and Inf reach min or max
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InputError(f"{name} contains NaN or Inf")
    if bounds is not None:
        if low < bounds[0] - 1e-6 or high > bounds[1] + 1e-6:
            raise InputError(f"{name} span [{low:g}, {high:g}], outside bounds {bounds}; "
                             f"pass the bounds of your data")
    return inputs


def to_class_indices(labels, n, num_classes=None, name="labels"):
    """Class indices (int32 (N,)) from class indices or one-hot rows (N, K)."""
    if hasattr(labels, "asnumpy"):
        labels = labels.asnumpy()
    labels = np.asarray(labels)
    if labels.ndim == 2:
        if not np.issubdtype(labels.dtype, np.number) or not np.isfinite(labels).all():
            raise InputError(f"{name}: one-hot rows must be finite numbers")
        if num_classes is not None and labels.shape[1] != num_classes:
            raise InputError(f"{name}: one-hot width {labels.shape[1]} does not match the "
                             f"network's {num_classes} outputs")
        is_one_hot = np.isin(labels, (0, 1)).all() and (labels.sum(axis=1) == 1).all()
        if not is_one_hot:           # MindArmour reads any 2-D rows by their argmax
            ties = int(((labels == labels.max(axis=1, keepdims=True)).sum(axis=1) > 1).sum())
            warnings.warn(f"{name}: 2-D rows are not one-hot; each row's argmax is its class, "
                          f"as in MindArmour" + (f" ({ties} rows have tied maxima: the "
                                                  f"first is taken)" if ties else ""),
                          UserWarning, stacklevel=3)
        labels = labels.argmax(axis=1)
    elif labels.ndim != 1:
        raise InputError(f"{name} must be class indices (N,) or one-hot (N, K), got shape "
                         f"{labels.shape}")
    elif not np.issubdtype(labels.dtype, np.integer):
        if not (np.issubdtype(labels.dtype, np.floating) and np.isfinite(labels).all()
                and (labels == np.round(labels)).all()):
            raise InputError(f"{name}: class indices must be integers, got dtype "
                             f"{labels.dtype}")
    if labels.shape[0] != n:
        raise InputError(f"{name} has {labels.shape[0]} entries for {n} inputs")
    labels = labels.astype(np.int32)
    top = num_classes if num_classes is not None else np.inf
    if labels.size and (labels.min() < 0 or labels.max() >= top):
        raise InputError(f"{name}: class indices must lie in [0, {num_classes}), got "
                         f"[{labels.min()}, {labels.max()}]")
    return labels


def check_count(name, value, low=1, allow_none=False):
    """An integer ``>= low`` (iterations, epochs, batch sizes, restarts, classes); None
    passes through with ``allow_none``. The one integer check every module uses."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(
            low, f"an integer >= {low}")
        raise InputError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_batch_size(batch_size):
    return check_count("batch_size", batch_size)


def check_flag(name, value):
    if not isinstance(value, bool):
        raise InputError(f"{name} must be True or False, got {value!r}")
    return value


def check_seed(seed):
    """``seed`` as an int; None draws one from ``np.random`` (MindArmour's source)."""
    if seed is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)
