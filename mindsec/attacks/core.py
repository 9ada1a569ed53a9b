"""The one compiled ascent step that every gradient attack and fused defense calls.

With ``g`` the input gradient of the attack's loss at ``x_t`` (negated for a targeted
attack), ``r = hi - lo`` the data range and ``N`` a :mod:`~mindsec.attacks.norms` object,
one step is

    d      = N.direction(g)                  (or, with momentum,
                                              m <- decay * m + N'.normalize(g), d = sign(m))
    x_t+1  = clip(x + N.project(x_t + step * r * d - x, eps * r), lo, hi)

FGM and its family are one such step from ``x`` without the projection (its step is the
budget; FGM normalises instead of taking the steepest direction), the eps sweep is that
step at many budgets from one gradient, BIM/PGD/MIM iterate it, and the fused
adversarial-training step runs it inside the training graph. The pieces are methods of
:class:`AscentStep` (``gradient``, ``direction``, ``update``) so each caller composes them
inside its own compiled graph; nothing here leaves the device.
"""
import mindspore as ms
from mindspore import nn, ops

from ..checks import check_bounds
from .norms import LINF, Norm


@ms.jit_class
class Box:
    """The data bounds as the compiled steps use them: ``low``, ``high``, the range
    ``scale`` (1 without bounds: budgets are then in data units) and ``clip``."""

    def __init__(self, bounds):
        bounds = check_bounds(bounds)
        self.active = bounds is not None
        self.low, self.high = bounds if bounds is not None else (0.0, 1.0)
        self.scale = (self.high - self.low) if bounds is not None else 1.0

    def clip(self, x):
        if self.active:
            return ops.clamp(x, self.low, self.high)
        return x


class AscentStep(nn.Cell):
    """One projected ascent step (see the module docstring).

    Args:
        loss_cell (nn.Cell): ``(x, y, valid) -> (loss, #saturated)`` (see
            :func:`mindsec.attacks.losses.build_loss`), or None where the caller takes the
            gradient itself (the fused training step, whose graph also holds the weight
            gradient) and calls ``direction`` and ``update`` only.
        norm (Norm): the ball (and, for ``rule="steepest"``, the step direction).
        targeted (bool): descend the loss (the labels are targets).
        bounds (tuple): ``(lo, hi)`` or None.
        rule (str): ``"steepest"`` (``norm.direction``: sign for Linf) or
            ``"normalize"`` (``norm.normalize``: FGM's ``g / ||g||_p``).
        decay (float): momentum factor (MIM), or None.
        momentum_norm (Norm): the norm the gradient is normalised by before it enters the
            momentum. Default: ``norm``.

    Called as a cell, it is the iterative step ``(x_t, x, y, valid, eps, step, m) ->
    (x_t+1, m_t+1, #saturated)``; ``eps`` and ``step`` are scalar tensors (fractions of the
    range), so one compiled graph serves every budget.
    """

    def __init__(self, loss_cell, norm, targeted, bounds, rule="steepest", decay=None,
                 momentum_norm=None):
        super().__init__(auto_prefix=False)
        if not isinstance(norm, Norm):
            raise TypeError(f"norm must be a mindsec Norm, got {type(norm).__name__}")
        # None: the caller differentiates its own loss and uses direction/update only
        self.grad_fn = None if loss_cell is None else \
            ops.grad(loss_cell, grad_position=0, has_aux=True)
        self.norm = norm
        self.targeted = targeted
        self.box = Box(bounds)
        self.scale = self.box.scale
        self.steepest = rule == "steepest"
        self.decay = decay
        self.momentum_norm = momentum_norm if momentum_norm is not None else norm

    def gradient(self, x, y, valid):
        """(the loss's input gradient, ascent-signed, #saturated valid rows)."""
        grad, (n_sat,) = self.grad_fn(x, y, valid)
        if self.targeted:
            grad = -grad
        return grad, n_sat

    def direction(self, grad):
        """The unit step of the rule (steepest under the norm, or normalised)."""
        if self.steepest:
            return self.norm.direction(grad)
        return self.norm.normalize(grad)

    def update(self, x_t, x, direction, step, radius, project=True):
        """``clip(x + P(x_t + step * direction - x, radius))``; ``step`` and ``radius``
        already in data units (times the range)."""
        x_new = x_t + step * direction
        if project:
            x_new = x + self.norm.project(x_new - x, radius)
        return self.box.clip(x_new)

    def advance(self, x_t, x, grad, eps, eps_iter, momentum):
        """From the input gradient ``grad``: the momentum (MIM), the direction, the step
        and its projection; ``(x_t+1, m_t+1)``. Steps that take the gradient elsewhere (at
        a transformed input: DI) call it too."""
        if self.decay is not None:
            momentum = self.decay * momentum + self.momentum_norm.normalize(grad)
            direction = LINF.direction(momentum)
        else:
            direction = self.direction(grad)
        return self.update(x_t, x, direction, eps_iter * self.scale, eps * self.scale), \
            momentum

    @ms.jit
    def construct(self, x_t, x, y, valid, eps, eps_iter, momentum):
        grad, n_sat = self.gradient(x_t, y, valid)
        x_new, momentum = self.advance(x_t, x, grad, eps, eps_iter, momentum)
        return x_new, momentum, n_sat


class AscentSettings:
    """Read-only ``norm``, ``eps``, ``eps_iter``, ``nb_iter`` and ``rand_init`` of whatever
    runs :class:`AscentStep` in a loop: the iterative attacks and the fused
    adversarial-training defenses describe themselves through it."""
    _norm = LINF
    _eps = None
    _eps_iter = None
    _nb_iter = 1
    _rand_init = False

    @property
    def norm(self):
        """The ball (a :class:`~mindsec.attacks.norms.Norm`)."""
        return self._norm

    @property
    def eps(self):
        """The budget, a fraction of the data range."""
        return self._eps

    @property
    def eps_iter(self):
        """The step per iteration, a fraction of the data range."""
        return self._eps_iter

    @property
    def nb_iter(self):
        return self._nb_iter

    @property
    def rand_init(self):
        """Whether each run starts at a uniform random point of the ball."""
        return self._rand_init


__all__ = ["AscentStep", "AscentSettings", "Box"]
