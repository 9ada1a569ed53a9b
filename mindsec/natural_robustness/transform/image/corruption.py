"""Noise: uniform, Gaussian, salt and pepper, and natural (dark specks and streaks)."""
import math

import numpy as np
from scipy import ndimage

from ....errors import InputError
from .natural_perturb import _NaturalPerturb, check_auto, check_real

LOW, HIGH = 0, 255


def _factor(factor, auto_param):
    factor = check_real("factor", factor, low=0, high=1)
    return np.random.uniform(0, 0.15) if check_auto(auto_param) else factor


class UniformNoise(_NaturalPerturb):
    """Add noise from U(-factor, factor) of the 0-255 range to every value, clipped;
    ``factor`` in [0, 1] (suggested [0.001, 0.15]). ``auto_param`` draws it from
    U(0, 0.15) once, at construction."""

    def __init__(self, factor=0.1, auto_param=False):
        self.factor = _factor(factor, auto_param)

    def _perturb(self, pixels, rng):
        weight = self.factor * (HIGH - LOW)
        return np.clip(pixels + rng.uniform(-weight, weight, size=pixels.shape), LOW, HIGH)


class GaussianNoise(_NaturalPerturb):
    """Add Gaussian noise with the standard deviation of U(-factor, factor)
    (``factor / sqrt(3)`` of the 0-255 range) to every value, clipped; ``factor`` in
    [0, 1] (suggested [0.001, 0.15]). ``auto_param`` draws it from U(0, 0.15) once."""

    def __init__(self, factor=0.1, auto_param=False):
        self.factor = _factor(factor, auto_param)

    def _perturb(self, pixels, rng):
        std = self.factor / math.sqrt(3) * (HIGH - LOW)
        return np.clip(pixels + rng.normal(scale=std, size=pixels.shape), LOW, HIGH)


class SaltAndPepperNoise(_NaturalPerturb):
    """Set a fraction ``factor`` / 2 of the pixels (all channels) black and as many white;
    ``factor`` in [0, 1] (suggested [0.001, 0.15]). ``auto_param`` draws it from
    U(0, 0.15) once, at construction."""

    def __init__(self, factor=0, auto_param=False):
        self.factor = _factor(factor, auto_param)

    def _perturb(self, pixels, rng):
        draw = rng.uniform(low=-1, high=1, size=pixels.shape[:2])
        threshold = 1 - self.factor
        out = pixels.copy()
        out[draw < -threshold] = LOW
        out[draw > threshold] = HIGH
        return out


def _range(name, value):
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            and np.isfinite(v) for v in value) or not 1 <= int(value[0]) < int(value[1]):
        raise InputError(f"{name} must be a (low, high) pair with 1 <= low < high (sizes "
                         f"in pixels, high excluded), got {value!r}")
    return tuple(value)


class NaturalNoise(_NaturalPerturb):
    """Dark specks and streaks, as dust or scratches: speck centres at density ``ratio``
    / 5 (suggested ratio [0.00001, 0.001]), each grown to a block of k_x x k_y pixels
    (k_x drawn from ``k_x_range``, k_y from ``k_y_range``, high excluded) of one dark grey
    in [0, 100), with copies of the centres scattered around the blocks, then shifted
    copies of the centres (and the edge bands the shifts leave) cleared; the image shows
    through elsewhere. MindArmour draws five such patterns and keeps the last; so does
    this class, with the same draws from the random source (where MindArmour draws grey
    level 0 its uint8 arithmetic drops the pattern; here it is drawn black).
    ``auto_param``: for each image, ratio from U(0, 0.001) and block sizes up to a tenth
    of the image."""

    DARK = 100          # grey levels below this are the noise; 255 is "no noise"

    def __init__(self, ratio=0.0002, k_x_range=(1, 5), k_y_range=(3, 25), auto_param=False):
        self.ratio = check_real("ratio", ratio, low=0, high=1)
        self.k_x_range = _range("k_x_range", k_x_range)
        self.k_y_range = _range("k_y_range", k_y_range)
        self.auto_param = check_auto(auto_param)

    @staticmethod
    def _shifted(points, dx, dy):
        """``points`` (bool (H, W)) moved ``dx`` rows down and ``dy`` columns right."""
        out = np.zeros_like(points)
        h, w = points.shape
        if abs(dx) < h and abs(dy) < w:
            out[max(dx, 0):h + min(dx, 0), max(dy, 0):w + min(dy, 0)] = \
                points[max(-dx, 0):h - max(dx, 0), max(-dy, 0):w - max(dy, 0)]
        return out

    def _pattern(self, shape, ratio, kx_range, ky_range, rng):
        """One draw: (grey level, dark bool (H, W))."""
        centres = rng.uniform(size=shape) < ratio / 5
        level = int(rng.randint(0, self.DARK))
        kx, ky = int(rng.randint(*kx_range)), int(rng.randint(*ky_range))
        dark = ndimage.maximum_filter(centres, size=(kx, ky), mode="constant", cval=False)
        for _ in range(rng.randint(math.ceil(kx * ky / 2))):
            dx, dy = rng.randint(-kx, kx), rng.randint(-ky, ky)
            dark |= self._shifted(centres, dx, dy)
        for _ in range(int(kx * ky / 2)):
            dx = rng.randint(int(-kx / 2 - 1), int(kx / 2 + 1))
            dy = rng.randint(int(-ky / 2 - 1), int(ky / 2 + 1))
            clear = self._shifted(centres, dx, dy)
            dark &= ~clear
            dark[self._border(shape, dx, dy)] = False
        return level, dark

    @staticmethod
    def _border(shape, dx, dy):
        """The rows and columns a shift by (dx, dy) leaves empty."""
        edge = np.zeros(shape, bool)
        h, w = shape
        edge[:max(dx, 0)] = True
        edge[h + min(dx, 0):] = True
        edge[:, :max(dy, 0)] = True
        edge[:, w + min(dy, 0):] = True
        return edge

    def _perturb(self, pixels, rng):
        rows, cols = pixels.shape[:2]
        ratio, kx_range, ky_range = self.ratio, self.k_x_range, self.k_y_range
        if self.auto_param:
            ratio = rng.uniform(0, 0.001)
            kx_range, ky_range = (1, max(2, int(0.1 * rows))), (1, max(2, int(0.1 * cols)))
        for _ in range(5):
            level, dark = self._pattern((rows, cols), ratio, kx_range, ky_range, rng)
        if pixels.ndim == 3:
            dark = dark[..., None]
        return np.where(dark, level, pixels)
