"""Perturbation norms: one object per norm, used by every attack and defense.

A :class:`Norm` knows, for its ``p``:

* ``size(flat)``: the per-sample norm of a (B, D) tensor, (B, 1);
* ``normalize(grad)``: ``g / (||g||_p + 1e-12)`` per sample (MindArmour's FGM step);
* ``direction(grad)``: the unit step of steepest ascent under the norm, as the iterative
  attacks take it: ``sign(g)`` for Linf, ``normalize(g)`` for L2 and L1 (the L1 steepest
  direction, one coordinate at a time, is of no use to an attack; Foolbox and
  MindArmour normalise too);
* ``project(delta, radius)``: ``delta`` moved into the ball of ``radius`` per sample
  (Linf: clip; L2: shrink; L1: the exact Euclidean projection of Duchi et al., ICML
  2008, by sorting);
* ``random_start(rng, shape, radius)``: a uniform point of the ball (numpy float32);
* ``distance(a, b, scale)``: per-sample ``||a - b||_p / scale`` (numpy).

The device methods run inside compiled graphs (``mindspore.jit_class``); the ball is the
same in every attack, so a budget means the same thing everywhere.
"""
import numpy as np
import mindspore as ms
from mindspore import ops

from ..errors import InputError

_TINY = 1e-12


@ms.jit_class
class Norm:
    """Base of :data:`LINF`, :data:`L2` and :data:`L1` (see the module docstring)."""
    name = None          # "linf", "l2", "l1"
    p = None             # np.inf, 2, 1

    def size(self, flat):
        raise NotImplementedError

    def normalize(self, grad):
        flat = grad.reshape(grad.shape[0], -1)
        return (flat / (self.size(flat) + _TINY)).reshape(grad.shape)

    def direction(self, grad):
        return self.normalize(grad)

    def project(self, delta, radius):
        raise NotImplementedError

    def random_start(self, rng, shape, radius):
        raise NotImplementedError

    def distance(self, a, b, scale=1.0):
        diff = (np.asarray(a, np.float64) - np.asarray(b, np.float64)).reshape(len(a), -1)
        return np.linalg.norm(diff / scale, ord=self.p, axis=1)

    def __repr__(self):
        return {"linf": "Linf", "l2": "L2", "l1": "L1"}[self.name]

    def __reduce__(self):          # the three norms are singletons, also when copied
        return (get_norm, (self.name,))


@ms.jit_class
class LinfNorm(Norm):
    name = "linf"
    p = np.inf

    def size(self, flat):
        return ops.abs(flat).max(axis=1, keepdims=True)

    def direction(self, grad):
        return ops.sign(grad)

    def project(self, delta, radius):
        return ops.clamp(delta, -radius, radius)

    def random_start(self, rng, shape, radius):
        return rng.uniform(-radius, radius, size=shape).astype(np.float32)


@ms.jit_class
class L2Norm(Norm):
    name = "l2"
    p = 2

    def size(self, flat):
        return ops.sqrt((flat * flat).sum(axis=1, keepdims=True))

    def project(self, delta, radius):
        flat = delta.reshape(delta.shape[0], -1)
        factor = ops.minimum(ops.ones_like(flat[:, :1]), radius / (self.size(flat) + _TINY))
        return (flat * factor).reshape(delta.shape)

    def random_start(self, rng, shape, radius):
        """A uniform direction at a uniform radius (as mindsec's PGD has always drawn it)."""
        delta = rng.standard_normal(size=shape).astype(np.float32)
        flat = delta.reshape(shape[0], -1)
        flat *= (radius * rng.uniform(0, 1, size=(shape[0], 1)) /
                 (np.linalg.norm(flat, axis=1, keepdims=True) + _TINY)).astype(np.float32)
        return delta


@ms.jit_class
class L1Norm(Norm):
    name = "l1"
    p = 1

    def size(self, flat):
        return ops.abs(flat).sum(axis=1, keepdims=True)

    def project(self, delta, radius):
        """Euclidean projection onto the L1 ball: soft-threshold ``|delta|`` at the
        ``theta`` that brings its L1 norm to ``radius`` (found by sorting), per sample;
        rows already inside are unchanged."""
        flat = delta.reshape(delta.shape[0], -1)
        mag = ops.abs(flat)
        desc, _ = ops.sort(mag, axis=1, descending=True)
        cums = ops.cumsum(desc, axis=1)
        ranks = ops.arange(1, flat.shape[1] + 1, dtype=flat.dtype).reshape(1, -1)
        active = (desc - (cums - radius) / ranks) > 0
        rho = ops.maximum(active.astype(ms.int32).sum(axis=1, keepdims=True), 1)
        theta = (ops.gather_elements(cums, 1, rho - 1) - radius) / rho.astype(flat.dtype)
        inside = self.size(flat) <= radius
        theta = ops.where(inside, ops.zeros_like(theta), ops.maximum(theta, 0.0))
        return (ops.sign(flat) * ops.relu(mag - theta)).reshape(delta.shape)

    def random_start(self, rng, shape, radius):
        """Uniform in the L1 ball: a Laplace direction (uniform on the L1 sphere once
        normalised) at radius ``radius * U^(1/d)``."""
        delta = rng.laplace(size=shape).astype(np.float64)
        flat = delta.reshape(shape[0], -1)
        d = flat.shape[1]
        flat *= radius * rng.uniform(0, 1, size=(shape[0], 1)) ** (1.0 / d) / \
            (np.abs(flat).sum(axis=1, keepdims=True) + _TINY)
        return delta.astype(np.float32)


LINF, L2, L1 = LinfNorm(), L2Norm(), L1Norm()
_BY_NAME = {"linf": LINF, "l2": L2, "l1": L1}
_ALIASES = {1: "l1", "1": "l1", "l1": "l1", 2: "l2", "2": "l2", "l2": "l2",
            np.inf: "linf", "inf": "linf", "np.inf": "linf", "linf": "linf"}


def get_norm(norm_level, allowed=("linf", "l2", "l1"), owner=None):
    """The :class:`Norm` for MindArmour's ``norm_level`` (1, 2, np.inf or 'l1', 'l2',
    'linf', 'inf'; a Norm passes through), one of ``allowed``."""
    if isinstance(norm_level, Norm):
        name = norm_level.name
    else:
        key = norm_level.lower() if isinstance(norm_level, str) else norm_level
        try:
            name = _ALIASES[key]
        except (KeyError, TypeError):
            name = None
    if name is None or name not in allowed:
        names = [n for n in ("l1", "l2", "linf") if n in allowed]
        values = [{"l1": "1", "l2": "2", "linf": "np.inf"}[n] for n in names]
        choices = values[0] if len(values) == 1 else \
            ", ".join(values[:-1]) + " or " + values[-1]
        where = f" for {owner}" if owner else ""
        raise InputError(f"norm_level must be {choices}{where} (or "
                         f"{', '.join(repr(n) for n in names)}), got {norm_level!r}")
    return _BY_NAME[name]


__all__ = ["Norm", "LINF", "L2", "L1", "get_norm"]
