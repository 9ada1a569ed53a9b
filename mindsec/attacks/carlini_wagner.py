"""Carlini & Wagner's L2 attack (Carlini & Wagner, "Towards Evaluating the Robustness of
Neural Networks", IEEE S&P 2017, arXiv:1608.04644), MindArmour's ``CarliniWagnerL2Attack``.

With the box ``[lo, hi]``, ``mean = (lo + hi) / 2`` and ``half = (hi - lo) / 2``, each
input is written in tanh space, ``a = atanh(0.999999 (x - mean) / half)``, and the attack
minimises over a perturbation ``w`` of ``a`` (from 0, by Adam)

    x'   = tanh(a + w) * half + mean                       (always inside the box)
    loss = ||x' - x_r||_2^2 + c * max(0, z_y - max_{j != y} z_j + confidence)

(targeted: ``max(0, max_{j != t} z_j - z_t + confidence)``; ``x_r`` the input after the
round trip through tanh space; ``z`` the network's outputs), recording at every iteration,
for each point the network's argmax sends to another class (targeted: to the target), the
iterate of smallest ``||x' - x_r||_2``. A binary search over ``c`` per point runs
``bin_search_steps`` optimisations of ``max_iterations`` Adam steps each: from
``initial_const``, ``c`` grows tenfold while a point has never succeeded, and otherwise
bisects between the largest ``c`` that failed and the smallest that succeeded (with 10 or
more steps, the last one runs at that smallest ``c``, or 1e10). Points never fooled come
back unchanged.

As in MindArmour, ``fast`` and ``abort_early`` act on the batch the attack is given:

* ``abort_early``: every ``ceil(abort_early_check_ratio * max_iterations)`` iterations,
  the binary-search step ends once no point's loss fell by 0.01% since the previous check;
* ``fast``: the attack ends once every point of the batch has been fooled.

so with either an example depends on the other points of its batch (``fast=False,
abort_early=False``: on its own input only). MindArmour's bisection takes a point as
succeeded at every step after its first success; mindsec, like the paper, takes each
step's own outcome (the two differ only where a point fails at a smaller ``c`` after
succeeding at a larger one).

One compiled step runs an iteration (forward, input gradient through tanh, Adam, the
best-so-far bookkeeping with ``select``) for a whole padded batch; the binary search's
state (``c``, its bounds, the best distance and example) stays on the device. The host
reads one flag per abort-early check (to skip the rest of a step once no point of the
batch is running) and one at the end of each binary-search step.
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..checks import check_box, check_count, check_flag, check_number
from ..errors import InputError
from .base import Attack, AttackKind
from .norms import L2

_NEG = -3.0e38
_BETA1, _BETA2, _ADAM_EPS = 0.9, 0.999, 1e-8
_SHRINK = 0.999999          # MindArmour's margin from the box in tanh space


def _first_line(exc):
    return next((line.strip() for line in str(exc).splitlines() if line.strip()),
                type(exc).__name__)


def _rows(mask, like):
    """A (B,) mask broadcastable against ``like`` (B, ...)."""
    return mask.reshape((-1,) + (1,) * (like.ndim - 1))


class _CWLoss(nn.Cell):
    """``(w, a, x_r, y, c) -> (sum of per-point losses, (x', logits, ||x'-x_r||^2, loss))``."""

    def __init__(self, network, bounds, confidence, targeted):
        super().__init__(auto_prefix=False)
        self.network = network
        self.mean = (bounds[0] + bounds[1]) / 2.0
        self.half = (bounds[1] - bounds[0]) / 2.0
        self.confidence = confidence
        self.targeted = targeted

    def construct(self, w, a, x_r, y, c):
        x = ops.tanh(a + w) * self.half + self.mean
        z = self.network(x)
        diff = (x - x_r).reshape(x.shape[0], -1)
        dist = (diff * diff).sum(axis=1)
        is_label = ops.one_hot(y, z.shape[-1], ms.Tensor(1.0, z.dtype),
                               ms.Tensor(0.0, z.dtype)) > 0.5
        z_label = (z * is_label.astype(z.dtype)).sum(axis=-1)
        z_other = ops.select(is_label, ops.full_like(z, _NEG), z).max(axis=-1)
        margin = z_other - z_label if self.targeted else z_label - z_other
        loss = dist + c * ops.relu(margin + self.confidence)
        return loss.sum(), x, z, dist, loss


class _CWState(nn.Cell):
    """The compiled pieces: ``start`` (tanh space), the iteration (``construct``) and the
    binary search's update (``bisect``)."""

    def __init__(self, network, bounds, confidence, targeted, fast, abort_early):
        super().__init__(auto_prefix=False)
        self.grad_fn = ops.grad(_CWLoss(network, bounds, confidence, targeted),
                                grad_position=0, has_aux=True)
        self.mean = (bounds[0] + bounds[1]) / 2.0
        self.half = (bounds[1] - bounds[0]) / 2.0
        self.targeted = targeted
        self.fast = fast
        self.abort_early = abort_early

    @ms.jit
    def start(self, x):
        a = ops.atanh((x - self.mean) / self.half * _SHRINK)
        return a, ops.tanh(a) * self.half + self.mean

    @ms.jit
    def construct(self, w, m, v, lr_t, check, a, x_r, y, c, valid, live, loss_prev,
                  best_dist, best_adv, hit, finished):
        grad, (x, z, dist, loss) = self.grad_fn(w, a, x_r, y, c)
        pred = z.argmax(axis=-1).astype(ms.int32)
        if self.targeted:
            adv = ops.logical_and(pred == y, live)
        else:
            adv = ops.logical_and(pred != y, live)
        better = ops.logical_and(adv, dist < best_dist)
        best_dist = ops.select(better, dist, best_dist)
        best_adv = ops.select(_rows(better, x).broadcast_to(x.shape), x, best_adv)
        hit = ops.logical_or(hit, adv)
        moving = live
        invalid = ops.logical_not(valid)
        if self.fast:      # the batch is done once each of its points has been fooled
            done = ops.logical_or(best_dist < 3.0e38, invalid).all()
            finished = ops.logical_or(finished, done)
            live = ops.logical_and(live, ops.logical_not(done))
        m_new = _BETA1 * m + (1.0 - _BETA1) * grad
        v_new = _BETA2 * v + (1.0 - _BETA2) * grad * grad
        w_new = w - lr_t * m_new / (ops.sqrt(v_new) + _ADAM_EPS)
        rows = _rows(moving, w).broadcast_to(w.shape)
        w, m, v = ops.select(rows, w_new, w), ops.select(rows, m_new, m), \
            ops.select(rows, v_new, v)
        if self.abort_early:   # the step ends once no point of the batch progresses
            progress = ops.logical_and(loss <= 0.9999 * loss_prev, valid).any()
            live = ops.logical_and(live, ops.logical_not(ops.logical_and(
                check, ops.logical_not(progress))))
            loss_prev = ops.select(check, loss, loss_prev)
        return w, m, v, live, loss_prev, best_dist, best_adv, hit, finished

    @ms.jit
    def bisect(self, hit, c, lower, upper):
        upper = ops.select(hit, ops.minimum(upper, c), upper)
        lower = ops.select(hit, lower, ops.maximum(lower, c))
        c = ops.select(upper < 1e30, (lower + upper) / 2.0, c * 10.0)
        return c, lower, upper


