"""The Jacobian-based saliency map attack (Papernot et al., "The Limitations of Deep
Learning in Adversarial Settings", EuroS&P 2016, arXiv:1511.07528), MindArmour's
``JSMAAttack``: targeted, changing a few pixels.

Per iteration, for each point not yet classified as its target ``t``, with ``J_t`` the
input gradient of the target's logit and ``J_o`` that of the other logits' sum, both
masked by the search domain (pixels still allowed to change), the pair ``(p, q)`` of
pixels (``p = q`` allowed) maximising the saliency

    S(p, q) = -(J_t[p] + J_t[q]) * (J_o[p] + J_o[q])
              where J_t[p] + J_t[q] > 0 and J_o[p] + J_o[q] < 0   (increase=True;
                                                                   signs swapped else)

moves by ``theta * (box_max - box_min)`` each (up with ``increase``, else down), and is
clipped to the box; a pixel leaves the domain once it reaches a bound or has changed more
than ``max_count`` times. A point stops when the network classifies it as its target,
when its domain is empty, or (mindsec) when no pair has positive saliency, where
MindArmour's argmax of an all-zero map moves the first pixel. Points that are never
classified as their target come back as they were after ``max_iteration`` iterations
(MindArmour's behaviour).

One compiled step does an iteration for a whole padded batch: two gradient calls (the
target's logit, the sum of all logits), the pair search over the ``D x D`` map in row
blocks (memory ``O(B x block x D)``), the update and the per-point masks; the host reads
the "all done" flag every few iterations.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..batching import predict_logits
from ..checks import check_box, check_count, check_flag, check_number
from .base import DEFAULT_BATCH_SIZE, Attack, AttackKind, LabelSource

_CHECK_EVERY = 5          # iterations between reads of the "all done" flag
_BLOCK_ELEMENTS = 1 << 23  # pair-map entries per block of rows (all points together)
_DEFAULT_BATCH = 64        # MindArmour's batch_generate default


class _TargetLogit(nn.Cell):
    """``(x, t) -> (sum_n z_{n, t_n}, z)``."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network

    def construct(self, x, t):
        z = self.network(x)
        return ops.gather_elements(z, 1, t.reshape(-1, 1)).sum(), z


