"""DeepFool: a small perturbation that flips each input (Moosavi-Dezfooli et al., 2016,
"DeepFool: a simple and accurate method to fool deep neural networks", arXiv:1511.04599).

Per iteration, for the true class ``y`` and each candidate class ``k`` (the ``candidates``
classes of highest clean logit other than ``y``), with ``f_k = z_k - z_y`` and
``w_k = grad f_k``, the linearised distance to the boundary of ``k`` is
``|f_k| / ||w_k||_q`` (``q`` dual to ``norm_level``: 2 for L2, 1 for Linf); the nearest
boundary ``l`` is stepped to exactly (L2: ``(|f_l| + 1e-4) w_l / ||w_l||_2^2``; Linf:
``(|f_l| + 1e-4) sign(w_l) / ||w_l||_1``), and the total step, scaled by ``1 +
overshoot``, is clipped to the bounds. Inputs stop moving once misclassified.

One compiled step computes the logits, the candidates' gradients and the update for a whole
padded batch; the host reads one flag every few iterations to stop early. The result is an
upper bound on each input's minimal adversarial distance, which
:func:`mindsec.evaluations.evaluate_robustness` turns into success at every eps at once.

MindArmour's class and arguments (``num_classes``, ``max_iters=50``, ``overshoot=0.02``,
``norm_level=2``, ``bounds=None``); only ``model_type='classification'``.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..checks import check_count, check_flag, check_number
from ..errors import InputError
from .base import Attack, AttackKind
from .core import Box
from .losses import LogitGap
from .norms import L2, get_norm

_CHECK_EVERY = 5     # iterations between reads of the "all done" flag


class _DeepFoolStep(nn.Cell):
    """``(x_t, x, r_tot, y, cand (B, C), active) -> (x_t+1, r_tot', active')``."""

    def __init__(self, network, n_cand, norm, overshoot, bounds):
        super().__init__(auto_prefix=False)
        self.network = network
        self.gap = LogitGap(network)
        self.gap_grad = ops.grad(self.gap, grad_position=0)
        self.n_cand = n_cand
        self.l2 = norm is L2              # else Linf: the dual norm of the step is L1
        self.overshoot = overshoot
        self.box = Box(bounds)

    @ms.jit
    def construct(self, x_t, x, r_tot, y, cand, active):
        z = self.network(x_t)
        active = active * (z.argmax(axis=-1).astype(ms.int32) == y).astype(ms.float32)
        zy = ops.gather_elements(z, 1, y.reshape(-1, 1)).squeeze(-1)
        best = ops.full_like(zy, 3.0e38)
        step = ops.zeros_like(x)
        n = x.shape[0]
        for c in range(self.n_cand):
            k = cand[:, c]
            w = self.gap_grad(x_t, k, y).reshape(n, -1)
            f = ops.abs(ops.gather_elements(z, 1, k.reshape(-1, 1)).squeeze(-1) - zy)
            if self.l2:
                size = ops.sqrt((w * w).sum(axis=1))
                dist = f / (size + 1e-12)
                cand_step = ((f + 1e-4) / (size * size + 1e-12)).reshape(-1, 1) * w
            else:
                size = ops.abs(w).sum(axis=1)
                dist = f / (size + 1e-12)
                cand_step = ((f + 1e-4) / (size + 1e-12)).reshape(-1, 1) * ops.sign(w)
            closer = dist < best
            best = ops.select(closer, dist, best)
            step = ops.select(closer.reshape(-1, 1).broadcast_to(cand_step.shape),
                              cand_step, step.reshape(n, -1)).reshape(x.shape)
        r_tot = r_tot + active.reshape((-1,) + (1,) * (x.ndim - 1)) * step
        x_new = self.box.clip(x + (1.0 + self.overshoot) * r_tot)
        return x_new, r_tot, active


class DeepFool(Attack):
    """DeepFool, untargeted (MindArmour's ``DeepFool`` for classification).

    Args:
        network (nn.Cell): returns logits.
        num_classes (int): the network's number of classes.
        model_type (str): 'classification' (the only type supported here).
        reserve_ratio (float): accepted for MindArmour compatibility (detection only).
        max_iters (int): iterations at most. Default 50.
        overshoot (float): relative overshoot of the total step, >= 0. Default 0.02.
        norm_level (int|str): 2 or np.inf: the norm in which the step is minimal.
        bounds (tuple): data range the result is clipped to, or None.
        sparse (bool): accepted for compatibility; labels may be indices or one-hot.
        candidates (int): classes of highest clean logit tried per input (the others
            are far); default ``min(10, num_classes) - 1``.
    """

    kind = AttackKind.MINIMAL
    short_name = "DeepFool"

    def __init__(self, network, num_classes, model_type="classification", reserve_ratio=0.3,
                 max_iters=50, overshoot=0.02, norm_level=2, bounds=None, sparse=True, *,
                 candidates=None):
        super().__init__(network, bounds)
        self._num_classes = check_count("num_classes", num_classes, low=2)
        if model_type != "classification":
            raise InputError(f"model_type must be 'classification' (detection is not "
                             f"supported), got {model_type!r}")
        check_number("reserve_ratio", reserve_ratio, low=0.0, high=1.0, low_open=False)
        check_flag("sparse", sparse)
        self._max_iters = check_count("max_iters", max_iters)
        self._overshoot = check_number("overshoot", overshoot, low=0.0, low_open=False)
        norm = get_norm(norm_level, allowed=("l2", "linf"), owner="DeepFool")
        self._norm = norm
        n_cand = 9 if candidates is None else check_count("candidates", candidates)
        self._n_cand = min(n_cand, self._num_classes - 1)
        self._logits_net = network
        self._step = _DeepFoolStep(network, self._n_cand, norm, self._overshoot,
                                   self._bounds)

    def _candidates(self, x, y):
        """The ``n_cand`` classes of highest clean logit other than ``y`` (B, C)."""
        z = self._logits_net(x).asnumpy().copy()
        z[np.arange(z.shape[0]), y.asnumpy()] = -np.inf
        return ms.Tensor(np.argsort(-z, axis=1)[:, : self._n_cand].astype(np.int32))

    def _run(self, inputs, labels, batch_size):
        out = np.empty_like(inputs)
        for start, stop, x, y, valid in self._feed(inputs, labels, batch_size):
            cand = self._candidates(x, y)
            x_t, r_tot, active = x, ops.zeros_like(x), valid
            for i in range(self._max_iters):
                args = (x_t, x, r_tot, y, cand, active)
                if start == 0 and i == 0:
                    x_t, r_tot, active = self._first_call(args, inputs.shape)
                else:
                    x_t, r_tot, active = self._step(*args)
                if (i + 1) % _CHECK_EVERY == 0 and not active.asnumpy().any():
                    break
            out[start:stop] = x_t.asnumpy()[: stop - start]
        self.stats = {"samples": inputs.shape[0], "saturated": None}
        return out


__all__ = ["DeepFool"]