class CarliniWagnerL2Attack(Attack):
    """Carlini & Wagner's L2 attack (see the module docstring); MindArmour's class and
    arguments.

    Args:
        network (nn.Cell): returns logits.
        num_classes (int): the network's number of classes (>= 2).
        box_min, box_max (float): the data range (box_min < box_max). Default 0, 1.
        bin_search_steps (int): binary-search steps over the constant ``c``. Default 5.
        max_iterations (int): Adam steps per binary-search step. Default 1000.
        confidence (float): logit margin the loss asks for, >= 0. Default 0.
        learning_rate (float): Adam's step, > 0. Default 5e-3.
        initial_const (float): the first ``c``, > 0. Default 1e-2.
        abort_early_check_ratio (float): the abort-early check period as a fraction of
            ``max_iterations``, in (0, 1]. Default 5e-2.
        targeted (bool): labels are targets. Default False.
        fast (bool): stop once every point of the batch has been fooled. Default True.
        abort_early (bool): end a binary-search step once no point of the batch
            progresses. Default True.
        sparse (bool): accepted for compatibility; labels may be indices or one-hot.

    ``generate(inputs, labels)`` returns float32 examples inside the box: for each point
    the fooling iterate of smallest L2 found, or the input itself where none was found.
    """

    kind = AttackKind.MINIMAL
    short_name = "CW"

    def __init__(self, network, num_classes, box_min=0.0, box_max=1.0, bin_search_steps=5,
                 max_iterations=1000, confidence=0, learning_rate=5e-3, initial_const=1e-2,
                 abort_early_check_ratio=5e-2, targeted=False, fast=True, abort_early=True,
                 sparse=True):
        super().__init__(network, check_box(box_min, box_max))
        self._num_classes = check_count("num_classes", num_classes, low=2)
        self._bin_search_steps = check_count("bin_search_steps", bin_search_steps)
        self._max_iterations = check_count("max_iterations", max_iterations)
        self._confidence = check_number("confidence", confidence, low=0.0, low_open=False)
        self._learning_rate = check_number("learning_rate", learning_rate, low=0.0)
        self._initial_const = check_number("initial_const", initial_const, low=0.0)
        self._check_ratio = check_number("abort_early_check_ratio", abort_early_check_ratio,
                                         low=0.0, high=1.0)
        self._is_targeted = check_flag("targeted", targeted)
        self._fast = check_flag("fast", fast)
        self._abort_early = check_flag("abort_early", abort_early)
        check_flag("sparse", sparse)
        self._norm = L2
        self._logits_net = network
        self._state = _CWState(network, self._bounds, self._confidence, self._is_targeted,
                               self._fast, self._abort_early)
        self._lr_steps = None

    # -- description ---------------------------------------------------------------------
    @property
    def confidence(self):
        return self._confidence

    @property
    def bin_search_steps(self):
        return self._bin_search_steps

    @property
    def max_iterations(self):
        return self._max_iterations

    @property
    def label(self):
        """``"CW-L2"`` (``"CW-L2-k5"`` with confidence 5), or ``name``."""
        if self.name:
            return self.name
        return "CW-L2" if not self._confidence else f"CW-L2-k{self._confidence:g}"

    # -- the run -------------------------------------------------------------------------
    def _adam_rates(self):
        """Adam's bias-corrected step for iterations 1 ... max_iterations (scalar tensors,
        made once)."""
        if self._lr_steps is None:
            t = np.arange(1, self._max_iterations + 1, dtype=np.float64)
            rates = self._learning_rate * np.sqrt(1.0 - _BETA2 ** t) / (1.0 - _BETA1 ** t)
            self._lr_steps = [ms.Tensor(np.float32(r)) for r in rates]
        return self._lr_steps

    def _one_batch(self, x, y, valid, shape):
        cell = self._state
        b = x.shape[0]
        try:
            a, x_r = cell.start(x)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"inputs of shape {shape} do not fit the network: "
                             f"{_first_line(exc)}") from None
        valid = valid > 0.5
        rates = self._adam_rates()
        period = max(1, math.ceil(self._max_iterations * self._check_ratio))
        checks = (ms.Tensor(np.zeros(b, bool)), ms.Tensor(np.ones(b, bool)))
        inf = ms.Tensor(np.full(b, np.inf, np.float32))
        c = ms.Tensor(np.full(b, self._initial_const, np.float32))
        lower = ms.Tensor(np.zeros(b, np.float32))
        upper = inf
        best_dist, best_adv = inf, x
        finished = ms.Tensor(np.zeros(b, bool))
        zeros = ops.zeros_like(x)
        for step in range(self._bin_search_steps):
            if step == self._bin_search_steps - 1 and self._bin_search_steps >= 10:
                c = ops.minimum(upper, ms.Tensor(np.float32(1e10)))
            w = m = v = zeros
            live = ops.logical_and(valid, ops.logical_not(finished))
            loss_prev, hit = inf, ms.Tensor(np.zeros(b, bool))
            for i in range(self._max_iterations):
                check = i % period == 0
                args = (w, m, v, rates[i], checks[check], a, x_r, y, c, valid, live,
                        loss_prev, best_dist, best_adv, hit, finished)
                try:
                    (w, m, v, live, loss_prev, best_dist, best_adv, hit,
                     finished) = cell(*args)
                except (TypeError, ValueError, RuntimeError) as exc:
                    raise InputError(f"inputs of shape {shape} do not fit the network: "
                                     f"{_first_line(exc)}") from None
                if check and i > 0 and not bool(live.any()):
                    break
            c, lower, upper = cell.bisect(hit, c, lower, upper)
            if self._fast and bool(ops.logical_or(finished, ops.logical_not(valid)).all()):
                break
        fooled = best_dist < inf
        return best_adv, fooled

    def _run(self, inputs, labels, batch_size):
        n = inputs.shape[0]
        out = np.empty_like(inputs)
        fooled = 0
        for start, stop, x, y, valid in self._feed(inputs, labels, batch_size):
            adv, hit = self._one_batch(x, y, valid, inputs.shape)
            out[start:stop] = adv.asnumpy()[: stop - start]
            fooled += int(hit.asnumpy()[: stop - start].sum())
        self.stats = {"samples": n, "saturated": None, "fooled": fooled}
        return out


__all__ = ["CarliniWagnerL2Attack"]
