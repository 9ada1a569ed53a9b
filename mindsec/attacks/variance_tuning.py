"""Variance-tuning iterative attacks (Wang & He, "Enhancing the Transferability of
Adversarial Attacks through Variance Tuning", CVPR 2021, arXiv:2103.15571): VMI-FGSM and
VNI-FGSM.

With ``g_t`` the loss's input gradient at ``x_t`` (VNI: at the look-ahead point
``x_t + decay * eps_iter * r * m_t``), ``v_t`` the gradient variance of the previous
iteration (``v_0 = 0``) and ``r`` the data range, one iteration is

    m_t+1 = decay * m_t + (g_t + v_t) / mean|g_t + v_t|
    v_t+1 = mean_{i<N} grad(x_t + u_i) - g_t,     u_i ~ U(-beta*eps*r, beta*eps*r)
    x_t+1 = clip(x + P(x_t + eps_iter * r * sign(m_t+1) - x, eps * r))

as torchattacks 3.5.1's ``VMIFGSM`` and ``VNIFGSM`` (argument names ``N`` and ``beta``,
defaults 5 and 3/2). The N neighbourhood gradients and ``g_t`` come from one gradient call
on the batch tiled ``N + 1`` times inside the compiled step (the default batch is divided
by ``N + 1`` accordingly); the neighbourhood draws come from the attack's seeded numpy
generator (per iteration one float32 uniform array of shape ``(N * B, ...)``), so a seed
repeats the examples. Budgets as in MindArmour's iterative attacks (fractions of the
range; defaults ``eps=0.3``, ``eps_iter=0.1``, ``nb_iter=5``, ``decay_factor=1.0``).

Difference from torchattacks: the loss is mindsec's cancellation-free log-odds unless
``stable_loss=False`` (with ``loss_fn`` softmax cross-entropy that is torchattacks' loss);
since ``g_t + v_t`` mixes gradients taken at different points, the two losses give
different directions, not only different scales.
"""
import numpy as np
import mindspore as ms
from mindspore import ops

from ..checks import check_count, check_inputs, check_number
from .base import DEFAULT_BATCH_SIZE, auto_batch_size
from .core import AscentStep
from .iterative import MomentumIterativeMethod
from .norms import L1, LINF


class _VarianceStep(AscentStep):
    """``(x_t, x, y, valid, eps, step, m, v, u) -> (x_t+1, m_t+1, v_t+1, #saturated)``,
    ``u`` the (N * B, ...) uniform [0, 1) draws of the neighbourhood."""

    def __init__(self, loss_cell, targeted, bounds, decay, n_samples, beta, nesterov):
        super().__init__(loss_cell, LINF, targeted, bounds, decay=decay, momentum_norm=L1)
        self.n_samples = n_samples
        self.beta = beta
        self.nesterov = nesterov

    @ms.jit
    def construct(self, x_t, x, y, valid, eps, eps_iter, momentum, variance, uniform):
        b = x_t.shape[0]
        size = 1
        for dim in x_t.shape[1:]:
            size = size * dim
        point = x_t
        if self.nesterov:
            point = x_t + self.decay * eps_iter * self.scale * momentum
        radius = self.beta * eps * self.scale
        reps = (self.n_samples,) + (1,) * (len(x_t.shape) - 1)
        near = ops.tile(x_t, reps) + (2.0 * uniform - 1.0) * radius
        batch = ops.concat((point, near), 0)
        labels = ops.tile(y, (self.n_samples + 1,) + (1,) * (len(y.shape) - 1))
        mask = ops.concat((valid, ops.zeros((self.n_samples * b,), valid.dtype)), 0)
        grads, n_sat = self.gradient(batch, labels, mask)
        grad = grads[:b]
        near_mean = grads[b:].reshape((self.n_samples,) + x_t.shape).mean(axis=0)
        # (g + v) / mean|g + v|: the L1 normalisation times the number of entries
        momentum = self.decay * momentum + L1.normalize(grad + variance) * size
        x_new = self.update(x_t, x, LINF.direction(momentum), eps_iter * self.scale,
                            eps * self.scale)
        return x_new, momentum, near_mean - grad, n_sat


