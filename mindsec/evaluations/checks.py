"""Argument checks shared by the evaluation classes."""
import numpy as np

from ..checks import to_class_indices
from ..errors import InputError


def as_array(name, value, ndim=None):
    value = value.asnumpy() if hasattr(value, "asnumpy") else np.asarray(value)
    if not np.issubdtype(value.dtype, np.number):
        raise InputError(f"{name} must be numeric, got dtype {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise InputError(f"{name} must be {ndim}-D, got shape {value.shape}")
    if value.shape and value.shape[0] == 0:
        raise InputError(f"{name} is empty")
    if value.size and not (np.isfinite(value.min()) and np.isfinite(value.max())):
        raise InputError(f"{name} contains NaN or Inf")   # NaN and Inf reach min or max
    return value


def probabilities(name, value):
    """(N, K) rows of class probabilities: in [0, 1], summing to 1 (softmax outputs)."""
    value = as_array(name, value, ndim=2)
    if value.min() < 0 or value.max() > 1 or \
            not np.allclose(value.sum(axis=1), 1.0, atol=1e-3):
        raise InputError(f"{name} must be probabilities (rows in [0, 1] summing to 1); "
                         f"apply softmax to logits first")
    return value


def same_length(**arrays):
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise InputError("length mismatch: " + ", ".join(f"{k} has {v}"
                                                         for k, v in lengths.items()))


def labels_to_indices(name, labels, n, num_classes):
    labels = as_array(name, labels)
    return to_class_indices(labels, n, num_classes, name=name)