class _AllLogits(nn.Cell):
    """``x -> sum of all logits``."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network

    def construct(self, x):
        return self.network(x).sum()


class _JSMAStep(nn.Cell):
    """``(x_t, t, domain, counter, done) -> (x_t+1, domain', counter', done')``, flat
    ``(B, D)`` state; ``done`` starts as the padding rows."""

    def __init__(self, network, theta, increase, max_count, bounds):
        super().__init__(auto_prefix=False)
        self.target_grad = ops.grad(_TargetLogit(network), grad_position=0, has_aux=True)
        self.all_grad = ops.grad(_AllLogits(network), grad_position=0)
        self.low, self.high = bounds
        self.delta = theta * (bounds[1] - bounds[0]) * (1.0 if increase else -1.0)
        self.increase = increase
        self.max_count = float(max_count)

    def _best_pair(self, alpha, beta):
        """Per point, the flat index ``q * D + p`` of the first maximum of the saliency
        map (row-major, as numpy's argmax) and the maximum itself."""
        b, d = alpha.shape
        rows = max(1, _BLOCK_ELEMENTS // (b * d))
        best = ops.full((b,), -1.0, dtype=alpha.dtype)
        index = ops.zeros((b,), ms.int32)
        for r0 in range(0, d, rows):
            r1 = min(d, r0 + rows)
            a2 = alpha[:, r0:r1].reshape(b, -1, 1) + alpha.reshape(b, 1, d)
            b2 = beta[:, r0:r1].reshape(b, -1, 1) + beta.reshape(b, 1, d)
            if self.increase:        # -a2 * b2 where a2 > 0 and b2 < 0, else 0
                sal = ops.relu(a2) * ops.relu(-b2)
            else:
                sal = ops.relu(-a2) * ops.relu(b2)
            sal = sal.reshape(b, -1)
            value, where = ops.max(sal, axis=1)
            where = where.astype(ms.int32) + r0 * d
            better = value > best
            best = ops.select(better, value, best)
            index = ops.select(better, where, index)
        return index, best

    @ms.jit
    def construct(self, x_t, t, domain, counter, done):
        b = x_t.shape[0]
        g_t, (z,) = self.target_grad(x_t, t)
        g_all = self.all_grad(x_t)
        pred = z.argmax(axis=-1).astype(ms.int32)
        empty = domain.sum(axis=1) <= 0
        done = ops.logical_or(done, ops.logical_or(pred == t, empty))
        j_t = g_t.reshape(b, -1)
        alpha = j_t * domain
        beta = (g_all.reshape(b, -1) - j_t) * domain
        d = alpha.shape[1]
        index, best = self._best_pair(alpha, beta)
        done = ops.logical_or(done, best <= 0)
        p = index % d
        q = index // d
        on, off = ms.Tensor(1.0, ms.float32), ms.Tensor(0.0, ms.float32)
        moved = ops.one_hot(p, d, on, off) + ops.one_hot(q, d, on, off)
        flat = x_t.reshape(b, -1)
        x_new = flat + self.delta * moved
        count_new = counter + moved
        leave = ops.logical_and(moved > 0, ops.logical_or(
            ops.logical_or(x_new >= self.high, x_new <= self.low),
            count_new > self.max_count))
        domain_new = domain * ops.logical_not(leave).astype(domain.dtype)
        x_new = ops.clamp(x_new, self.low, self.high)
        keep = done.reshape(-1, 1).broadcast_to(flat.shape)
        x_out = ops.select(keep, flat, x_new).reshape(x_t.shape)
        return (x_out, ops.select(keep, domain, domain_new),
                ops.select(keep, counter, count_new), done)


class JSMAAttack(Attack):
    """JSMA (see the module docstring); MindArmour's class and arguments. Targeted: the
    ``labels`` of ``generate`` are the targets (``labels=None``: the model's least-likely
    classes).

    Args:
        network (nn.Cell): returns logits.
        num_classes (int): the network's number of classes (>= 2).
        box_min, box_max (float): the data range (box_min < box_max). Default 0, 1.
        theta (float): a pixel's change per step, a fraction of the range, > 0. Default 1.
        max_iteration (int): iterations (pixel pairs) at most. Default 1000.
        max_count (int): changes of one pixel at most. Default 3.
        increase (bool): increase the pixels (else decrease). Default True.
        sparse (bool): accepted for compatibility; labels may be indices or one-hot.
    """

    kind = AttackKind.MINIMAL
    short_name = "JSMA"
    _labels_none = LabelSource.LEAST_LIKELY

    def __init__(self, network, num_classes, box_min=0.0, box_max=1.0, theta=1.0,
                 max_iteration=1000, max_count=3, increase=True, sparse=True):
        super().__init__(network, check_box(box_min, box_max))
        self._num_classes = check_count("num_classes", num_classes, low=2)
        self._theta = check_number("theta", theta, low=0.0)
        self._max_iteration = check_count("max_iteration", max_iteration)
        self._max_count = check_count("max_count", max_count)
        self._increase = check_flag("increase", increase)
        check_flag("sparse", sparse)
        self._is_targeted = True
        self._logits_net = network
        self._step = _JSMAStep(network, self._theta, self._increase, self._max_count,
                               self._bounds)

    @property
    def theta(self):
        return self._theta

    @property
    def max_iteration(self):
        return self._max_iteration

    @property
    def max_count(self):
        return self._max_count

    @property
    def increase(self):
        return self._increase

    def batch_generate(self, inputs, labels=None, batch_size=DEFAULT_BATCH_SIZE):
        """As :meth:`generate` in batches (default 64, as MindArmour: the pair search's
        memory grows with the batch times the square of the input size)."""
        return super().batch_generate(inputs, labels,
                                      _DEFAULT_BATCH if batch_size is None else batch_size)

    def _run(self, inputs, labels, batch_size):
        n = inputs.shape[0]
        out = np.empty_like(inputs)
        fooled = 0
        d = int(np.prod(inputs.shape[1:]))
        for start, stop, x, t, valid in self._feed(inputs, labels, batch_size):
            b = x.shape[0]
            x_t = x
            domain = ms.Tensor(np.ones((b, d), np.float32))
            counter = ms.Tensor(np.zeros((b, d), np.float32))
            done = valid < 0.5
            for i in range(self._max_iteration):
                args = (x_t, t, domain, counter, done)
                if i == 0:
                    x_t, domain, counter, done = self._first_call(args, inputs.shape)
                else:
                    x_t, domain, counter, done = self._step(*args)
                if (i + 1) % _CHECK_EVERY == 0 and bool(done.all()):
                    break
            adv = x_t.asnumpy()[: stop - start]
            out[start:stop] = adv
            pred = predict_logits(self._logits_net, adv, b).argmax(axis=1)
            fooled += int((pred == labels[start:stop]).sum())
        self.stats = {"samples": n, "saturated": None, "fooled": fooled}
        return out


__all__ = ["JSMAAttack"]
