"""Diverse-input iterative attacks (Xie et al., "Improving Transferability of Adversarial
Examples With Input Diversity", CVPR 2019, arXiv:1803.06978): BIM and MIM whose gradient
is taken at a randomly transformed input.

Each iteration, with probability ``prob`` per point, the input is resized (nearest
neighbour) to a random ``s x s`` with ``s`` in ``[ceil(resize_rate * W), W]`` and padded
with zeros back to ``W x W`` at a random offset; the loss's gradient is taken through that
transform, and the step is BIM's (``DiverseInputIterativeMethod``) or MIM's
(``MomentumDiverseInputIterativeMethod``) on the untransformed iterate. MindArmour's
classes, arguments and defaults: ``eps=0.3``, ``prob=0.5``, the paper's schedule
``eps_iter = 32/255`` and ``nb_iter = int(min(255 * eps + 4, 1.25 * 255 * eps))``, MDI's
momentum normalised by the L1 norm (``norm_level='l1'``).

The transform runs on the device inside the compiled step, as one gather written as two
selection-matrix products (rows, then columns), so each point has its own size and offset
in one graph of fixed shape. The random draws (per iteration: transform or not, size,
offsets) come from the attack's seeded numpy generator and enter the step as a small
tensor, so a seed repeats the examples. With ``prob=0`` the attacks are BIM and MIM with
the paper's schedule.

Differences from MindArmour 2.0.0, each deliberate: MindArmour's check
``'self._prob' in globals()`` is always false, so its DI and MDI never transform their
inputs (they are BIM and MIM with the schedule above); its transform (had it run) would
also reorder the batch against the labels and quantise to 8 bits. mindsec applies the
transform as the paper describes, per point, in float. ``eps_iter`` and ``nb_iter`` may be
given (keyword-only; None: the schedule above, at least one iteration), and the loss is
mindsec's cancellation-free one unless ``stable_loss=False``.
"""
import math

import numpy as np
import mindspore as ms
from mindspore import ops

from ..checks import check_number
from ..errors import InputError
from .core import AscentStep
from .iterative import BasicIterativeMethod, MomentumIterativeMethod

_EPS_ITER = 16 * 2 / 255          # the paper's step (MindArmour's eps_iter)


def _schedule(eps):
    """MindArmour's (the paper's) number of iterations for ``eps``, at least 1."""
    return max(1, int(min(eps * 255 + 4, 1.25 * 255 * eps)))


def _selection(index, size, offset, length):
    """(B, length, length) 0/1 matrices: row ``i`` picks source pixel
    ``floor((i - offset + 0.5) * length / size)`` where ``offset <= i < offset + size``
    (nearest neighbour at pixel centres), and nothing (zero padding) elsewhere."""
    rows = index.reshape(1, -1, 1)
    cols = index.reshape(1, 1, -1)
    size = size.reshape(-1, 1, 1)
    offset = offset.reshape(-1, 1, 1)
    src = ops.floor((rows - offset + 0.5) * length / size)
    src = ops.minimum(src, length - 1.0)
    inside = ops.logical_and(rows >= offset, rows < offset + size)
    return ops.logical_and(cols == src, inside).astype(ms.float32)


@ms.jit_class
class _Transform:
    """The resize-and-pad of a batch, given its draws (B, 5): transform or not, size (rows,
    columns), offset (rows, columns). Linear in the input: ``T(x) = R x C^T`` where drawn
    (``x`` elsewhere), so the gradient maps back as ``R^T g C``."""

    def matrices(self, x, draws):
        height, width = x.shape[-2], x.shape[-1]
        rows = _selection(ops.arange(0, height, dtype=ms.float32), draws[:, 1], draws[:, 3],
                          height)                                          # (B, H, H)
        cols = _selection(ops.arange(0, width, dtype=ms.float32), draws[:, 2], draws[:, 4],
                          width)                                           # (B, W, W)
        apply = (draws[:, 0] > 0.5).reshape((x.shape[0],) + (1,) * (len(x.shape) - 1))
        return rows, cols, ops.broadcast_to(apply, x.shape)

    def apply(self, x, left, right, mask):
        """``left @ x @ right`` per point (over every channel) where ``mask``, else ``x``."""
        b, height, width = x.shape[0], x.shape[-2], x.shape[-1]
        flat = x.reshape(b, -1, height, width)
        c = flat.shape[1]
        out = ops.bmm(ops.tile(left.reshape(b, 1, height, height), (1, c, 1, 1))
                      .reshape(b * c, height, height), flat.reshape(b * c, height, width))
        out = ops.bmm(out, ops.tile(right.reshape(b, 1, width, width), (1, c, 1, 1))
                      .reshape(b * c, width, width))
        return ops.select(mask, out.reshape(x.shape), x)


_TRANSFORM = _Transform()