class VarianceTuningMomentumIterativeMethod(MomentumIterativeMethod):
    """VMI-FGSM (see the module docstring).

    Args:
        network, eps, eps_iter, bounds, is_targeted, nb_iter, decay_factor, loss_fn: as
            :class:`MomentumIterativeMethod` (the gradient is normalised by its mean
            absolute value, as in the paper).
        N (int): neighbourhood samples per iteration, >= 1. Default 5.
        beta (float): neighbourhood radius as a multiple of eps, >= 0. Default 3/2.
        stable_loss, seed: as :class:`MomentumIterativeMethod`.
    """
    short_name = "VMI"
    _nesterov = False

    def __init__(self, network, eps=0.3, eps_iter=0.1, bounds=(0.0, 1.0), is_targeted=False,
                 nb_iter=5, decay_factor=1.0, N=5, beta=3 / 2, loss_fn=None, *,
                 stable_loss=True, seed=None):   # pylint: disable=invalid-name
        self._n_samples = check_count("N", N)
        self._beta = check_number("beta", beta, low=0.0, low_open=False)
        super().__init__(network, eps=eps, eps_iter=eps_iter, bounds=bounds,
                         is_targeted=is_targeted, nb_iter=nb_iter, decay_factor=decay_factor,
                         norm_level=1, loss_fn=loss_fn, stable_loss=stable_loss, seed=seed)
        self._step = _VarianceStep(self._loss_cell, self._is_targeted, self._bounds,
                                   self._decay, self._n_samples, self._beta, self._nesterov)

    @property
    def N(self):                     # pylint: disable=invalid-name
        """Neighbourhood samples per iteration."""
        return self._n_samples

    @property
    def beta(self):
        """Neighbourhood radius as a multiple of eps."""
        return self._beta

    def batch_generate(self, inputs, labels, batch_size=DEFAULT_BATCH_SIZE):
        """As :meth:`generate`, in batches (default: the automatic size divided by
        ``N + 1``, the rows each gradient call holds)."""
        if batch_size is None:
            shape = check_inputs(inputs, self._bounds).shape[1:]
            batch_size = auto_batch_size(shape, share=self._n_samples + 1)
        return super().batch_generate(inputs, labels, batch_size)

    def _attack_batch(self, x, y, valid, eps, eps_iter, first):
        """``nb_iter`` compiled steps on one padded batch; returns (x_adv, #saturated)."""
        eps_t = ms.Tensor(np.float32(eps))
        eps_iter_t = ms.Tensor(np.float32(eps_iter))
        momentum = ops.zeros_like(x)
        variance = ops.zeros_like(x)
        shape = (self._n_samples * x.shape[0],) + tuple(x.shape[1:])
        x_t = x
        n_sat = None
        for i in range(self._nb_iter):
            uniform = ms.Tensor(self._rng.random(shape, dtype=np.float32))
            args = (x_t, x, y, valid, eps_t, eps_iter_t, momentum, variance, uniform)
            if first and i == 0:
                x_t, momentum, variance, sat = self._first_call(args, tuple(x.shape))
            else:
                x_t, momentum, variance, sat = self._step(*args)
            n_sat = sat if i == 0 else n_sat
        return x_t, n_sat


class VarianceTuningNesterovIterativeMethod(VarianceTuningMomentumIterativeMethod):
    """VNI-FGSM (see the module docstring): VMI-FGSM with the gradient taken at the
    Nesterov look-ahead point ``x_t + decay * eps_iter * r * m_t``."""
    short_name = "VNI"
    _nesterov = True


__all__ = ["VarianceTuningMomentumIterativeMethod", "VarianceTuningNesterovIterativeMethod"]
