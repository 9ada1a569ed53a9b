"""Blur: Gaussian, motion (a line kernel at an angle) and gradient (sharp to blurred
rings about a point)."""
import numpy as np

from . import _ops
from .natural_perturb import (_NaturalPerturb, check_auto, check_flag, check_pair,
                              check_positive_int, check_real)


class GaussianBlur(_NaturalPerturb):
    """Gaussian blur with a (2 ksize + 1)-pixel square kernel, sigma from the size
    (0.3 ((n - 1) / 2 - 1) + 0.8 for n taps), reflected borders. ``auto_param`` draws
    an odd size in 1..9 once, at construction."""

    def __init__(self, ksize=2, auto_param=False):
        ksize = check_positive_int("ksize", ksize)
        size = 2 * np.random.randint(0, 5) + 1 if check_auto(auto_param) else 2 * ksize + 1
        self.ksize = (int(size), int(size))

    def _perturb(self, pixels, rng):
        return _ops.gaussian_blur(pixels, self.ksize[0])


class MotionBlur(_NaturalPerturb):
    """Motion blur along a line of ``degree`` pixels (suggested [1, 15]) at ``angle``
    degrees counter-clockwise (0: up and down); the result is stretched to the full
    0-255 range afterwards. ``auto_param`` draws the degree in 1..4 and the angle from
    U(0, 360) once, at construction."""

    def __init__(self, degree=5, angle=45, auto_param=False):
        self.degree = check_positive_int("degree", degree)
        self.angle = check_real("angle", angle) - 45       # the kernel's line is at 45
        if check_auto(auto_param):
            self.degree = int(np.random.randint(1, 5))
            self.angle = np.random.uniform(0, 360)

    def kernel(self):
        """The normalised line kernel (float64 (degree, degree))."""
        d = self.degree
        line = _ops.warp_affine(np.eye(d), _ops.rotation_matrix((d / 2, d / 2), self.angle),
                                (d, d))
        return line / d

    def _perturb(self, pixels, rng):
        blurred = _ops.filter2d(pixels, self.kernel())
        low, high = float(blurred.min()), float(blurred.max())
        scale = 255 / (high - low) if high - low > np.finfo(np.float64).eps else 0.0
        return _ops.saturate_round(_ops.scale_add(blurred, scale, -low * scale))


class GradientBlur(_NaturalPerturb):
    """Blur growing ring by ring from ``point`` = (x, y): ``kernel_num`` rings (suggested
    [1, 8]) blurred with Gaussian kernels of 3, 5, 7, ... taps; ``center`` True keeps the
    centre sharp, False blurs it most. ``auto_param``: for each image, a random point,
    number of rings (1..5) and centre mode."""

    def __init__(self, point, kernel_num=3, center=True, auto_param=False):
        self.point = check_pair("point", point, integer=True)
        self.kernel_num = check_positive_int("kernel_num", kernel_num)
        self.center = check_flag("center", center)
        self.auto_param = check_auto(auto_param)

    def _perturb(self, pixels, rng):
        rows, cols = pixels.shape[:2]
        point, num, center = self.point, self.kernel_num, self.center
        if self.auto_param:
            point = (int(rng.uniform(0, cols)), int(rng.uniform(0, rows)))
            num = int(rng.randint(1, 6))
            center = bool(rng.choice([True, False]))
        x, y = int(point[0]), int(point[1])
        radius = int(max(rows - x, x, cols - y, y) / num)
        yy, xx = np.mgrid[0:rows, 0:cols]
        dist2 = (xx - x) ** 2 + (yy - y) ** 2
        masks = [dist2 <= (radius * (i + 1)) ** 2 for i in range(num)]
        blurs = [_ops.gaussian_blur(pixels, 3 + 2 * i) for i in range(num)]
        if pixels.ndim == 3:
            masks = [m[..., None] for m in masks]
        out = pixels
        if center:       # ring i keeps what is inside it, blur i outside
            for mask, blur in zip(masks, blurs):
                out = np.where(mask, out, blur)
        else:            # the outer rings first: the centre ends with the widest blur
            for i in range(num - 1, -1, -1):
                out = np.where(masks[i], blurs[num - 1 - i], out)
        return out
