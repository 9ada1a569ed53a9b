"""Luminance: contrast and brightness, and light or shade fading from a point or a line."""
import math

import numpy as np

from ....errors import InputError
from . import _ops
from .natural_perturb import (_NaturalPerturb, check_auto, check_choice, check_color,
                              check_pair, check_real)


class Contrast(_NaturalPerturb):
    """``|alpha * image + beta|`` on the 0-255 scale, clipped to it: ``alpha`` scales the
    contrast (suggested [0.2, 2]), ``beta`` shifts the brightness. ``auto_param`` draws
    alpha from U(0.2, 2) and beta from U(-20, 20) once, at construction."""

    def __init__(self, alpha=1, beta=0, auto_param=False):
        self.alpha = check_real("alpha", alpha)
        self.beta = check_real("beta", beta)
        if check_auto(auto_param):
            self.alpha = np.random.uniform(0.2, 2)
            self.beta = np.random.uniform(-20, 20)

    def _perturb(self, pixels, rng):
        return _ops.saturate_round(np.abs(_ops.scale_add(pixels, self.alpha, self.beta)))


def circle_mask(shape, color_start, color_end, scope, point):
    """A radial gradient: ``color_start`` at ``point`` = (row, column), changing linearly
    with the (whole-pixel) distance to ``color_end`` at ``scope`` times the largest
    corner distance, the brightest end colour beyond. uint8 of ``shape``."""
    height, width = shape[:2]
    x, y = point
    corners = (math.sqrt(x ** 2 + y ** 2), math.sqrt(height ** 2 + (width - y) ** 2),
               math.sqrt((height - x) ** 2 + y ** 2),
               math.sqrt((height - x) ** 2 + (width - y) ** 2))
    radius = max(math.ceil(c) for c in corners) * scope
    rows, cols = np.mgrid[0:height, 0:width]
    dist = np.ceil(np.sqrt((x - rows) ** 2.0 + (y - cols) ** 2.0))
    inside = dist < radius
    channels = 3 if len(shape) == 3 else 1
    mask = np.full((height, width, channels), max(color_end), np.float64)
    for c in range(channels):
        grad = float(color_end[c] - color_start[c]) / radius
        mask[..., c] = np.where(inside, color_start[c] + dist * grad, mask[..., c])
    mask = np.trunc(mask).astype(np.uint8)
    return mask if channels == 3 else mask[..., 0]


def line_mask(shape, start_pos, color_start, color_end, mode):
    """A linear gradient across the columns ('horizontal') or rows ('vertical'):
    ``color_start`` at the line through ``start_pos`` (its row over the height sets the
    horizontal position, its column over the width the vertical one; None: the middle),
    ``color_end`` at the farther edge, continued at the same slope to the nearer one."""
    h, w = shape[:2]
    horizontal = mode == "horizontal"
    if start_pos is None:
        frac = 0.5
    else:
        pos, length = (start_pos[0], h) if horizontal else (start_pos[1], w)
        frac = 1 if pos > length else pos / length
    start, end = np.array(color_start, np.float64), np.array(color_end, np.float64)
    n = w if horizontal else h
    first = int(n * frac)
    second = n - first
    if first > second:
        far = (end - start) / frac * (1 - frac) + start
        line = np.concatenate([np.linspace(end, start, first), np.linspace(start, far, second)])
    else:
        near = (end - start) / (1 - frac) * frac + start
        line = np.concatenate([np.linspace(near, start, first), np.linspace(start, end, second)])
    mask = np.broadcast_to(line[None] if horizontal else line[:, None], (h, w, 3))
    mask = mask.astype(np.uint8)
    return mask if len(shape) == 3 else mask[..., 0]


class GradientLuminance(_NaturalPerturb):
    """Light ('light': the gradient mask added with weight ``bright_rate``) or shade
    ('dark': the image weighted ``bright_rate``, the mask ``1 - bright_rate``) fading from
    ``start_point`` = (row, column) in ``mode`` 'circle' (radius ``scope`` of the largest
    corner distance), 'horizontal' or 'vertical', from ``color_start`` to ``color_end``.
    ``auto_param``: for each image, random colours, point, scope, rate, pattern, mode."""

    def __init__(self, color_start=(0, 0, 0), color_end=(255, 255, 255), start_point=(10, 10),
                 scope=0.5, pattern="light", bright_rate=0.3, mode="circle", auto_param=False):
        self.color_start = check_color("color_start", color_start)
        self.color_end = check_color("color_end", color_end)
        self.start_point = check_pair("start_point", start_point)
        self.scope = check_real("scope", scope, low=0, low_open=True)
        self.bright_rate = check_real("bright_rate", bright_rate, low=0, low_open=True)
        if self.bright_rate >= 1:
            raise InputError(f"bright_rate must be in (0, 1), got {bright_rate}")
        self.pattern = check_choice("pattern", pattern, ("light", "dark"))
        self.mode = check_choice("mode", mode, ("circle", "horizontal", "vertical"))
        self.auto_param = check_auto(auto_param)

    def _random_params(self, rows, cols, rng):
        return dict(color_start=(rng.uniform(0, 255),) * 3, color_end=(rng.uniform(0, 255),) * 3,
                    start_point=(rng.uniform(0, rows), rng.uniform(0, cols)),
                    scope=rng.uniform(0, 1), bright_rate=rng.uniform(0.1, 0.9),
                    pattern=str(rng.choice(["light", "dark"])),
                    mode=str(rng.choice(["circle", "horizontal", "vertical"])))

    def _perturb(self, pixels, rng):
        p = dict(color_start=self.color_start, color_end=self.color_end,
                 start_point=self.start_point, scope=self.scope, bright_rate=self.bright_rate,
                 pattern=self.pattern, mode=self.mode)
        if self.auto_param:
            p = self._random_params(*pixels.shape[:2], rng)
        if p["mode"] == "circle":
            mask = circle_mask(pixels.shape, p["color_start"], p["color_end"], p["scope"],
                               p["start_point"])
        else:
            mask = line_mask(pixels.shape, p["start_point"], p["color_start"],
                             p["color_end"], p["mode"])
        rate = p["bright_rate"]
        a, b = (1.0, rate) if p["pattern"] == "light" else (rate, 1 - rate)
        mixed = (pixels.astype(np.float32) * np.float32(a)
                 + mask.astype(np.float32) * np.float32(b))
        return _ops.saturate_round(mixed)