class _DiverseStep(AscentStep):
    """AscentStep whose gradient is taken at the transformed iterate: ``(x_t, x, y, valid,
    eps, step, m, draws) -> (x_t+1, m_t+1, #saturated)``."""

    @ms.jit
    def construct(self, x_t, x, y, valid, eps, eps_iter, momentum, draws):
        rows, cols, mask = _TRANSFORM.matrices(x_t, draws)
        x_d = _TRANSFORM.apply(x_t, rows, cols.transpose(0, 2, 1), mask)
        grad, n_sat = self.gradient(x_d, y, valid)
        grad = _TRANSFORM.apply(grad, rows.transpose(0, 2, 1), cols, mask)
        x_new, momentum = self.advance(x_t, x, grad, eps, eps_iter, momentum)
        return x_new, momentum, n_sat


class _DiverseInput:
    """The diverse-input loop shared by DI and MDI (mixed in before BIM or MIM)."""
    _prob = 0.5
    _resize_rate = 0.9

    def _setup(self, prob, resize_rate, nb_iter):
        self._prob = check_number("prob", prob, low=0.0, high=1.0, low_open=False)
        self._resize_rate = check_number("resize_rate", resize_rate, low=0.0, high=1.0)
        if nb_iter is None:
            self._nb_iter = _schedule(self._eps)
        self._step = _DiverseStep(self._loss_cell, self._norm, self._is_targeted, self._bounds,
                                  decay=self._decay, momentum_norm=self._momentum_norm)

    @property
    def prob(self):
        """The probability that a point's gradient is taken at its transformed input."""
        return self._prob

    @property
    def resize_rate(self):
        """The smallest size of the resize, as a fraction of the image side."""
        return self._resize_rate

    def _draws(self, shape):
        """One iteration's transform for a batch of ``shape``: (B, 5) float32 (transform or
        not, rows and columns after the resize, row and column offsets)."""
        b, height, width = shape[0], shape[-2], shape[-1]
        apply = self._rng.random(b) < self._prob
        low = max(1, math.ceil(self._resize_rate * width - 1e-9))
        size_w = self._rng.integers(low, width + 1, size=b)
        size_h = size_w if height == width else \
            np.maximum(1, np.rint(size_w * height / width)).astype(np.int64)
        top = self._rng.integers(0, height - size_h + 1)
        left = self._rng.integers(0, width - size_w + 1)
        return ms.Tensor(np.stack([apply, size_h, size_w, top, left], 1).astype(np.float32))

    def _step_extras(self, shape):
        """The transform draws the compiled step takes after the common arguments."""
        return (self._draws(shape),)

    def _attack_batch(self, x, y, valid, eps, eps_iter, first):
        if len(x.shape) < 3:
            raise InputError(f"diverse inputs need images (N, ..., H, W), got shape "
                             f"{tuple(x.shape)}")
        return super()._attack_batch(x, y, valid, eps, eps_iter, first)


class DiverseInputIterativeMethod(_DiverseInput, BasicIterativeMethod):
    """Diverse-input BIM (DI-2-FGSM; see the module docstring).

    Args:
        network, eps, bounds, is_targeted, loss_fn: as :class:`BasicIterativeMethod`.
        prob (float): probability of the transform per point and iteration, in [0, 1].
            Default 0.5.
        eps_iter (float): step (keyword-only). Default: 32/255.
        nb_iter (int): iterations (keyword-only). Default: ``int(min(255*eps + 4,
            1.25*255*eps))``.
        resize_rate (float): smallest resize as a fraction of the side, in (0, 1].
            Default 0.9 (29..32 pixels for 32, MindArmour's range).
        stable_loss, seed: as :class:`BasicIterativeMethod`.
    """
    short_name = "DI"

    def __init__(self, network, eps=0.3, bounds=(0.0, 1.0), is_targeted=False, prob=0.5,
                 loss_fn=None, *, eps_iter=None, nb_iter=None, resize_rate=0.9,
                 stable_loss=True, seed=None):
        super().__init__(network, eps=eps, eps_iter=_EPS_ITER if eps_iter is None
                         else eps_iter, bounds=bounds, is_targeted=is_targeted,
                         nb_iter=1 if nb_iter is None else nb_iter, loss_fn=loss_fn,
                         stable_loss=stable_loss, seed=seed)
        self._setup(prob, resize_rate, nb_iter)


class MomentumDiverseInputIterativeMethod(_DiverseInput, MomentumIterativeMethod):
    """Diverse-input MIM (M-DI-2-FGSM; see the module docstring): ``norm_level`` (default
    'l1', MindArmour's) normalises the gradient before the momentum (decay 1.0); other
    arguments as :class:`DiverseInputIterativeMethod`."""
    short_name = "MDI"

    def __init__(self, network, eps=0.3, bounds=(0.0, 1.0), is_targeted=False,
                 norm_level="l1", prob=0.5, loss_fn=None, *, eps_iter=None, nb_iter=None,
                 decay_factor=1.0, resize_rate=0.9, stable_loss=True, seed=None):
        super().__init__(network, eps=eps, eps_iter=_EPS_ITER if eps_iter is None
                         else eps_iter, bounds=bounds, is_targeted=is_targeted,
                         nb_iter=1 if nb_iter is None else nb_iter,
                         decay_factor=decay_factor, norm_level=norm_level, loss_fn=loss_fn,
                         stable_loss=stable_loss, seed=seed)
        self._setup(prob, resize_rate, nb_iter)


__all__ = ["DiverseInputIterativeMethod", "MomentumDiverseInputIterativeMethod"]
