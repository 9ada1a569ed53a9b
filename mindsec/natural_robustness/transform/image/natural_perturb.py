"""The common part of the image transforms: the input check, the conversion to uint8
pixels in (H, W) or (H, W, 3) layout and back to the caller's layout, scale and dtype,
and the argument checks they share."""
import numbers

import numpy as np

from ....checks import check_flag, check_number
from ....errors import InputError


def check_real(name, value, low=None, high=None, low_open=False):
    """A finite real number (not bool), optionally in [low, high] (``low_open``: > low)."""
    return check_number(name, value, low=low, high=high, low_open=low_open)


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
    return str(value)


def check_pair(name, value, integer=False):
    """A list or tuple of two finite numbers (integers with ``integer``)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InputError(f"{name} must be a list or tuple of two numbers, got {value!r}")
    for v in value:
        if integer and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise InputError(f"{name} must hold two integers, got {value!r}")
        check_real(name, v)
    return tuple(value)


def check_color(name, value):
    """Three numbers in [0, 255] (one per channel)."""
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)
            and 0 <= v <= 255 for v in value):
        raise InputError(f"{name} must be three numbers in [0, 255], got {value!r}")
    return tuple(value)


def check_rng(rng):
    """``None`` (``np.random``, MindArmour's source) or a ``numpy.random.RandomState``."""
    if rng is None:
        return np.random
    if not isinstance(rng, np.random.RandomState):
        raise InputError(f"rng must be a numpy.random.RandomState or None, got "
                         f"{type(rng).__name__}")
    return rng


class _Layout:
    """How an input image was laid out, to give the result the same layout."""

    def __init__(self, dtype, chw=False, normalized=False, gray3dim=False, gray_last=False):
        self.dtype, self.chw, self.normalized = dtype, chw, normalized
        self.gray3dim, self.gray_last = gray3dim, gray_last

    def restore(self, image):
        image = np.asarray(image)
        if self.chw:
            image = image.transpose(2, 0, 1)
        if self.normalized:
            image = image / 255
        if self.gray3dim:
            image = image[None]
        if self.gray_last:
            image = image[..., None]
        return image.astype(self.dtype)


def to_pixels(image):
    """``(pixels, layout)``: uint8 pixels (H, W) or (H, W, 3) of one image, and its
    layout. Floats in [0, 1] are scaled by 255; values are truncated to integers, as
    MindArmour does."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype == np.bool_ or not (np.issubdtype(image.dtype, np.integer)
                                       or np.issubdtype(image.dtype, np.floating)):
        raise InputError(f"image must be an integer or float array, got dtype {image.dtype}")
    shape = image.shape
    if image.ndim not in (2, 3) or min(shape) < 1 or (
            image.ndim == 3 and not (shape[0] == 3 and min(shape[1:]) > 3)
            and shape[2] not in (1, 3) and shape[0] != 1):
        raise InputError(f"image must be (H, W), (1, H, W), (H, W, 1), (H, W, 3) or "
                         f"(3, H, W), got shape {shape}")
    low, high = float(image.min()), float(image.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InputError("image contains NaN or Inf")
    if low < 0 or high > 255:
        raise InputError(f"image values must lie in [0, 1] or [0, 255], got "
                         f"[{low:g}, {high:g}]")
    layout = _Layout(image.dtype, normalized=high <= 1)
    if image.ndim == 3:
        if shape[0] == 3 and shape[1] > 3 and shape[2] > 3:
            layout.chw = True
            image = image.transpose(1, 2, 0)
        elif shape[2] == 3:
            pass
        elif shape[0] == 1:
            layout.gray3dim = True
            image = image[0]
        else:                               # (H, W, 1)
            layout.gray_last = True
            image = image[..., 0]
    if layout.normalized:
        image = image * 255
    return np.ascontiguousarray(image).astype(np.uint8), layout


class _NaturalPerturb:
    """An image transform: ``transform(image, rng=None)``, and ``__call__(image)`` for
    MindArmour's interface. Subclasses implement ``_perturb(pixels, rng)`` on uint8
    (H, W) or (H, W, 3) pixels."""

    def __call__(self, image):
        """Transform one image (numpy); returns an image of the same shape and dtype."""
        return self.transform(image)

    def transform(self, image, rng=None):
        """Transform one image, drawing any randomness from ``rng`` (a
        ``numpy.random.RandomState``; None: ``np.random``)."""
        rng = check_rng(rng)
        pixels, layout = to_pixels(image)
        return layout.restore(self._perturb(pixels, rng))

    def _perturb(self, pixels, rng):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def check_auto(auto_param):
    return check_flag("auto_param", auto_param)
